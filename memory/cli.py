"""``sparseworks memory ...``: classify, capacity, timing, sequence."""

from __future__ import annotations

from typing import Annotated

import typer

from sparse_core.infra.clikit import JsonOption, OutOption, SeedOption, finish_run, start_run

app = typer.Typer(
    help="Sparsey-style sparse distributed representation memory (Rinkus 2010, 2014, 2017).\n\n"
    "Examples:\n\n  sparseworks memory classify --dataset mnist5k --train-per-class 200\n\n"
    "  sparseworks memory timing --json\n\n  sparseworks memory sequence --dataset basicmotions",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command()
def classify(
    dataset: Annotated[str, typer.Option(help="mnist5k or digits.")] = "mnist5k",
    train_per_class: Annotated[int, typer.Option(help="Training images per class (one pass).")] = 200,
    test_limit: Annotated[int, typer.Option(help="Test on at most this many images (0: all the rest).")] = 0,
    channels: Annotated[
        str, typer.Option(help="Comma-separated input channels, one level-0 mac each: filled, edges, skeleton.")
    ] = "filled,edges,skeleton",
    cells_per_cm: Annotated[int, typer.Option(help="K, cells per competitive module of the level-0 macs.")] = 2048,
    cms: Annotated[int, typer.Option(help="Q, competitive modules per level-0 mac.")] = 8,
    top_cells_per_cm: Annotated[int, typer.Option(help="K of the level-1 mac (0: no level 1).")] = 1024,
    readout: Annotated[str, typer.Option(help="Class read-out over the codes of 'all' levels or of the 'top' level.")] = "all",
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
) -> None:
    """One pass over the training images, test on the rest; 1-NN for reference.

    Examples:

      sparseworks memory classify --dataset mnist5k --train-per-class 200 --json

      sparseworks memory classify --dataset mnist5k --readout top

      sparseworks memory classify --dataset digits --train-per-class 50 --channels filled --top-cells-per-cm 0
    """
    from memory.classify import ClassifyConfig, default_channels, run_classify

    try:
        config = ClassifyConfig(
            dataset=dataset, train_per_class=train_per_class, test_limit=test_limit,
            channels=default_channels(dataset, tuple(name.strip() for name in channels.split(",") if name.strip())),
            cms=cms, cells_per_cm=cells_per_cm, top_cells_per_cm=top_cells_per_cm, readout=readout,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    run = start_run("memory", "classify", config, out=out, seed=seed, threads=1)
    metrics = run_classify(config, seed=seed, progress=not json_output)
    metrics.pop("model").save(run.folder / "model")
    summary = (
        f"{dataset}: {metrics['train_items']} training images (one pass), {metrics['test_items']} test\n"
        f"accuracy {metrics['accuracy']:.4f} (read-out over {readout} levels)   1-NN {metrics['knn1_accuracy']:.4f}   "
        f"nearest code {metrics['nearest_code_accuracy']:.4f}\n"
        f"training {metrics['train_seconds']:.1f} s (one thread)   test {metrics['test_seconds']:.1f} s"
    )
    finish_run(run, metrics, json_output, summary=summary)


@app.command()
def capacity(
    max_items: Annotated[int, typer.Option(help="Largest N of the log grid.")] = 100000,
    queries: Annotated[int, typer.Option(help="Recalled items per (N, noise).")] = 100,
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
) -> None:
    """Store N random sparse patterns, recall with 0-40 % of their bits moved.

    Examples:

      sparseworks memory capacity

      sparseworks memory capacity --max-items 1000 --json
    """
    from memory.capacity import CapacityConfig, run_capacity
    from memory.plots import plot_capacity

    sizes = tuple(s for s in CapacityConfig().sizes if s <= max_items) or (max_items,)
    config = CapacityConfig(sizes=sizes, queries=queries)
    run = start_run("memory", "capacity", config, out=out, seed=seed, threads=1)
    metrics = run_capacity(config, seed=seed, progress=not json_output)
    plot_capacity(metrics, run.folder / "capacity.png")
    lines = ["N        " + "  ".join(f"noise {n:.0%}" for n in metrics["noise"])]
    lines += [f"{n:<8} " + "  ".join(f"{r:9.2f}" for r in row) for n, row in zip(metrics["sizes"], metrics["recall"])]
    lines.append(f"max bits per synapse {metrics['max_bits_per_synapse']:.3f} ({metrics['synapses']} synapses)")
    finish_run(run, metrics, json_output, summary="\n".join(lines))


@app.command()
def timing(
    max_items: Annotated[int, typer.Option(help="Largest N of the grid 10^3, 3·10^3, ... (default 10^5).")] = 100000,
    min_items: Annotated[int, typer.Option(help="Smallest N of the grid.")] = 1000,
    queries: Annotated[int, typer.Option(help="Timed retrievals per N.")] = 200,
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
) -> None:
    """Store / retrieve time per item vs N: fixed-time read-out, nearest code, Hopfield.

    retrieve_ratio_100k_vs_1k (N = 10^5 over N = 10^3) is reported when the grid holds
    both; retrieve_ratio_largest_vs_smallest always.

    Examples:

      sparseworks memory timing

      sparseworks memory timing --min-items 100 --max-items 10000 --json
    """
    from memory.plots import plot_timing
    from memory.timing import TimingConfig, run_timing

    grid = [m * 10**e for e in range(0, 9) for m in (1, 3)]
    sizes = tuple(sorted({n for n in grid if min_items <= n <= max_items} | {min_items, max_items}))
    try:
        config = TimingConfig(sizes=sizes, queries=queries)
    except ValueError as error:
        raise typer.BadParameter(f"--min-items {min_items} / --max-items {max_items}: {error}") from None
    run = start_run("memory", "timing", config, out=out, seed=seed, threads=1)
    metrics = run_timing(config, seed=seed, progress=not json_output)
    plot_timing(metrics, run.folder / "timing.png")
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
    finish_run(run, metrics, json_output, summary="\n".join(lines))


@app.command()
def sequence(
    dataset: Annotated[str, typer.Option(help="basicmotions (the only sequence set).")] = "basicmotions",
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
) -> None:
    """Sequence classification with / without H weights; learned vs shuffled order (mean G).

    Examples:

      sparseworks memory sequence --dataset basicmotions --json
    """
    from memory.sequence import SequenceConfig, run_sequence

    if dataset != "basicmotions":
        raise typer.BadParameter(f"expected 'basicmotions', found {dataset!r}", param_hint="--dataset")
    config = SequenceConfig()
    run = start_run("memory", "sequence", config, out=out, seed=seed, threads=1)
    metrics = run_sequence(config, seed=seed, progress=not json_output)
    summary = (
        f"accuracy with H {metrics['accuracy_with_h']:.3f}, without H {metrics['accuracy_without_h']:.3f}\n"
        f"mean G: learned order {metrics['g_learned']:.3f}, shuffled order {metrics['g_shuffled']:.3f}"
    )
    finish_run(run, metrics, json_output, summary=summary)
