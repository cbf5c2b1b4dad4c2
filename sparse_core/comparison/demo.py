"""The core's demo stage: a short `core compare` at 90% sparsity (under a minute)."""

from __future__ import annotations

from pathlib import Path

from sparse_core.comparison.compare import CompareConfig, compare_methods, plot_sweep, summary_table
from sparse_core.infra.files import atomic_write
from sparse_core.infra.runtime import save_config, write_metrics

__all__ = ["run_demo"]


def run_demo(folder: Path, seed: int, progress: bool) -> dict:
    """Dense vs one-shot magnitude pruning vs RigL on real MNIST digits, 5 epochs each.

    Writes config.toml, metrics.json, table.txt and accuracy_vs_sparsity.png into ``folder``.

    Returns:
        The accuracies, a one-line ``summary`` and what the demo report shows: ``title``,
        ``paragraph``, ``key_numbers`` and ``figures`` (paths relative to ``folder``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = CompareConfig(methods=("magnitude", "rigl"), epochs=5, finetune_epochs=3, seed=seed)
    save_config(config, folder / "config.toml")
    results = compare_methods(config, progress=progress)
    write_metrics(folder, results)
    with atomic_write(folder / "table.txt", "w") as handle:  # no half-written table after a kill
        handle.write(summary_table(results) + "\n")
    plot_sweep(results, folder / "accuracy_vs_sparsity.png")
    methods = results["methods"]
    dense = results["dense"]
    return {
        "dense_accuracy": dense["accuracy"],
        "magnitude_accuracy": methods["magnitude"]["accuracy"],
        "rigl_accuracy": methods["rigl"]["accuracy"],
        "summary": (
            f"LeNet-300-100 on real MNIST: dense {dense['accuracy']:.3f}, "
            f"90% sparse magnitude {methods['magnitude']['accuracy']:.3f}, RigL {methods['rigl']['accuracy']:.3f}"
        ),
        "title": "core: sparse training methods on real MNIST digits",
        "paragraph": (
            f"A LeNet-300-100 ReLU network ({dense['nonzeros']:,} weights) trained on "
            f"{config.train_per_class * 10:,} real MNIST digits and tested on 1,000 others, {config.epochs} epochs each: "
            f"dense; one-shot magnitude pruning to {config.sparsity:.0%} sparsity then {config.finetune_epochs} "
            f"fine-tuning epochs; and RigL, trained sparse from the start at the same sparsity (prune and regrow "
            f"every {config.update_every} steps). Accuracy is the fraction of test digits classified correctly; "
            f"a short run, so all three are below what 30 epochs reach (sparseworks core compare)."
        ),
        "key_numbers": {
            "dense test accuracy": dense["accuracy"],
            f"magnitude pruning, {config.sparsity:.0%} sparse: test accuracy": methods["magnitude"]["accuracy"],
            f"RigL, {config.sparsity:.0%} sparse: test accuracy": methods["rigl"]["accuracy"],
            "dense weights": dense["nonzeros"],
            "sparse weights kept": methods["rigl"]["nonzeros"],
        },
        "figures": [
            {
                "path": "accuracy_vs_sparsity.png",
                "caption": "Test accuracy (%) against sparsity (fraction of weights removed) for each method; "
                "the dashed line is the dense network.",
            }
        ],
    }
