"""Simulation driver: batched members, daily snapshots, atomic checkpoints, Dask members.

A run advances ``members`` copies of the model in one array, in the packed layout of the
fast kernel (:mod:`blocking.qg3.fast`; members in cache-sized chunks). Its output file is
made at the start with a place for every snapshot of every member
(``output.incomplete.nc``, :mod:`blocking.qg3.output`); the snapshots go into it as they
are computed, and every ``checkpoint_every_days`` the file is flushed and the state, the
step counter and the run's settings are written atomically into the checkpoint
(:mod:`blocking.qg3.runfiles`; the state in the natural layout, which packs back
exactly). At the end the file is renamed ``output.nc``: a kill at any moment leaves every
file either complete or absent, and nothing is ever merged. With ``workers`` the members
are split into parts, one per Dask worker (a local cluster or the one at ``scheduler``):
each part writes its own members' snapshots into the same file and keeps its own
checkpoint; the reference inputs are read once, here, and handed to the workers. No
random-number state is needed: random numbers are drawn only for each member's initial
perturbation, from ``default_rng([seed, member])``. A run started again on the same
folder resumes from the checkpoint (refused under other settings, except a longer
``--years``, unless ``restart``), so its output is identical, bit for bit, to an
uninterrupted run, and so is a run's output whatever the number of workers. A state that
stops being finite ends the run with a :class:`SimulationDiverged` error naming the model
day.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from blocking.qg3.config import DAYS_PER_YEAR, SECONDS_PER_DAY, SimulateConfig, SimulationConfig
from blocking.qg3.diagnostics import energy, enstrophy
from blocking.qg3.inputs import load_t63_inputs, read_forcing_file
from blocking.qg3.model import LEVELS_HPA, QG3Model
from blocking.qg3.output import GRAVITY, REFERENCE_F0, OutputWriter, copy_snapshots, create_output, snapshot_count
from blocking.qg3.runfiles import (
    CHECKPOINT_NAME,
    LEGACY_SNAPSHOTS,
    OUTPUT_NAME,
    WORKING_NAME,
    Checkpoint,
    Part,
    check_resume,
    load_checkpoint,
    part_progress,
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
    "model_inputs",
    "run_simulate",
    "simulate",
    "simulate_members",
]

log = logging.getLogger(__name__)


class SimulationDiverged(ConfigError):
    """The model state stopped being finite: the settings (time step, scheme, forcing) cannot run."""

    def __reduce__(self):  # raised in a Dask worker, it reaches the caller with its field
        return type(self), (str(self), self.field)


class _Stopped(Exception):
    """Raised between two steps to stop a run as a kill would (tests)."""


def model_inputs(config: SimulationConfig) -> dict[str, np.ndarray]:
    """The model's input fields on its grid: the reference ones, the forcing from ``config.forcing_file`` if given.

    Returns:
        ``orography``, ``land_sea_mask`` ``(nlat, nlon)``; ``forcing``, ``initial_q`` ``(3, nlat, nlon)``.

    Raises:
        InputError: a forcing file that is missing or malformed (read before the reference inputs).
    """
    from blocking.qg3.grid import gaussian_grid

    grid = gaussian_grid(config.model_config().nlat)
    forcing = read_forcing_file(Path(config.forcing_file), grid) if config.forcing_file else None
    inputs = load_t63_inputs(grid, periodic_longitude=True)
    if forcing is not None:
        inputs["forcing"] = forcing
    return inputs


def build_model(config: SimulationConfig, inputs: dict[str, np.ndarray] | None = None) -> tuple[QG3Model, np.ndarray]:
    """The model and q₀ (grid) on ``inputs`` (default: :func:`model_inputs` of ``config``).

    Raises:
        InputError: a forcing file that is missing or malformed (read before the reference inputs).
    """
    inputs = model_inputs(config) if inputs is None else inputs
    model = QG3Model(config.model_config(), inputs["orography"], inputs["land_sea_mask"], inputs["forcing"])
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


def snapshot_times(config: SimulationConfig) -> np.ndarray:
    """The time of each snapshot of a run, days after the spin-up (as the run computes them, bit for bit)."""
    spinup, every, total = (
        config.steps(config.spinup_days),
        config.steps(config.output_every_days),
        _total_steps(config),
    )
    return np.array(
        [(index * every) * config.dt_seconds / SECONDS_PER_DAY for index in range((total - spinup) // every + 1)]
    )


def _total_steps(config: SimulationConfig) -> int:
    return config.steps(config.spinup_days + config.years * DAYS_PER_YEAR)


def _prepare_output(config: SimulationConfig, folder: Path, parts: list[Part], resume: list[Checkpoint | None]) -> None:
    """Make ``output.incomplete.nc`` ready for the parts (resuming from ``resume``; None: step 0) to write into.

    The file of a run going on is kept. Else a new one is made: empty for a new run, or
    holding the snapshots already written (copied from the shorter file of a run extended
    by a longer ``--years``: the only copy a run ever makes).

    Raises:
        InputError: snapshots the checkpoints count as written are not on disk.
    """
    times = snapshot_times(config)
    counts = {m: p.written for part, p in zip(parts, resume) if p is not None and p.written for m in part.members}
    working, output = folder / WORKING_NAME, folder / OUTPUT_NAME
    everyone = list(range(config.members))
    source = None
    for path in (working, output) if counts else ():
        if path.exists():
            size, members = snapshot_count(path)
            if path == working and size == len(times) and list(members) == everyone:
                return  # a run going on: resume into its file
            if size >= max(counts.values()) and list(members) == everyone:
                source = path
                break
    if counts and source is None:
        raise InputError(
            f"{folder}: the checkpoints count {max(counts.values())} snapshots as written, but neither "
            f"{WORKING_NAME} nor {OUTPUT_NAME} holds them for members 0…{config.members - 1}; "
            "give --restart to start the run over"
        )
    from blocking.qg3.grid import gaussian_grid

    attributes = dict(source="blocking.qg3", simulation_config=json.dumps(asdict(config)))
    with atomic_path(working) as temporary:
        create_output(
            temporary, gaussian_grid(config.model_config().nlat), range(config.members), LEVELS_HPA, times, attributes
        )
        if source is not None:
            with OutputWriter(temporary, range(config.members)) as writer:
                copy_snapshots(source, writer, counts)
                writer.sync()


def simulate_members(
    config: SimulationConfig,
    part: Part,
    folder: Path,
    progress: bool = False,
    stop_after_steps: int | None = None,
    settings: dict | None = None,
    inputs: dict[str, np.ndarray] | None = None,
) -> dict:
    """Advance one part's members to the end of the run, resuming from its checkpoint when there is one.

    The snapshots go into the run's ``output.incomplete.nc`` (made here when it is missing;
    :func:`simulate` makes it before the parts start); at the end of each checkpoint
    interval the file is flushed, then the part's checkpoint written.

    Args:
        part: the members, and which part of the run they are (their checkpoint's name).
        folder: the run folder.
        stop_after_steps: stop (as if killed) after this many steps of this call — for tests.
        settings: :func:`~blocking.qg3.runfiles.run_settings` of ``config`` (computed if None).
        inputs: :func:`model_inputs` of ``config`` (read here if None).

    Returns:
        dict with ``steps`` (done by this call), ``wall_seconds``, ``cpu_seconds`` (this
        process), ``setup_seconds`` (before the first step), ``completed``, ``part``.

    Raises:
        SimulationDiverged: the state stopped being finite (naming the model day).
    """
    from tqdm.auto import tqdm

    started, cpu = time.perf_counter(), time.process_time()
    folder = Path(folder)
    settings = settings if settings is not None else run_settings(config)
    model, initial_q = build_model(config, inputs)
    start = part_progress(folder, part, settings)
    if not (folder / WORKING_NAME).exists():
        _prepare_output(config, folder, [part], [start])
    if start is None:
        natural = initial_state(model, initial_q, part.members, config.seed, config.perturbation)
        start = Checkpoint(natural, 0, 0, 0, part.members, part.index, part.count, settings)
    run = _PartRun(config, part, model, start)
    total, checkpoint_every = run.total, config.steps(config.checkpoint_every_days)
    setup = time.perf_counter() - started
    bar = tqdm(total=total, initial=run.current, disable=not progress, desc="qg3", unit="step")
    completed = True
    try:
        with OutputWriter(folder / WORKING_NAME, part.members) as writer, np.errstate(over="ignore", invalid="ignore"):
            while run.current < total:  # a blow-up is reported once, as SimulationDiverged
                run.interval(
                    writer, min(total, (run.current // checkpoint_every + 1) * checkpoint_every), bar, stop_after_steps
                )
                writer.sync()
                save_checkpoint(folder / part.checkpoint_name, run.checkpoint(settings))
    except _Stopped:
        completed = False
    finally:
        bar.close()
    if completed and not (folder / part.checkpoint_name).exists():  # resumed from the whole checkpoint, nothing to do
        save_checkpoint(folder / part.checkpoint_name, run.checkpoint(settings))
    return dict(
        part=part.index,
        members=len(part.members),
        steps=run.done,
        wall_seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu,
        setup_seconds=setup,
        completed=completed,
    )


class _PartRun:
    """The members of one part as they advance: packed state, step reached, snapshots written."""

    def __init__(self, config: SimulationConfig, part: Part, model: QG3Model, start: Checkpoint):
        self.config, self.part, self.model, self.start = config, part, model, start
        self.members = np.asarray(part.members)
        self.state = model.fast.pack(start.state)  # the packed layout of the fast kernel; exact round trip
        self.current, self.written, self.done = start.step, start.written, 0
        self.spinup = config.steps(config.spinup_days)
        self.total = _total_steps(config)
        self.every = config.steps(config.output_every_days)
        self.step = step_function(config.scheme)

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

    def interval(self, writer: OutputWriter, stop: int, bar, stop_after_steps: int | None) -> None:
        """Advance to step ``stop``, writing the interval's snapshots."""
        if self.current == 0 and self.spinup == 0 and self.written == 0:
            writer.write(0, _snapshot(self.model, self.start.state))
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
                index = (self.current - self.spinup) // self.every
                fields = _snapshot(self.model, self.natural())
                self._check(np.isfinite(np.asarray(fields["psi"], dtype=np.float32)))  # also within float32's range
                writer.write(index, fields)
                self.written = index + 1

    def _check(self, finite: np.ndarray) -> None:
        """Stop with :class:`SimulationDiverged` unless every member's values are finite."""
        per_member = finite.reshape(len(self.members), -1).all(axis=1)
        if not per_member.all():
            raise _diverged(self.config, self.current, self.members[~per_member])


def _finish(config: SimulationConfig, folder: Path, parts: list[Part], settings: dict) -> None:
    """Rename ``output.incomplete.nc`` to ``output.nc``, write the whole checkpoint, remove the parts' checkpoints."""
    checkpoints = [load_checkpoint(folder / part.checkpoint_name) for part in parts]
    ends = {(c.step, c.written) for c in checkpoints}
    if len(ends) != 1:
        raise InputError(
            f"{folder}: the parts' checkpoints do not end together ({sorted(ends)}); "
            "give --restart to start the run over"
        )
    step, written = ends.pop()
    working, output = folder / WORKING_NAME, folder / OUTPUT_NAME
    if working.exists():
        if snapshot_count(working)[0] != written:
            raise InputError(
                f"{working}: holds {snapshot_count(working)[0]} snapshots, the checkpoints {written}; "
                "give --restart to start the run over"
            )
        os.replace(working, output)
        _fsync_folder(folder)
    else:  # finished before (or killed between the rename and the whole checkpoint)
        size, stored = snapshot_count(output) if output.exists() else (0, np.array([]))
        if size != written or list(stored) != list(range(config.members)):
            raise InputError(
                f"{output}: holds {size} snapshots of members {list(stored)[:4]}…, the checkpoint counts "
                f"{written} of {config.members} members; give --restart to start the run over"
            )
    state = np.concatenate([c.state[[c.members.index(m) for m in part.members]] for c, part in zip(checkpoints, parts)])
    save_checkpoint(
        folder / CHECKPOINT_NAME,
        Checkpoint(state, step, written, written, tuple(range(config.members)), 0, 1, settings),
    )
    for part in parts:
        if part.count > 1:
            (folder / part.checkpoint_name).unlink(missing_ok=True)
    legacy = folder / LEGACY_SNAPSHOTS
    if legacy.is_dir():
        for path in legacy.iterdir():
            path.unlink(missing_ok=True)
        legacy.rmdir()


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse to sync a folder
        pass
    finally:
        os.close(descriptor)


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
            (a local cluster, or the cluster at ``scheduler``: its workers must see
            ``folder``), each writing its members into the one output file and keeping
            its own checkpoint.
        restart: remove the folder's run (checkpoints, output, figures) and start over,
            whatever its settings.

    Returns:
        Metrics: ``model_years``, ``member_years_per_wall_minute``, ``finite``, ``wall_seconds``.
        Each part's wall, CPU and set-up seconds are logged (INFO).

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
    resume = [part_progress(folder, part, settings) for part in parts]
    if any(point is None or point.step < _total_steps(config) for point in resume):
        inputs = model_inputs(config)  # read once: the workers get the fields, not the files
        _prepare_output(config, folder, parts, resume)
        if workers <= 0 and scheduler is None:
            results = [simulate_members(config, parts[0], folder, progress, settings=settings, inputs=inputs)]
        else:
            results = _simulate_dask(config, folder, parts, scheduler, settings, inputs)
        for result in results:
            log.info(
                "part %d of %d (%d members): %d steps in %.1f s (%.1f s CPU, %.1f s before the first step)",
                result["part"],
                len(parts),
                result["members"],
                result["steps"],
                result["wall_seconds"],
                result["cpu_seconds"],
                result["setup_seconds"],
            )
    finishing = time.perf_counter()
    _finish(config, folder, parts, settings)
    wall = time.perf_counter() - started
    log.info("output finished in %.3f s (renamed; nothing merged)", time.perf_counter() - finishing)
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
    config: SimulationConfig,
    folder: Path,
    parts: list[Part],
    scheduler: str | None,
    settings: dict,
    inputs: dict[str, np.ndarray],
) -> list[dict]:
    """Run each part as one task on a Dask cluster (a local one, one single-threaded process per part)."""
    import dask
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        # Dask starts its worker processes with one BLAS / OpenMP thread, and with
        # MALLOC_TRIM_THRESHOLD_ set, which turns off glibc's adaptive mmap threshold: every
        # array of a step is then a fresh mmap (thousands of page faults a step). Left unset.
        # The worker's statistical profiler samples the task thread's stack every 10 ms and
        # takes the GIL from it each time: off (a member cost ~20% more CPU in a worker).
        lean = {
            "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
            "distributed.worker.profile.enabled": False,
            "distributed.admin.system-monitor.gil.enabled": False,
        }
        with dask.config.set(lean):
            cluster = LocalCluster(n_workers=len(parts), threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(scheduler or cluster)
    try:
        futures = [
            client.submit(simulate_members, config, part, folder, settings=settings, inputs=inputs, pure=False)
            for part in parts
        ]
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
