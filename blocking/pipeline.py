"""The blocking science end to end at small scale: simulate → events → dataset → train → explain → sparse model.

One function chains the library entry points of the ``blocking`` commands (each into its
own sub-folder, exactly as ``sparseworks blocking simulate / events / dataset / train /
explain / sparse-model`` would write them), so that the demo stage and the notebook show
the same figures a user gets from the commands. The scale is the caller's: a demo runs a
few model years, a study hundreds (docs/architecture.md, "Configs and commands").
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from blocking.config import (
    CNNConfig,
    DatasetConfig,
    EventsConfig,
    ExplainConfig,
    IndexConfig,
    SparseModelConfig,
    SplitConfig,
    TrainConfig,
)
from blocking.qg3.config import SimulationConfig

__all__ = ["PipelineScale", "run_pipeline"]


@dataclasses.dataclass(frozen=True)
class PipelineScale:
    """How much of each step a pipeline run does.

    Attributes:
        simulation: The QG3 run (members × years; spin-up discarded by ``skip_days``).
        skip_days: Model days discarded at the start of each member before anomalies are taken.
        threshold_percentile: The onset threshold M as a percentile of the index Z_B (None: 100 m).
            The model's variability differs from the authors' model, so a short run uses a
            percentile to get onsets at all.
        persistence_days: D, the label: the block lasts at least D days.
        block_days: Length of the contiguous time blocks the splits are made of, in days.
        cnn: The network (the authors' layout by default; narrower channels for a demo).
        epochs: Training epochs (early stopping on validation).
        bootstrap: Bootstrap resamples of the confidence intervals.
        explain_method: SHAP explainer: "gradient" (robust) or "deep" (the authors').
        explain_samples: Test samples explained per group.
        explain_background: SHAP background samples.
        max_features: The sparse model's largest subset of regional features.
    """

    simulation: SimulationConfig
    skip_days: int = 30
    threshold_percentile: float | None = 90.0
    persistence_days: int = 5
    block_days: int = 180
    cnn: CNNConfig = dataclasses.field(default_factory=CNNConfig)
    epochs: int = 10
    bootstrap: int = 200
    explain_method: str = "gradient"
    explain_samples: int = 20
    explain_background: int = 20
    max_features: int = 5


def run_pipeline(
    scale: PipelineScale, folder: Path, seed: int = 0, progress: bool = False, inputs: Path | None = None
) -> dict:
    """Run every step of the blocking science into sub-folders of ``folder``.

    Args:
        inputs: An existing run's output.nc (e.g. `blocking.synthetic.synthetic_qg3_file`
            for a smoke run) instead of simulating ``scale.simulation``.

    Sub-folders: ``simulate`` (output.nc, unless ``inputs`` is given), ``events`` (catalogue, frequency), ``dataset``
    (dataset.nc), ``train`` (model.pt, predictions.csv), ``explain`` (shap_maps.png,
    regions.json), ``sparse_model``.

    Returns:
        ``{step: metrics}`` for the six steps, plus ``figures``: paths (relative to
        ``folder``) of the figures (the SHAP composite maps).

    The sparse model is skipped (its metrics say why) when SHAP selects no region, as it
    does when the network finds no true positive among the explained test samples.

    Raises:
        InputError: When a step finds no usable data (e.g. a run too short to hold an onset
            in every split): the message names the step's input file.
    """
    from blocking.dataset import run_dataset
    from blocking.events import run_events
    from blocking.explain import run_explain
    from blocking.qg3.run import simulate
    from blocking.sparse_model import run_sparse_model
    from blocking.training import run_train

    folder = Path(folder)
    steps = {name: folder / name for name in ("simulate", "events", "dataset", "train", "explain", "sparse_model")}
    for path in steps.values():
        path.mkdir(parents=True, exist_ok=True)
    if inputs is None:
        simulation = dataclasses.replace(scale.simulation, seed=seed)
        metrics = {"simulate": simulate(simulation, steps["simulate"], progress=progress)}
        output = str(steps["simulate"] / "output.nc")
    else:
        metrics = {"simulate": {"skipped": f"read {inputs}"}}
        output = str(inputs)
    index = IndexConfig(threshold_percentile=scale.threshold_percentile, skip_days=scale.skip_days)
    metrics["events"] = run_events(
        EventsConfig(inputs=(output,), index=index, persistence_days=scale.persistence_days), steps["events"]
    )
    metrics["dataset"] = run_dataset(
        DatasetConfig(
            inputs=(output,),
            index=index,
            split=SplitConfig(block_days=scale.block_days),
            persistence_days=scale.persistence_days,
            seed=seed,
        ),
        steps["dataset"],
    )
    dataset = steps["dataset"] / metrics["dataset"]["file"]
    metrics["train"] = run_train(
        TrainConfig(dataset=dataset, cnn=scale.cnn, epochs=scale.epochs, bootstrap=scale.bootstrap, seed=seed),
        steps["train"],
        progress=progress,
    )
    metrics["explain"] = run_explain(
        ExplainConfig(
            dataset=dataset,
            model=steps["train"] / "model.pt",
            method=scale.explain_method,
            samples=scale.explain_samples,
            background=scale.explain_background,
            seed=seed,
        ),
        steps["explain"],
    )
    if metrics["explain"]["regions"]:
        metrics["sparse_model"] = run_sparse_model(
            SparseModelConfig(
                dataset=dataset, regions=steps["explain"] / "regions.json", max_features=scale.max_features
            ),
            steps["sparse_model"],
        )
    else:  # no true positive in the explained test samples, so no region to average over
        metrics["sparse_model"] = {"skipped": "SHAP selected no region (no true positive among the explained samples)"}
    figures = [steps["explain"] / "shap_maps.png"]
    metrics["figures"] = [str(p.relative_to(folder)) for p in figures if p.exists()]
    return metrics
