"""Simulation driver: batched members, daily snapshots, atomic checkpoints, Dask members.

A run advances ``members`` copies of the model in one array, in the packed layout of the
fast kernel (:mod:`blocking.qg3.fast`; members in cache-sized chunks). Every
``checkpoint_days`` the snapshots of the interval are closed into a snapshot file and the
state, the step counter and the run's settings are written atomically into the checkpoint
(:mod:`blocking.qg3.runfiles`; the state in the natural layout, which packs back exactly);
at the end the snapshots are merged into ``output.nc`` (atomically too: a kill at any
moment leaves every file either complete or absent). No random-number state is needed:
random numbers are drawn only for each member's initial perturbation, from
``default_rng([seed, member])``. A run started again on the same folder resumes from the
checkpoint (refused under other settings, except a longer ``--years``, unless
``restart``), so its output is identical, bit for bit, to an uninterrupted run. A state
that stops being finite ends the run with a :class:`SimulationDiverged` error naming the
model day.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from blocking.qg3.config import DAYS_PER_YEAR, SECONDS_PER_DAY, SimulateConfig, SimulationConfig
from blocking.qg3.diagnostics import energy, enstrophy
from blocking.qg3.inputs import load_t63_inputs, read_forcing_file
from blocking.qg3.model import LEVELS_HPA, QG3Model
from blocking.qg3.output import GRAVITY, REFERENCE_F0, OutputWriter, merge_output, snapshot_count
from blocking.qg3.runfiles import (
    CHECKPOINT_NAME,
    SNAPSHOTS_FOLDER,
    Checkpoint,
    Part,
    check_resume,
    load_checkpoint,
    remove_partial_files,
    remove_run_files,
    run_settings,
    save_checkpoint,
    split_members,
)
from blocking.qg3.stepping import step_function
from sparse_core.infra.errors import ConfigError, InputError
from sparse_core.infra.files import atomic_path

__all__ = [
    "SimulateConfig",
    "SimulationConfig",
    "SimulationDiverged",
    "build_model",
    "initial_state",
    "run_simulate",
    "simulate",
    "simulate_members",
]

log = logging.getLogger(__name__)
OUTPUT_NAME = "output.nc"


class SimulationDiverged(ConfigError):
    """The model state stopped being finite: the settings (time step, scheme, forcing) cannot run."""


class _Stopped(Exception):
    """Raised inside a snapshot file's write to stop a run as a kill would (tests)."""


def build_model(config: SimulationConfig) -> tuple[QG3Model, np.ndarray]:
    """The model on the reference inputs (forcing from ``config.forcing_file`` if given) and q₀ (grid).

    Raises:
        InputError: a forcing file that is missing or malformed (read before the reference inputs).
    """
    model_config = config.model_config()
    from blocking.qg3.grid import gaussian_grid

    grid = gaussian_grid(model_config.nlat)
    forcing = read_forcing_file(Path(config.forcing_file), grid) if config.forcing_file else None
    inputs = load_t63_inputs(grid, periodic_longitude=True)
    model = QG3Model(
        model_config, inputs["orography"], inputs["land_sea_mask"], inputs["forcing"] if forcing is None else forcing
    )
    return model, inputs["initial_q"]


def initial_state(model: QG3Model, initial_q: np.ndarray, members, seed: int, perturbation: float) -> np.ndarray:
    """q₀ of each member: the reference initial PV plus a member's own random perturbation of q − f(1+h/H0)."""
    spec = model.transform.to_spectral(initial_q)
    relative = spec - model.spec_planetary
    states = []
    for member in members:
        rng = np.random.default_rng([seed, int(member)])
        noise = rng.standard_normal(spec.shape) + 1j * rng.standard_normal(spec.shape)
        noise *= np.tril(np.ones(spec.shape[-2:]))
        noise[..., 0].imag = 0.0
        states.append(spec + perturbation * np.abs(relative).mean() * noise)
    return np.stack(states).astype(model.transform.complex_dtype)


def _snapshot(model: QG3Model, spec_q: np.ndarray) -> dict[str, np.ndarray]:
    spec_psi = model.streamfunction(spec_q)
    psi = model.transform.to_grid(spec_psi)
    return dict(
        psi=psi,
        q=model.transform.to_grid(spec_q),
        z500=REFERENCE_F0 * psi[:, 1] / GRAVITY,
        energy=energy(model, spec_psi),
        enstrophy=enstrophy(model, spec_q),
    )


def _diverged(config: SimulationConfig, step: int, members: np.ndarray) -> SimulationDiverged:
    spinup = config.steps(config.spinup_days)
    day = step * config.dt_seconds / SECONDS_PER_DAY
    if not spinup:
        when = f"model day {day:g} (step {step})"
    elif step <= spinup:
        when = f"model day {day:g} (step {step}, in the {config.spinup_days:g}-day spin-up)"
    else:
        when = f"model day {day:g} (step {step}; day {day - config.spinup_days:g} after the spin-up)"
    listed = ", ".join(str(m) for m in members[:8]) + (", …" if len(members) > 8 else "")
    return SimulationDiverged(
        f"the simulation became non-finite at {when}, member(s) {listed}: try a smaller --dt "
        f"(e.g. {config.dt_seconds / 2:g}; add --restart to reuse this run folder), --scheme rk4, or another "
        "--forcing",
        field="dt_seconds",
    )


def _starting_point(
    config: SimulationConfig, part: Part, folder: Path, model: QG3Model, initial_q: np.ndarray, settings: dict
) -> Checkpoint:
    """The part's own checkpoint, else its members of the folder's whole checkpoint, else step 0."""
    own = load_checkpoint(folder / part.checkpoint_name)
    whole = load_checkpoint(folder / CHECKPOINT_NAME) if part.count > 1 else None
    if whole is not None and (own is None or own.step <= whole.step):
        rows = [whole.members.index(m) for m in part.members]
        return Checkpoint(
            whole.state[rows], whole.step, whole.written, whole.merged, part.members, part.index, part.count, settings
        )
    if own is not None:
        return own
    for stale in (folder / SNAPSHOTS_FOLDER).glob(part.snapshot_pattern):
        stale.unlink(missing_ok=True)  # left by an earlier run whose checkpoint is gone
    natural = initial_state(model, initial_q, part.members, config.seed, config.perturbation)
    return Checkpoint(natural, 0, 0, 0, part.members, part.index, part.count, settings)


def simulate_members(
    config: SimulationConfig,
    part: Part,
    folder: Path,
    progress: bool = False,
    stop_after_steps: int | None = None,
    settings: dict | None = None,
) -> dict:
    """Advance one part's members to the end of the run, resuming from its checkpoint when there is one.

    Each checkpoint interval's snapshots go into one snapshot file (written atomically),
    then the checkpoint; the caller merges the snapshot files into ``output.nc``.

    Args:
        part: the members, and which part of the run they are (their files' names).
        folder: the run folder.
        stop_after_steps: stop (as if killed) after this many steps of this call — for tests.
        settings: :func:`~blocking.qg3.runfiles.run_settings` of ``config`` (computed if None).

    Returns:
        dict with ``steps`` (done by this call), ``wall_seconds``, ``completed``.

    Raises:
        SimulationDiverged: the state stopped being finite (naming the model day).
    """
    from tqdm.auto import tqdm

    folder = Path(folder)
    settings = settings if settings is not None else run_settings(config)
    model, initial_q = build_model(config)
    run = _PartRun(config, part, folder, model, _starting_point(config, part, folder, model, initial_q, settings))
    total, checkpoint_every = run.total, config.steps(config.checkpoint_every_days)
    started = time.perf_counter()
    bar = tqdm(total=total, initial=run.current, disable=not progress, desc="qg3", unit="step")
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported once, as SimulationDiverged
            while run.current < total:
                run.interval(
                    min(total, (run.current // checkpoint_every + 1) * checkpoint_every), bar, stop_after_steps
                )
                save_checkpoint(folder / part.checkpoint_name, run.checkpoint(settings))
    except _Stopped:
        return dict(steps=run.done, wall_seconds=time.perf_counter() - started, completed=False)
    finally:
        bar.close()
    if not (folder / part.checkpoint_name).exists():  # resumed from the whole checkpoint with nothing to do
        save_checkpoint(folder / part.checkpoint_name, run.checkpoint(settings))
    return dict(steps=run.done, wall_seconds=time.perf_counter() - started, completed=True)


class _PartRun:
    """The members of one part as they advance: packed state, step reached, snapshots written."""

    def __init__(self, config: SimulationConfig, part: Part, folder: Path, model: QG3Model, start: Checkpoint):
        self.config, self.part, self.folder, self.model, self.start = config, part, folder, model, start
        self.members = np.asarray(part.members)
        self.state = model.fast.pack(start.state)  # the packed layout of the fast kernel; exact round trip
        self.current, self.written, self.done = start.step, start.written, 0
        self.spinup = config.steps(config.spinup_days)
        self.total = config.steps(config.spinup_days + config.years * DAYS_PER_YEAR)
        self.every = config.steps(config.output_every_days)
        self.step = step_function(config.scheme)
        self.attributes = dict(source="blocking.qg3", simulation_config=json.dumps(asdict(config)))

    def natural(self) -> np.ndarray:
        return self.model.fast.unpack(self.state, len(self.members))

    def checkpoint(self, settings: dict) -> Checkpoint:
        return Checkpoint(
            self.natural(),
            self.current,
            self.written,
            self.start.merged,
            self.part.members,
            self.part.index,
            self.part.count,
            settings,
        )

    def is_snapshot(self, step: int) -> bool:
        return step >= self.spinup and (step - self.spinup) % self.every == 0

    def interval(self, stop: int, bar, stop_after_steps: int | None) -> None:
        """Advance to step ``stop``, the interval's snapshots going into one snapshot file (atomically)."""
        initial = self.current == 0 and self.spinup == 0 and self.written == 0
        keep = initial or any(self.is_snapshot(s) for s in range(self.current + 1, stop + 1))
        first = self.written
        path = self.folder / SNAPSHOTS_FOLDER / self.part.snapshot_name(first)
        with atomic_path(path) if keep else contextlib.nullcontext() as temporary:
            writer = (
                OutputWriter(
                    temporary,
                    self.model.transform.grid,
                    self.members,
                    LEVELS_HPA,
                    attributes=self.attributes,
                    first_index=first,
                )
                if keep
                else None
            )
            try:
                if initial:
                    writer.write(0, 0.0, _snapshot(self.model, self.start.state))
                    self.written = 1
                while self.current < stop:
                    if stop_after_steps is not None and self.done >= stop_after_steps:
                        raise _Stopped
                    self.state = self.step(self.model.fast, self.state, self.config.dt_seconds)
                    self.current += 1
                    self.done += 1
                    bar.update(1)
                    if not np.isfinite(self.state).all():
                        self._check(np.isfinite(self.natural()))
                    if self.is_snapshot(self.current):
                        self._write(writer)
            finally:
                if writer is not None:
                    writer.close()

    def _write(self, writer: OutputWriter) -> None:
        index = (self.current - self.spinup) // self.every
        fields = _snapshot(self.model, self.natural())
        self._check(np.isfinite(np.asarray(fields["psi"], dtype=np.float32)))  # also within float32's range
        writer.write(index, (self.current - self.spinup) * self.config.dt_seconds / SECONDS_PER_DAY, fields)
        self.written = index + 1

    def _check(self, finite: np.ndarray) -> None:
        """Stop with :class:`SimulationDiverged` unless every member's values are finite."""
        per_member = finite.reshape(len(self.members), -1).all(axis=1)
        if not per_member.all():
            raise _diverged(self.config, self.current, self.members[~per_member])


def _snapshot_files(folder: Path, part: Part, merged: int, written: int) -> list[Path]:
    """The part's snapshot files holding snapshots ``merged … written − 1``, in order.

    Raises:
        InputError: a snapshot file is missing (the folder was changed by hand).
    """
    from blocking.qg3.output import snapshot_count

    files, index = [], merged
    while index < written:
        path = folder / SNAPSHOTS_FOLDER / part.snapshot_name(index)
        if not path.exists():
            raise InputError(
                f"{path}: snapshot file missing (the checkpoint says {written} snapshots are on disk); "
                "give --restart to start the run over"
            )
        size, _ = snapshot_count(path)
        if size <= 0:
            raise InputError(f"{path}: a snapshot file without snapshots; give --restart to start the run over")
        files.append(path)
        index += size
    return files


def _merge(config: SimulationConfig, folder: Path, parts: list[Part], settings: dict) -> None:
    """Merge the parts' snapshot files into ``output.nc``, write the whole checkpoint, remove the part files."""
    checkpoints = [load_checkpoint(folder / part.checkpoint_name) for part in parts]
    ends = {(c.step, c.written, c.merged) for c in checkpoints}
    if len(ends) != 1:
        raise InputError(
            f"{folder}: the parts' checkpoints do not end together ({sorted(ends)}); "
            "give --restart to start the run over"
        )
    step, written, merged = ends.pop()
    output = folder / OUTPUT_NAME
    if merged:
        size, stored = snapshot_count(output) if output.exists() else (0, np.array([]))
        if size < merged or list(stored) != list(range(config.members)):
            raise InputError(
                f"{output}: holds {size} snapshots of members {list(stored)[:4]}…, the checkpoint "
                f"builds on {merged} of {config.members} members; give --restart to start the run over"
            )
    if written > merged or not output.exists():
        from blocking.qg3.grid import gaussian_grid

        sources = [
            (slice(part.members[0], part.members[-1] + 1), _snapshot_files(folder, part, merged, written))
            for part in parts
        ]
        attributes = dict(source="blocking.qg3", simulation_config=json.dumps(asdict(config)))
        merge_output(
            output,
            gaussian_grid(config.model_config().nlat),
            np.arange(config.members),
            LEVELS_HPA,
            attributes,
            merged,
            sources,
        )
    state = np.concatenate([c.state[[c.members.index(m) for m in part.members]] for c, part in zip(checkpoints, parts)])
    save_checkpoint(
        folder / CHECKPOINT_NAME,
        Checkpoint(state, step, written, written, tuple(range(config.members)), 0, 1, settings),
    )
    for part in parts:
        if part.count > 1:
            (folder / part.checkpoint_name).unlink(missing_ok=True)
    snapshots = folder / SNAPSHOTS_FOLDER
    if snapshots.is_dir():
        for path in snapshots.iterdir():
            path.unlink(missing_ok=True)
        snapshots.rmdir()


def simulate(
    config: SimulationConfig,
    folder: Path,
    progress: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    restart: bool = False,
) -> dict:
    """Run a simulation into ``folder/output.nc``, resuming the folder's run if it has one.

    Args:
        workers: 0 runs all members in this process; N > 0 splits them over N Dask workers
            (a local cluster, or the cluster at ``scheduler``), each keeping its own
            checkpoint and snapshot files, merged along ``member`` at the end.
        restart: remove the folder's run (checkpoints, snapshots, output, figures) and
            start over, whatever its settings.

    Returns:
        Metrics: ``model_years``, ``member_years_per_wall_minute``, ``finite``, ``wall_seconds``.

    Raises:
        ConfigError: the folder holds a run made with other settings (naming them), or one
            interrupted with another number of workers.
        SimulationDiverged: the state stopped being finite (naming the model day).
        InputError: a forcing file or a checkpoint that cannot be read.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_partial_files(folder)
    if restart:
        remove_run_files(folder)
    settings = run_settings(config)
    parts = split_members(config.members, workers if workers > 0 or scheduler is None else 1)
    check_resume(folder, settings, parts)
    started = time.perf_counter()
    if workers <= 0 and scheduler is None:
        simulate_members(config, parts[0], folder, progress, settings=settings)
    else:
        _simulate_dask(config, folder, parts, scheduler, settings)
    _merge(config, folder, parts, settings)
    wall = time.perf_counter() - started
    member_years = config.members * config.years
    return dict(
        model_years=config.years,
        member_years=member_years,
        members=config.members,
        member_years_per_wall_minute=member_years / (wall / 60.0),
        finite=True,
        wall_seconds=wall,
        output=str(folder / OUTPUT_NAME),
    )


def run_simulate(config: SimulateConfig, folder: Path, progress: bool = False) -> dict:
    """``blocking simulate``: the simulation into ``folder/output.nc``, then (with ``config.figures``) its figures.

    Returns:
        The metrics of :func:`simulate`, with the files named relative to ``folder``
        (``output``; with figures, ``energy_enstrophy``, ``z500_mean_std``) and, with
        figures, ``energy_drift`` (:func:`blocking.qg3.figures.plot_run`).
    """
    folder = Path(folder)
    metrics = simulate(
        config.simulation,
        folder,
        progress=progress,
        workers=config.workers,
        scheduler=config.scheduler,
        restart=config.restart,
    )
    metrics["output"] = OUTPUT_NAME
    if config.figures:
        from blocking.qg3.figures import plot_run

        figures = plot_run(folder / OUTPUT_NAME, folder, config.simulation.spinup_days)
        metrics["energy_drift"] = figures.pop("energy_drift")
        metrics.update({name: Path(path).name for name, path in figures.items()})
    return metrics


def _simulate_dask(
    config: SimulationConfig, folder: Path, parts: list[Part], scheduler: str | None, settings: dict
) -> None:
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=len(parts), threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(scheduler or cluster)
    try:
        futures = [
            client.submit(simulate_members, config, part, folder, settings=settings, pure=False) for part in parts
        ]
        client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
