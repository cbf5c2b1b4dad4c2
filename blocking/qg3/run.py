"""Simulation driver: batched members, daily snapshots, atomic checkpoints, Dask members.

A run advances ``members`` copies of the model in one array, in the packed layout of the
fast kernel (:mod:`blocking.qg3.fast`; members in cache-sized chunks). Every ``checkpoint_days``
the state and the step counter are written atomically (`sparse_core.infra.files.atomic_write`; the
state in the natural layout, which packs back exactly) after the output file is synced. No
random-number state is needed: random numbers are drawn only for each member's initial
perturbation, from ``default_rng([seed, member])``. A run started again on the same folder
resumes from the checkpoint and rewrites the snapshots after it, so its output is
identical, bit for bit, to an uninterrupted run.
"""

from __future__ import annotations

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
from blocking.qg3.output import GRAVITY, REFERENCE_F0, OutputWriter
from blocking.qg3.stepping import step_function
from sparse_core.infra.files import atomic_write

__all__ = ["SimulateConfig", "SimulationConfig", "build_model", "initial_state", "run_simulate", "simulate",
           "simulate_members"]

log = logging.getLogger(__name__)
OUTPUT_NAME = "output.nc"


def build_model(config: SimulationConfig) -> tuple[QG3Model, np.ndarray]:
    """The model on the reference inputs (forcing from ``config.forcing_file`` if given) and q₀ (grid)."""
    model_config = config.model_config()
    from blocking.qg3.grid import gaussian_grid

    grid = gaussian_grid(model_config.nlat)
    inputs = load_t63_inputs(grid, periodic_longitude=True)
    forcing = inputs["forcing"]
    if config.forcing_file:
        forcing = read_forcing_file(Path(config.forcing_file), grid)
    model = QG3Model(model_config, inputs["orography"], inputs["land_sea_mask"], forcing)
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
    return dict(psi=psi, q=model.transform.to_grid(spec_q), z500=REFERENCE_F0 * psi[:, 1] / GRAVITY,
                energy=energy(model, spec_psi), enstrophy=enstrophy(model, spec_q))


def _save_checkpoint(path: Path, state: np.ndarray, step: int, written: int) -> None:
    with atomic_write(path, "wb") as handle:
        np.savez(handle, state=state, step=np.int64(step), written=np.int64(written))


def simulate_members(config: SimulationConfig, members, output: Path, checkpoint: Path,
                     progress: bool = False, stop_after_steps: int | None = None) -> dict:
    """Run the given members in one batch, resuming from ``checkpoint`` when it exists.

    Args:
        stop_after_steps: stop (as if killed) after this many steps of this call — for tests.

    Returns:
        dict with ``finite``, ``steps``, ``wall_seconds``, ``completed``.
    """
    model, initial_q = build_model(config)
    step = step_function(config.scheme)
    spinup, total = config.steps(config.spinup_days), config.steps(config.spinup_days + config.years * DAYS_PER_YEAR)
    every, checkpoint_every = config.steps(config.output_every_days), config.steps(config.checkpoint_every_days)
    resume = checkpoint.exists() and output.exists()
    if resume:
        saved = np.load(checkpoint)
        natural, current, written = saved["state"], int(saved["step"]), int(saved["written"])
    else:
        natural, current, written = initial_state(model, initial_q, members, config.seed, config.perturbation), 0, 0
    count = natural.shape[0]
    state = model.fast.pack(natural)  # the packed layout of the fast kernel; exact round trip
    writer = OutputWriter(output, model.transform.grid, members, LEVELS_HPA, resume=resume,
                          attributes=dict(source="blocking.qg3", simulation_config=json.dumps(asdict(config))))
    finite, started, done_here = True, time.perf_counter(), 0
    try:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=current, disable=not progress, desc="qg3", unit="step")
        if current == 0 and spinup == 0:
            writer.write(0, 0.0, _snapshot(model, natural))
            written = 1
        while current < total:
            if stop_after_steps is not None and done_here >= stop_after_steps:
                return dict(finite=finite, steps=done_here, wall_seconds=time.perf_counter() - started,
                            completed=False)
            state = step(model.fast, state, config.dt_seconds)
            current += 1
            done_here += 1
            bar.update(1)
            if current >= spinup and (current - spinup) % every == 0:
                index = (current - spinup) // every
                fields = _snapshot(model, model.fast.unpack(state, count))
                finite = finite and all(bool(np.isfinite(v).all()) for v in fields.values())
                writer.write(index, (current - spinup) * config.dt_seconds / SECONDS_PER_DAY, fields)
                written = index + 1
            if current % checkpoint_every == 0 or current == total:
                writer.sync()
                _save_checkpoint(checkpoint, model.fast.unpack(state, count), current, written)
        bar.close()
    finally:
        writer.close()
    return dict(finite=finite, steps=done_here, wall_seconds=time.perf_counter() - started, completed=True)


def simulate(config: SimulationConfig, folder: Path, progress: bool = False, workers: int = 0,
             scheduler: str | None = None) -> dict:
    """Run a simulation into ``folder/output.nc`` (resuming if a checkpoint is there).

    Args:
        workers: 0 runs all members in this process; N > 0 splits them over N Dask workers
            (a local cluster, or the cluster at ``scheduler``), each writing a part file,
            merged along ``member`` at the end.

    Returns:
        Metrics: ``model_years``, ``member_years_per_wall_minute``, ``finite``, ``wall_seconds``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    members = np.arange(config.members)
    started = time.perf_counter()
    if workers <= 0 and scheduler is None:
        result = simulate_members(config, members, folder / OUTPUT_NAME, folder / "checkpoint.npz", progress)
        finite = result["finite"]
    else:
        finite = _simulate_dask(config, folder, members, workers, scheduler)
    wall = time.perf_counter() - started
    member_years = config.members * config.years
    return dict(model_years=config.years, member_years=member_years, members=config.members,
                member_years_per_wall_minute=member_years / (wall / 60.0), finite=bool(finite),
                wall_seconds=wall, output=str(folder / OUTPUT_NAME))


def run_simulate(config: SimulateConfig, folder: Path, progress: bool = False) -> dict:
    """``blocking simulate``: the simulation into ``folder/output.nc``, then (with ``config.figures``) its figures.

    Returns:
        The metrics of :func:`simulate`, with the files named relative to ``folder``
        (``output``; with figures, ``energy_enstrophy``, ``z500_mean_std``) and, with
        figures, ``energy_drift`` (:func:`blocking.qg3.figures.plot_run`).
    """
    folder = Path(folder)
    metrics = simulate(config.simulation, folder, progress=progress, workers=config.workers,
                       scheduler=config.scheduler)
    metrics["output"] = OUTPUT_NAME
    if config.figures:
        from blocking.qg3.figures import plot_run

        figures = plot_run(folder / OUTPUT_NAME, folder, config.simulation.spinup_days)
        metrics["energy_drift"] = figures.pop("energy_drift")
        metrics.update({name: Path(path).name for name, path in figures.items()})
    return metrics


def _simulate_dask(config: SimulationConfig, folder: Path, members: np.ndarray, workers: int,
                   scheduler: str | None) -> bool:
    import xarray as xr
    from dask.distributed import Client, LocalCluster

    parts = [chunk for chunk in np.array_split(members, max(workers, 1)) if chunk.size]
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(scheduler or cluster)
    try:
        futures = [client.submit(simulate_members, config, chunk, folder / f"output_part{k}.nc",
                                 folder / f"checkpoint_part{k}.npz", pure=False)
                   for k, chunk in enumerate(parts)]
        results = client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    paths = [folder / f"output_part{k}.nc" for k in range(len(parts))]
    with xr.open_mfdataset(paths, combine="nested", concat_dim="member", data_vars="minimal",
                           coords="minimal", compat="override") as merged:
        merged.load().to_netcdf(folder / OUTPUT_NAME)
    return all(result["finite"] for result in results)
