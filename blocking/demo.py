"""The blocking stage of ``sparseworks demo``: ten model days of two QG3 members (seconds)."""

from __future__ import annotations

from pathlib import Path

from blocking.qg3.run import SimulationConfig, simulate

__all__ = ["run_demo"]


def run_demo(folder: Path, seed: int, progress: bool) -> dict:
    """Run 10 days × 2 members (RK3, 3600 s) into ``folder``; returns metrics with a ``summary``."""
    config = SimulationConfig(years=10 / 365, members=2, dt_seconds=3600.0, scheme="rk3",
                              checkpoint_every_days=5.0, seed=seed)
    metrics = simulate(config, Path(folder), progress=progress)
    metrics["summary"] = (f"QG3 T21: 2 members x 10 days, finite={metrics['finite']}, "
                          f"{metrics['member_years_per_wall_minute']:.2f} member-years per wall minute")
    return metrics
