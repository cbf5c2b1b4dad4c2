"""The blocking stage of ``sparseworks demo``: ten model days of two QG3 members (seconds)."""

from __future__ import annotations

from pathlib import Path

from blocking.qg3.figures import plot_run
from blocking.qg3.run import SimulationConfig, simulate

__all__ = ["run_demo"]


def run_demo(folder: Path, seed: int, progress: bool) -> dict:
    """Run 10 days × 2 members (RK3, 3600 s) into ``folder`` and plot them.

    Writes output.nc, energy_enstrophy.png and z500_mean_std.png into ``folder``.

    Returns:
        The simulation's metrics, a one-line ``summary`` and what the demo report shows:
        ``title``, ``paragraph``, ``key_numbers`` and ``figures`` (paths relative to ``folder``).
    """
    folder = Path(folder)
    config = SimulationConfig(
        years=10 / 365, members=2, dt_seconds=3600.0, scheme="rk3", checkpoint_every_days=5.0, seed=seed
    )
    metrics = simulate(config, folder, progress=progress)
    figures = plot_run(Path(metrics["output"]), folder, config.spinup_days)
    metrics["summary"] = (
        f"QG3 T21: 2 members x 10 days, finite={metrics['finite']}, "
        f"{metrics['member_years_per_wall_minute']:.2f} member-years per wall minute"
    )
    days = config.years * 365
    metrics["title"] = "blocking: the QG3 quasi-geostrophic climate model"
    metrics["paragraph"] = (
        f"The three-level Marshall-Molteni quasi-geostrophic model at T21 resolution (perpetual winter), "
        f"{config.members} ensemble members, each started from the reference state with a {config.perturbation:.0%} "
        f"random potential-vorticity perturbation and run {days:.0f} model days with Kutta's RK3 at "
        f"{config.dt_seconds:.0f} s steps; snapshots every {config.output_every_days:g} day. The maps are the mean "
        f"and the standard deviation, over members and snapshots, of the 500 hPa geopotential height anomaly "
        f"(f0 ψ500 / g, the stream function at 500 hPa in metres): over ten days they show the flow evolving "
        f"from its start, not yet the model's climate (sparseworks blocking simulate "
        f"runs years). Speed is member-years simulated per minute of wall-clock time on this machine."
    )
    metrics["key_numbers"] = {
        "members": config.members,
        "model days per member": days,
        "all fields finite": metrics["finite"],
        "member-years per wall minute": metrics["member_years_per_wall_minute"],
        "mean-energy change between the two halves (relative)": figures["energy_drift"],
    }
    metrics["figures"] = [
        {
            "path": Path(figures["z500_mean_std"]).name,
            "caption": "Time-mean 500 hPa geopotential height anomaly z500 = f0 ψ500 / g (m, left) and its standard "
            "deviation over members and time (m, right), against longitude (°E) and latitude (°N).",
        },
        {
            "path": Path(figures["energy_enstrophy"]).name,
            "caption": "Global energy (m² s⁻²) and potential enstrophy (s⁻²) of each member against model time (years).",
        },
    ]
    return metrics
