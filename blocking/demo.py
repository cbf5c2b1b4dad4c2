"""The blocking stage of ``sparseworks demo``: a short QG3 run, its blocking events, a small CNN and its SHAP maps.

Two model years of four members (RK3, 3600 s) are enough for the whole chain of the
``blocking`` commands at toy scale (`blocking.pipeline`): Atlantic onsets of the index
Z_B, one sample per onset, a narrow CNN trained to say at onset whether the block will
last, and its SHAP composites. A demo this short cannot use the paper's definitions: the
threshold is the 90th percentile of Z_B and the label D = 3 days (the authors: 100 m and
D = 5 on a million model days), so its skill numbers show the pipeline working, not the
science; ``sparseworks blocking ...`` runs it at scale.
"""

from __future__ import annotations

from pathlib import Path

from blocking.config import CNNConfig
from blocking.pipeline import PipelineScale, run_pipeline
from blocking.qg3.config import SimulationConfig
from blocking.qg3.figures import plot_run

__all__ = ["DEMO_SCALE", "run_demo"]

DEMO_SCALE = PipelineScale(
    simulation=SimulationConfig(years=2.0, members=4, dt_seconds=3600.0, scheme="rk3", checkpoint_every_days=365.0),
    skip_days=30,
    threshold_percentile=90.0,
    persistence_days=3,
    cnn=CNNConfig(channels=(8, 16, 16), dense=16),
    epochs=15,
    bootstrap=200,
    explain_method="gradient",
    explain_samples=20,
    explain_background=20,
)


def run_demo(folder: Path, seed: int, progress: bool, scale: PipelineScale = DEMO_SCALE) -> dict:
    """Run the blocking chain at demo scale into ``folder`` (`blocking.pipeline.run_pipeline`).

    Writes the sub-folders of the pipeline plus energy_enstrophy.png and z500_mean_std.png.

    Returns:
        The pipeline's metrics per step, a one-line ``summary`` and what the demo report
        shows: ``title``, ``paragraph``, ``key_numbers`` and ``figures`` (paths relative to
        ``folder``).
    """
    folder = Path(folder)
    metrics = run_pipeline(scale, folder, seed=seed, progress=progress)
    simulation, events, train = metrics["simulate"], metrics["events"], metrics["train"]
    figures = plot_run(Path(simulation["output"]), folder, scale.simulation.spinup_days)
    config = scale.simulation
    metrics["summary"] = (
        f"QG3 T21: {config.members} members x {config.years:g} years, {events['events']} onsets, "
        f"CNN test F1 {train['test_f1']:.2f} (climatology {train['climatology_f1']:.2f}, "
        f"index-logistic {train['logistic_f1']:.2f})"
    )
    metrics["title"] = "blocking: QG3 climate model, Atlantic blocking, a CNN explained with SHAP"
    metrics["paragraph"] = (
        f"The three-level Marshall-Molteni quasi-geostrophic model at T21 (perpetual winter), {config.members} "
        f"members run {config.years:g} model years each with Kutta's RK3 at {config.dt_seconds:.0f} s steps. "
        f"The blocking index Z_B is the 500 hPa geopotential-height anomaly (f0 psi / g minus its time mean, "
        f"3-day low-pass) averaged over 60-64N, 4W-4E; an onset is the first day Z_B reaches the threshold M "
        f"(here its {scale.threshold_percentile:g}th percentile, {events['threshold_m']:.0f} m; 100 m is its "
        f"{events['percentile_of_100m']:.0f}th). At each onset a small CNN sees the anomalies at 200, 500 and 800 "
        f"hPa north of 20N and predicts whether the block lasts at least {scale.persistence_days} days; the "
        f"splits are contiguous time blocks. Its test skill is set beside climatology and a logistic regression "
        f"on the index and its one-day change: at demo scale (a few dozen test onsets) these numbers show the "
        f"pipeline, not the science. The SHAP maps (GradientExplainer) show which regions push the network "
        f"towards 'persistent' for the true positives and true negatives; boxes mark the regions a sparse "
        f"model averages over."
    )
    metrics["key_numbers"] = {
        "member-years simulated": simulation["member_years"],
        "member-years per wall minute": simulation["member_years_per_wall_minute"],
        "onsets": events["events"],
        f"persistent (>= {scale.persistence_days} days)": events["persistent_events"],
        "threshold M (m)": events["threshold_m"],
        "CNN test F1": train["test_f1"],
        "CNN test F1 95% CI": train["test_f1_ci"],
        "climatology F1": train["climatology_f1"],
        "index-logistic F1": train["logistic_f1"],
        "SHAP additivity error (max abs, logit)": metrics["explain"]["additivity"]["max_abs"],
    }
    metrics["figures"] = [
        {
            "path": "explain/shap_maps.png",
            "caption": "SHAP composites of the CNN's persistent logit over the test true positives (left) and true "
            "negatives (right) at 200, 500 and 800 hPa, against longitude (°E) and latitude (°N), with the model's "
            "land-sea outline; boxes: the regions selected from the 200 hPa true-positive composite.",
        },
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
    if not (folder / "explain" / "shap_maps.png").exists():
        metrics["figures"].pop(0)
    return metrics
