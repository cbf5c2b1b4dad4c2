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


@config_command(app, ClassifyConfig, app_name="memory", threads=1, uses_torch=False)
def classify(config: ClassifyConfig, run: Run) -> tuple[dict, str]:
    """One pass over the training images, test on the rest; 1-NN and a linear classifier for reference.

    Writes metrics.json and the trained model (model.npz, model.json) into the run folder.

    Examples:

      sparseworks memory classify --dataset mnist5k --train-per-class 200 --json

      sparseworks memory classify --dataset mnist5k --readout top

      sparseworks memory classify --dataset digits --train-per-class 50 --channels filled --top-cells-per-cm 0

      sparseworks memory classify --data my_digits.csv.gz --train-per-class 100   # or a folder of PNGs per class

      sparseworks memory classify --train-per-class 200 --validation-per-class 50   # tune without the test set

      sparseworks memory classify --config runs/memory-classify-X/config.toml   # replay a run
    """
    from memory.classify import run_classify

    metrics = run_classify(config, run.folder, seed=run.seed, progress=run.progress)
    baselines = ""
    if "knn1_pixels_accuracy" in metrics:
        baselines = (
            f"\n1-NN on raw pixels {metrics['knn1_pixels_accuracy']:.4f}   "
            f"linear classifier on the codes {metrics['linear_on_codes_accuracy']:.4f}"
        )
    summary = (
        f"{metrics['dataset']}: {metrics['train_items']} training images (one pass), {metrics['test_items']} "
        f"{metrics['evaluated_on']}\n"
        f"accuracy {metrics['accuracy']:.4f} (read-out over {config.readout} levels)   "
        f"1-NN (binary frames) {metrics['knn1_accuracy']:.4f}   nearest code {metrics['nearest_code_accuracy']:.4f}"
        f"{baselines}\n"
        f"training {metrics['train_seconds']:.1f} s (one thread)   test {metrics['test_seconds']:.1f} s   "
        f"weights {metrics['memory_bytes'] / 2**20:.1f} MiB (packed bits)"
    )
    return metrics, summary


@config_command(app, CapacityConfig, app_name="memory", threads=1, uses_torch=False)
def capacity(config: CapacityConfig, run: Run) -> tuple[dict, str]:
    """Capacity curves: recall against N for a grid of memory sizes, with 0-40 % of the on bits moved.

    Per size: N90 (largest N at recall >= 0.9), bits per synapse beside the Willshaw
    bound, weight fill and freezing. Writes metrics.json, capacity.png (recall against
    N) and capacity_n90.png (N90 against synapses) into the run folder.

    Examples:

      sparseworks memory capacity

      sparseworks memory capacity --max-items 1000 --json

      sparseworks memory capacity --inputs 784 --active 40 --cms 24 --cells-per-cm 16 --macs 1
    """
    from memory.capacity import run_capacity

    metrics = run_capacity(config, run.folder, seed=run.seed, progress=run.progress)
    noise = "  ".join(f"N90@{n:.0%}" for n in metrics["noise"])
    lines = [f"{'memory':<32} {'synapses':>11}  {noise}  bits/syn  Willshaw N  fill@N90  frozen at"]
    for memory in metrics["memories"]:
        held = "  ".join(f"{memory['n90'][f'{n:g}']:>{len(f'N90@{n:.0%}')}}" for n in metrics["noise"])
        fill = memory["fill_at_n90"]
        lines.append(
            f"{memory['name']:<32} {memory['synapses']:>11,}  {held}  {memory['bits_per_synapse_at_n90']:8.3f}  "
            f"{memory['willshaw_items']:>10,}  {fill if fill is None else round(fill, 3)!s:>8}  {memory['frozen_at']}"
            + ("  (recall >= 0.9 up to --max-items: N90 is at least this)" if memory["n90_is_lower_bound"] else "")
        )
    lines.append(
        f"largest N90 {metrics['largest_n90']:,} ({metrics['largest_n90_memory']}); "
        f"best {metrics['max_bits_per_synapse']:.3f} bits per synapse (Willshaw bound 0.69)"
    )
    return metrics, "\n".join(lines)


@config_command(app, TimingConfig, app_name="memory", threads=1, uses_torch=False)
def timing(config: TimingConfig, run: Run) -> tuple[dict, str]:
    """Store / retrieve time per item within capacity, beside exact and approximate nearest neighbours.

    At every N the memory is the smallest grid size that holds N items at recall >= 0.9;
    rows below 0.9 are listed but timed against no peer and enter no ratio.
    retrieve_ratio_100k_vs_1k is reported when N = 10^3 and 10^5 both hold,
    retrieve_ratio_largest_vs_smallest when two N hold. Writes metrics.json and timing.png.

    Examples:

      sparseworks memory timing

      sparseworks memory timing --min-items 100 --max-items 10000 --json
    """
    from memory.timing import run_timing

    metrics = run_timing(config, run.folder, seed=run.seed, progress=run.progress)
    lines = [f"{'N':<8} {'memory':<32} recall  store µs  memory µs  exact µs  ANN µs (ef)  memory MiB"]
    for row in metrics["rows"]:
        peers = row.get("peers", {})
        exact = peers.get("exact", {}).get("retrieve_seconds")
        ann = peers.get("ann", {})
        ann_text = f"{ann['retrieve_seconds'] * 1e6:7.1f} ({ann['ef_search']})" if "retrieve_seconds" in ann else "-"
        lines.append(
            f"{row['items']:<8} {row['memory']['name']:<32} {row['recall']:6.2f}  {row['store_seconds'] * 1e6:8.1f}  "
            f"{row['retrieve_seconds'] * 1e6:9.1f}  {exact * 1e6 if exact else float('nan'):8.1f}  {ann_text:>11}  "
            f"{row['weight_bytes'] / 2**20:10.2f}" + ("" if row["holds"] else "  (below 0.9: not timed against peers)")
        )
    if "ratio_sizes" in metrics:
        small, large = metrics["ratio_sizes"]
        lines.append(
            f"retrieve ratio N={large} vs N={small} (both held): {metrics['retrieve_ratio_largest_vs_smallest']:.2f}"
        )
    if "retrieve_ratio_100k_vs_1k" in metrics:
        lines.append(f"retrieve_ratio_100k_vs_1k: {metrics['retrieve_ratio_100k_vs_1k']:.2f}")
    if metrics["not_held"]:
        lines.append(f"no grid size held N = {metrics['not_held']} at recall >= 0.9")
    return metrics, "\n".join(lines)


@config_command(app, SequenceConfig, app_name="memory", threads=1, uses_torch=False)
def sequence(config: SequenceConfig, run: Run) -> tuple[dict, str]:
    """Sequence classification with / without H weights; learned vs shuffled order (mean G).

    Examples:

      sparseworks memory sequence --dataset basicmotions --json

      sparseworks memory sequence --train-file my_TRAIN.ts --test-file my_TEST.ts
    """
    from memory.sequence import run_sequence

    metrics = run_sequence(config, seed=run.seed, progress=run.progress)
    summary = (
        f"accuracy with H {metrics['accuracy_with_h']:.3f}, without H {metrics['accuracy_without_h']:.3f}\n"
        f"mean G: learned order {metrics['g_learned']:.3f}, shuffled order {metrics['g_shuffled']:.3f}"
    )
    return metrics, summary
