"""``sparseworks blocking ...``: the QG3 model from the command line.

Each command is its config (:mod:`blocking.qg3.config`) and one library function; the
bodies here only call it and format the printed summary.
"""

from __future__ import annotations

import typer

from blocking.qg3.config import ForcingConfig, SimulateConfig
from sparse_core.infra.clikit import Run, config_command

app = typer.Typer(
    help="QG3 climate model (Marshall & Molteni 1993), Atlantic blocking, CNN + SHAP, transfer to ERA5.\n\n"
    "Examples:\n\n"
    "  sparseworks blocking simulate --years 1 --members 4 --out runs/qg3\n\n"
    "  sparseworks blocking forcing --climatology runs/qg3/output.nc --out runs/roads",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@config_command(
    app, SimulateConfig, app_name="blocking", threads_default=1, uses_torch=False
)  # the numpy model needs no torch threads
def simulate(config: SimulateConfig, run: Run) -> tuple[dict, str]:
    """Run the QG3 model; NetCDF output (member, time, level, lat, lon) in the run folder.

    Writes output.nc, checkpoint.npz, metrics.json and (unless --no-figures)
    energy_enstrophy.png and z500_mean_std.png into the run folder; every file is
    written whole or not at all, so a killed run leaves no half-written file.

    Examples:

      sparseworks blocking simulate --years 0.1 --members 2 --json

      sparseworks blocking simulate --years 20 --spinup-days 365 --out runs/qg3-20y

      sparseworks blocking simulate --years 1 --members 32 --float32

      sparseworks blocking simulate --years 1 --scheme rk4 --dt 1800   # the reference configuration

    Run again with the same --out to resume from the last checkpoint: only with the
    settings the checkpoint was made with (a longer --years extends the run); --restart
    starts over. A run whose state stops being finite stops with an error naming the
    model day (try a smaller --dt).
    """
    from blocking.qg3.run import run_simulate

    metrics = run_simulate(config, run.folder, progress=run.progress)
    summary = (
        f"{metrics['member_years']:g} member-years in {metrics['wall_seconds']:.1f} s: "
        f"{metrics['member_years_per_wall_minute']:.2f} member-years per wall minute; finite={metrics['finite']}"
    )
    return metrics, summary


@config_command(app, ForcingConfig, app_name="blocking", threads=1, uses_torch=False)
def forcing(config: ForcingConfig, run: Run) -> tuple[dict, str]:
    """Roads' forcing S = J(ψ̄, q̄) + ⟨J(ψ′, q′)⟩ + D(ψ̄) from a climatology; writes forcing.nc.

    The climatology's psi is identified by its coordinates and units (CF attributes):
    latitudes in any order, longitudes from 0° or −180°, levels 200/500/800 hPa in any
    order and pressure unit, psi in any unit convertible to m2 s-1; gzip-compressed
    NetCDF is read as it is.

    Examples:

      sparseworks blocking forcing --climatology runs/qg3-20y/output.nc --skip-days 365 --out runs/roads

      sparseworks blocking simulate --forcing runs/roads/forcing.nc --years 1
    """
    from blocking.qg3.forcing_io import run_forcing

    metrics = run_forcing(config, run.folder)
    summary = (
        f"forcing from {metrics['samples']} samples -> {run.folder / metrics['forcing']}; "
        f"relative rms vs reference {metrics['relative_rms_vs_reference']:.4f}"
    )
    return metrics, summary


# The blocking science (events, dataset, train, explain, sparse-model, transfer, era5-request)
from blocking.cli_science import register as _register_science  # noqa: E402

_register_science(app)

from blocking.cli_realism import register as _register_realism  # noqa: E402

_register_realism(app)
