"""The files of a QG3 run folder: checkpoints with the settings that made them, the output in progress, leftovers.

A run folder holds (``docs/architecture.md``, "Runs"):

- ``checkpoint.npz`` — the state of every member in the natural layout, the step reached,
  how many snapshots are on disk, and the run's settings (JSON), written together
  atomically. A Dask run keeps one ``checkpoint_part{k}.npz`` per part while it runs.
- ``output.incomplete.nc`` — the output while the run is going: every snapshot of every
  member has its place in it from the start (:mod:`blocking.qg3.output`), each part
  writes its own members' snapshots into it, and the checkpoints say how many are
  written. When the run ends it is renamed ``output.nc``: nothing is copied or merged.
- leftovers of a killed run: the temporary ``.NAME.*.part*`` files of atomic writes,
  removed when a command starts again on the folder (:func:`remove_partial_files`).

A run started again on the folder resumes only under the settings stored in its
checkpoint (:func:`check_resume`); the one allowed change is a longer ``--years``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blocking.qg3.config import SimulationConfig
from blocking.qg3.gridded import InputError
from sparse_core.infra.errors import ConfigError
from sparse_core.infra.files import atomic_write, sha256_file

__all__ = [
    "CHECKPOINT_NAME",
    "Checkpoint",
    "OUTPUT_NAME",
    "Part",
    "WORKING_NAME",
    "check_resume",
    "load_checkpoint",
    "part_progress",
    "remove_partial_files",
    "remove_run_files",
    "run_settings",
    "save_checkpoint",
    "settings_differences",
    "split_members",
]

CHECKPOINT_NAME = "checkpoint.npz"
OUTPUT_NAME = "output.nc"
WORKING_NAME = "output.incomplete.nc"
"""The output while its run goes on; renamed :data:`OUTPUT_NAME` when the run ends."""
LEGACY_SNAPSHOTS = "snapshots"
"""Where an earlier version kept per-interval snapshot files (removed with the run's files)."""
FORMAT = 2
"""Checkpoint layout version (1: the state alone, without settings)."""
FIGURES = ("energy_enstrophy.png", "z500_mean_std.png")
_PARTIAL = re.compile(r"^\..+\.part(\.[A-Za-z0-9]+)?$")
_RESTART_HINT = "give --restart to start the run over (or another --out)"


@dataclass(frozen=True)
class Part:
    """The members one process advances, and the files it keeps.

    Attributes:
        members: the member numbers, ascending.
        index: the part's number, ``0 … count − 1``.
        count: the parts of the run (1 when every member runs in one process).
    """

    members: tuple[int, ...]
    index: int = 0
    count: int = 1

    @property
    def checkpoint_name(self) -> str:
        return CHECKPOINT_NAME if self.count == 1 else f"checkpoint_part{self.index}.npz"


def split_members(members: int, workers: int) -> list[Part]:
    """The parts of a run: all members in one part, or split as evenly as possible over ``workers``."""
    chunks = [chunk for chunk in np.array_split(np.arange(members), max(workers, 1)) if chunk.size]
    return [Part(tuple(int(m) for m in chunk), index, len(chunks)) for index, chunk in enumerate(chunks)]


def run_settings(config: SimulationConfig) -> dict:
    """The settings a checkpoint is stored with: the config's fields and the forcing file's sha256.

    Raises:
        InputError: the forcing file is missing or a folder.
    """
    settings = json.loads(json.dumps(dataclasses.asdict(config)))
    forcing = Path(config.forcing_file) if config.forcing_file else None
    if forcing is not None and not forcing.is_file():
        raise InputError(f"{forcing}: forcing file {'is a folder' if forcing.is_dir() else 'not found'}")
    settings["forcing_sha256"] = sha256_file(forcing) if forcing is not None else None
    return settings


def _option(name: str) -> str:
    fields = {f.name: f for f in dataclasses.fields(SimulationConfig)}
    if name == "forcing_sha256":
        return "--forcing (the file's contents)"
    cli = fields[name].metadata.get("cli") if name in fields else None
    return cli if isinstance(cli, str) else "--" + name.replace("_", "-")


def settings_differences(saved: dict, wanted: dict) -> list[tuple[str, str]]:
    """``(field, description)`` of each setting that differs (a longer ``years`` is allowed).

    The forcing file is compared by its contents (``forcing_sha256``), not by its path. A
    checkpoint written before presets existed was made with the default physics.
    """
    saved = {"preset": "default", **saved} if "preset" in wanted else saved
    differences = []
    for name in sorted(set(saved) | set(wanted)):
        if name == "forcing_file":
            continue
        old, new = saved.get(name), wanted.get(name)
        if name == "years" and isinstance(old, (int, float)) and isinstance(new, (int, float)) and new >= old:
            continue
        if old != new:
            note = " (a run can only be extended)" if name == "years" else ""
            if name == "forcing_sha256":
                old, new = (
                    saved.get("forcing_file") or "reference forcing",
                    wanted.get("forcing_file") or "reference forcing",
                )
                if old == new:
                    old, new = f"{old} as it was", f"{new} as it is now"
            differences.append((name, f"{_option(name)} {old} in the checkpoint, {new} now{note}"))
    return differences


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint of some members of a run.

    Attributes:
        state: q of each member, natural layout ``(members, 3, T + 1, T + 1)`` complex.
        step: time steps done (spin-up included).
        written: snapshots ``0 … written − 1`` of these members are on disk (in
            ``output.incomplete.nc`` while the run goes on, in ``output.nc`` once it ended).
        merged: snapshots ``0 … merged − 1`` are in ``output.nc`` (a finished run's; a run
            extended by a longer ``--years`` starts from them).
        members: the member numbers of ``state``.
        part, parts: which part of how many (0 of 1 for a run in one process).
        settings: :func:`run_settings` of the run that wrote it.
    """

    state: np.ndarray
    step: int
    written: int
    merged: int
    members: tuple[int, ...]
    part: int
    parts: int
    settings: dict


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write a checkpoint atomically: the state and the settings, together or not at all."""
    with atomic_write(path, "wb") as handle:
        np.savez(
            handle,
            format=np.int64(FORMAT),
            state=checkpoint.state,
            step=np.int64(checkpoint.step),
            written=np.int64(checkpoint.written),
            merged=np.int64(checkpoint.merged),
            members=np.asarray(checkpoint.members, dtype=np.int64),
            part=np.int64(checkpoint.part),
            parts=np.int64(checkpoint.parts),
            settings=np.array(json.dumps(checkpoint.settings)),
        )


def load_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint at ``path``; None when there is none.

    Raises:
        InputError: an unreadable or inconsistent checkpoint, or one written without its
            settings (by an older version).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            if "settings" not in saved.files:
                raise InputError(
                    f"{path}: a checkpoint written without its settings (an older version); {_RESTART_HINT}"
                )
            values = {name: saved[name] for name in saved.files}
        checkpoint = Checkpoint(
            state=values["state"],
            step=int(values["step"]),
            written=int(values["written"]),
            merged=int(values["merged"]),
            members=tuple(int(m) for m in values["members"]),
            part=int(values["part"]),
            parts=int(values["parts"]),
            settings=json.loads(str(values["settings"])),
        )
    except InputError:
        raise
    except (OSError, EOFError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: not a readable checkpoint ({error}); {_RESTART_HINT}") from None
    if (
        checkpoint.state.ndim != 4
        or checkpoint.state.shape[0] != len(checkpoint.members)
        or not np.iscomplexobj(checkpoint.state)
        or not np.isfinite(checkpoint.state).all()
        or not 0 <= checkpoint.merged <= checkpoint.written
        or checkpoint.step < 0
    ):
        raise InputError(
            f"{path}: an inconsistent checkpoint (state {checkpoint.state.shape}, "
            f"{len(checkpoint.members)} members); {_RESTART_HINT}"
        )
    return checkpoint


def part_progress(folder: Path, part: Part, settings: dict) -> Checkpoint | None:
    """Where ``part`` resumes: its own checkpoint, else its members' rows of the whole one (None: step 0).

    Raises:
        InputError: an unreadable checkpoint, or a whole checkpoint without the part's members.
    """
    folder = Path(folder)
    own = load_checkpoint(folder / part.checkpoint_name)
    whole = load_checkpoint(folder / CHECKPOINT_NAME) if part.count > 1 else None
    if whole is None or (own is not None and own.step > whole.step):
        return own
    missing = [m for m in part.members if m not in whole.members]
    if missing:
        raise InputError(f"{folder / CHECKPOINT_NAME}: holds no member {missing[0]}; {_RESTART_HINT}")
    rows = [whole.members.index(m) for m in part.members]
    return Checkpoint(
        whole.state[rows], whole.step, whole.written, whole.merged, part.members, part.index, part.count, settings
    )


def check_resume(folder: Path, settings: dict, parts: list[Part]) -> None:
    """Refuse to resume a folder's run under other settings or another split over workers.

    Part checkpoints no further than the folder's whole checkpoint (left by a run killed
    while merging) are removed.

    Raises:
        ConfigError: naming each differing setting (its option) and what to do.
        InputError: an unreadable checkpoint.
    """
    folder = Path(folder)
    whole = load_checkpoint(folder / CHECKPOINT_NAME)
    found = [(folder / CHECKPOINT_NAME, whole)] if whole is not None else []
    for path in sorted(folder.glob("checkpoint_part*.npz")):
        found.append((path, load_checkpoint(path)))
    layout = {part.checkpoint_name: part for part in parts}
    for path, checkpoint in found:
        differences = settings_differences(checkpoint.settings, settings)
        if differences:
            listed = "; ".join(text for _, text in differences)
            raise ConfigError(
                f"{folder}: the run here was made with other settings ({listed}); rerun with the "
                f"checkpoint's settings (only --years may grow), or {_RESTART_HINT}",
                field={"forcing_sha256": "forcing_file"}.get(differences[0][0], differences[0][0]),
            )
        if path.name == CHECKPOINT_NAME and checkpoint.parts == 1:
            continue
        if whole is not None and path.name != CHECKPOINT_NAME and checkpoint.step <= whole.step:
            path.unlink(missing_ok=True)  # a part already merged into the whole checkpoint
            continue
        part = layout.get(path.name)
        if part is None or part.members != checkpoint.members or part.count != checkpoint.parts:
            raise ConfigError(
                f"{folder}: an interrupted run with its members split over {checkpoint.parts} "
                f"Dask workers left {path.name} here; resume it with --workers {checkpoint.parts}, "
                f"or {_RESTART_HINT}",
                field="workers",
            )


def remove_partial_files(folder: Path) -> list[Path]:
    """Remove the temporary files of atomic writes (``.NAME.*.part``) that a killed run left in ``folder``.

    Returns:
        The files removed (the snapshot folder included).
    """
    folder = Path(folder)
    removed = []
    for where in (folder, folder / LEGACY_SNAPSHOTS):
        if not where.is_dir():
            continue
        for path in where.iterdir():
            if path.is_file() and _PARTIAL.match(path.name):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def remove_run_files(folder: Path) -> None:
    """Remove what a simulation keeps in ``folder`` (``--restart``): checkpoints, output (finished or not), figures."""
    folder = Path(folder)
    for path in (
        folder / CHECKPOINT_NAME,
        *folder.glob("checkpoint_part*.npz"),
        folder / OUTPUT_NAME,
        folder / WORKING_NAME,
        *folder.glob("output_part*.nc"),
        *(folder / name for name in FIGURES),
    ):
        path.unlink(missing_ok=True)
    shutil.rmtree(folder / LEGACY_SNAPSHOTS, ignore_errors=True)
