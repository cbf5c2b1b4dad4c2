"""The memory's stage of ``sparseworks demo``: a quick single-pass run on 8×8 digits."""

from __future__ import annotations

from pathlib import Path

from memory.classify import ClassifyConfig, default_channels, run_classify

__all__ = ["run_demo"]


def run_demo(folder: Path, seed: int = 0, progress: bool = False) -> dict:
    """Learn 100 digits per class in one pass, test on the other 797; save the model.

    Returns:
        accuracy, 1-NN accuracy, seconds and a one-line ``summary``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = ClassifyConfig(
        dataset="digits", train_per_class=100, channels=default_channels("digits"), cells_per_cm=1024, top_cells_per_cm=256,
    )
    metrics = run_classify(config, seed=seed, progress=progress)
    model = metrics.pop("model")
    model.save(folder / "digits_model")
    metrics["summary"] = (
        f"digits, {metrics['train_items']} training images in one pass: accuracy {metrics['accuracy']:.3f} "
        f"(1-NN {metrics['knn1_accuracy']:.3f}), training {metrics['train_seconds']:.1f} s"
    )
    return metrics
