"""``sparseworks memory ...``: classify, capacity, timing, sequence.

Each command is its config (:mod:`memory.experiments`) and one library function; the
bodies here only call it and format the printed summary. The memory runs on one thread.
"""

from __future__ import annotations

import typer

from memory.experiments import CapacityConfig, ClassifyConfig, SequenceConfig, TimingConfig
from sparse_core.infra.clikit import Run, config_command

app = typer.Typer(
    help="Sparsey-style sparse distributed representation memory (Rinkus 2010, 2014, 2017).\n\n"
    "Examples:\n\n  sparseworks memory classify --dataset mnist5k --train-per-class 200\n\n"
    "  sparseworks memory timing --json\n\n  sparseworks memory sequence --dataset basicmotions",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@config_command(app, ClassifyConfig, app_name="memory", threads=1)
def classify(config: ClassifyConfig, run: Run) -> tuple[dict, str]:
    """One pass over the training images, test on the rest; 1-NN for reference.

    Writes metrics.json and the trained model (model.npz, model.json) into the run folder.

    Examples:

      sparseworks memory classify --dataset mnist5k --train-per-class 200 --json

      sparseworks memory classify --dataset mnist5k --readout top

      sparseworks memory classify --dataset digits --train-per-class 50 --channels filled --top-cells-per-cm 0

      sparseworks memory classify --config runs/memory-classify-X/config.toml   # replay a run
    """
    from memory.classify import run_classify

    metrics = run_classify(config, run.folder, seed=run.seed, progress=run.progress)
    summary = (
        f"{config.dataset}: {metrics['train_items']} training images (one pass), {metrics['test_items']} test\n"
        f"accuracy {metrics['accuracy']:.4f} (read-out over {config.readout} levels)   "
        f"1-NN {metrics['knn1_accuracy']:.4f}   nearest code {metrics['nearest_code_accuracy']:.4f}\n"
        f"training {metrics['train_seconds']:.1f} s (one thread)   test {metrics['test_seconds']:.1f} s"
    )
    return metrics, summary


@config_command(app, CapacityConfig, app_name="memory", threads=1)
def capacity(config: CapacityConfig, run: Run) -> tuple[dict, str]:
    """Store N random sparse patterns, recall with 0-40 % of their bits moved.

    Writes metrics.json and capacity.png (recall against N) into the run folder.

    Examples:

      sparseworks memory capacity

      sparseworks memory capacity --max-items 1000 --json
    """
    from memory.capacity import run_capacity

    metrics = run_capacity(config, run.folder, seed=run.seed, progress=run.progress)
    lines = ["N        " + "  ".join(f"noise {n:.0%}" for n in metrics["noise"])]
    lines += [f"{n:<8} " + "  ".join(f"{r:9.2f}" for r in row) for n, row in zip(metrics["sizes"], metrics["recall"])]
    lines.append(f"max bits per synapse {metrics['max_bits_per_synapse']:.3f} ({metrics['synapses']} synapses)")
    return metrics, "\n".join(lines)


@config_command(app, TimingConfig, app_name="memory", threads=1)
def timing(config: TimingConfig, run: Run) -> tuple[dict, str]:
    """Store / retrieve time per item vs N: fixed-time read-out, nearest code, Hopfield.

    retrieve_ratio_100k_vs_1k (N = 10^5 over N = 10^3) is reported when the grid holds
    both; retrieve_ratio_largest_vs_smallest always. Writes metrics.json and timing.png.

    Examples:

      sparseworks memory timing

      sparseworks memory timing --min-items 100 --max-items 10000 --json
    """
    from memory.timing import run_timing

    metrics = run_timing(config, run.folder, seed=run.seed, progress=run.progress)
    lines = ["N        memory µs  nearest µs  hopfield µs  store µs"]
    for i, n in enumerate(metrics["sizes"]):
        lines.append(
            f"{n:<8} {metrics['retrieve_memory'][i] * 1e6:9.1f}  {metrics['retrieve_nearest'][i] * 1e6:10.1f}  "
            f"{metrics['retrieve_hopfield'][i] * 1e6:11.1f}  {metrics['store_memory'][i] * 1e6:8.1f}"
        )
    small, large = metrics["ratio_sizes"]
    lines.append(f"retrieve ratio N={large} vs N={small}: {metrics['retrieve_ratio_largest_vs_smallest']:.2f}")
    if "retrieve_ratio_100k_vs_1k" in metrics:
        lines.append(f"retrieve_ratio_100k_vs_1k: {metrics['retrieve_ratio_100k_vs_1k']:.2f}")
    return metrics, "\n".join(lines)


@config_command(app, SequenceConfig, app_name="memory", threads=1)
def sequence(config: SequenceConfig, run: Run) -> tuple[dict, str]:
    """Sequence classification with / without H weights; learned vs shuffled order (mean G).

    Examples:

      sparseworks memory sequence --dataset basicmotions --json
    """
    from memory.sequence import run_sequence

    metrics = run_sequence(config, seed=run.seed, progress=run.progress)
    summary = (
        f"accuracy with H {metrics['accuracy_with_h']:.3f}, without H {metrics['accuracy_without_h']:.3f}\n"
        f"mean G: learned order {metrics['g_learned']:.3f}, shuffled order {metrics['g_shuffled']:.3f}"
    )
    return metrics, summary
