"""``sparseworks blocking ...``: the QG3 model from the command line (thin: parse, configure, call, write)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sparse_core.infra.clikit import JsonOption, OutOption, SeedOption, ThreadsOption, finish_run, start_run

app = typer.Typer(
    help="QG3 climate model (Marshall & Molteni 1993), Atlantic blocking, CNN + SHAP, transfer to ERA5.\n\n"
    "Examples:\n\n"
    "  sparseworks blocking simulate --years 1 --members 4 --out runs/qg3\n\n"
    "  sparseworks blocking forcing --climatology runs/qg3/output.nc --out runs/roads",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command()
def simulate(
    years: Annotated[float, typer.Option(help="Saved model years per member (365-day years).")] = 1.0,
    members: Annotated[int, typer.Option(help="Ensemble members (batched in one array).", min=1)] = 1,
    spinup_days: Annotated[float, typer.Option("--spinup-days", help="Days run before saving.")] = 0.0,
    dt: Annotated[float, typer.Option("--dt", help="Time step in seconds.")] = 3600.0,
    scheme: Annotated[str, typer.Option(help="rk3 (default; 3 tendencies per step) or rk4 (the reference, with --dt 1800).")] = "rk3",
    float32: Annotated[bool, typer.Option("--float32", help="Single precision.")] = False,
    output_every_days: Annotated[float, typer.Option("--output-every-days", help="Snapshot interval.")] = 1.0,
    checkpoint_every_days: Annotated[float, typer.Option("--checkpoint-every-days")] = 30.0,
    workers: Annotated[int, typer.Option(help="Dask workers (0: this process).", min=0)] = 0,
    scheduler: Annotated[str | None, typer.Option(help="Address of an existing Dask scheduler.")] = None,
    forcing: Annotated[Path | None, typer.Option(help="Forcing NetCDF from `blocking forcing`.")] = None,
    figures: Annotated[bool, typer.Option(help="Write energy and z500 figures.")] = True,
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
    threads: ThreadsOption = 1,
) -> None:
    """Run the QG3 model; NetCDF output (member, time, level, lat, lon) in the run folder.

    Examples:

      sparseworks blocking simulate --years 0.1 --members 2 --json

      sparseworks blocking simulate --years 20 --spinup-days 365 --out runs/qg3-20y

      sparseworks blocking simulate --years 1 --members 32 --float32

      sparseworks blocking simulate --years 1 --scheme rk4 --dt 1800   # the reference configuration

    Run again with the same --out to resume from the last checkpoint.
    """
    from blocking.qg3.figures import plot_run
    from blocking.qg3.inputs import InputError
    from blocking.qg3.run import SimulationConfig
    from blocking.qg3.run import simulate as run_simulation

    try:
        config = SimulationConfig(
            years=years, members=members, spinup_days=spinup_days, dt_seconds=dt, scheme=scheme,
            dtype="float32" if float32 else "float64", output_every_days=output_every_days,
            checkpoint_every_days=checkpoint_every_days, seed=seed,
            forcing_file=str(forcing) if forcing else None,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    run = start_run("blocking", "simulate", config, out=out, seed=seed, threads=threads)
    try:
        metrics = run_simulation(config, run.folder, progress=not json_output, workers=workers, scheduler=scheduler)
    except InputError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    if figures:
        metrics.update(plot_run(Path(metrics["output"]), run.folder, spinup_days))
    summary = (f"{metrics['member_years']:g} member-years in {metrics['wall_seconds']:.1f} s: "
               f"{metrics['member_years_per_wall_minute']:.2f} member-years per wall minute; finite={metrics['finite']}")
    finish_run(run, metrics, json_output, summary=summary)


@app.command()
def forcing(
    climatology: Annotated[Path, typer.Option(help="NetCDF with psi (..., time, level, lat, lon) on the T21 grid.")],
    skip_days: Annotated[int, typer.Option("--skip-days", help="Leading snapshots (days) to drop.", min=0)] = 0,
    compare: Annotated[Path | None, typer.Option(help="Forcing file to compare with [default: the reference forcing].")] = None,
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
) -> None:
    """Roads' forcing S = J(ψ̄, q̄) + ⟨J(ψ′, q′)⟩ + D(ψ̄) from a climatology; writes forcing.nc.

    Examples:

      sparseworks blocking forcing --climatology runs/qg3-20y/output.nc --skip-days 365 --out runs/roads

      sparseworks blocking simulate --forcing runs/roads/forcing.nc --years 1
    """
    from blocking.qg3.forcing_io import roads_forcing_file

    run = start_run("blocking", "forcing", None, out=out, seed=seed, threads=1)
    try:
        metrics = roads_forcing_file(climatology, run.folder / "forcing.nc", skip_days=skip_days, compare=compare)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    finish_run(run, metrics, json_output,
               summary=f"forcing from {metrics['samples']} samples -> {metrics['forcing']}; "
                       f"relative rms vs reference {metrics['relative_rms_vs_reference']:.4f}")
