"""The core's demo stage: a short `core compare` at 90% sparsity (under a minute)."""

from __future__ import annotations

from pathlib import Path

from sparse_core.comparison.compare import CompareConfig, compare_methods, plot_sweep, summary_table
from sparse_core.infra.runtime import save_config, write_metrics

__all__ = ["run_demo"]


def run_demo(folder: Path, seed: int, progress: bool) -> dict:
    """Dense vs one-shot magnitude pruning vs RigL on real MNIST digits, 5 epochs each.

    Writes config.toml, metrics.json, table.txt and accuracy_vs_sparsity.png into ``folder``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = CompareConfig(methods=("magnitude", "rigl"), epochs=5, finetune_epochs=3, seed=seed)
    save_config(config, folder / "config.toml")
    results = compare_methods(config, progress=progress)
    write_metrics(folder, results)
    (folder / "table.txt").write_text(summary_table(results) + "\n")
    plot_sweep(results, folder / "accuracy_vs_sparsity.png")
    methods = results["methods"]
    return {
        "dense_accuracy": results["dense"]["accuracy"],
        "magnitude_accuracy": methods["magnitude"]["accuracy"],
        "rigl_accuracy": methods["rigl"]["accuracy"],
        "summary": (
            f"LeNet-300-100 on real MNIST: dense {results['dense']['accuracy']:.3f}, "
            f"90% sparse magnitude {methods['magnitude']['accuracy']:.3f}, RigL {methods['rigl']['accuracy']:.3f}"
        ),
    }
