"""``sparseworks core ...``: the sparse-model core demonstrated on real data."""

from __future__ import annotations

from typing import Annotated

import typer

from sparse_core.infra.clikit import DeviceOption, JsonOption, OutOption, SeedOption, ThreadsOption

app = typer.Typer(
    help="The sparse-model core on real data: lottery tickets, dynamic sparse training, soups.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command()
def compare(
    dataset: Annotated[str, typer.Option(help="Dataset: mnist5k (5,000 real MNIST digits).")] = "mnist5k",
    sparsity: Annotated[float, typer.Option(help="Fraction of weights removed, in (0, 1).", min=0.0, max=1.0)] = 0.9,
    sweep: Annotated[bool, typer.Option("--sweep", help="Also run sparsities 0.5, 0.8, 0.9, 0.95 and plot accuracy against sparsity.")] = False,
    methods: Annotated[str, typer.Option(help="Comma-separated subset of magnitude,imp,random_erk,set,rigl,soup.")] = "magnitude,imp,random_erk,set,rigl,soup",
    epochs: Annotated[int, typer.Option(help="Training epochs per run (and per IMP round).", min=1)] = 30,
    hidden: Annotated[str, typer.Option(help="Hidden layer widths, comma-separated (LeNet-300-100 by default).")] = "300,100",
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
    threads: ThreadsOption = None,
    device: DeviceOption = "cpu",
) -> None:
    """Train LeNet-300-100 dense and with six sparse methods on 4,000 real MNIST digits; test on 1,000.

    Prints a table (method, test accuracy, nonzeros, density, seconds) and writes
    metrics.json and accuracy_vs_sparsity.png into the run folder.

    Examples:

      sparseworks core compare --sparsity 0.9

      sparseworks core compare --sweep --json --out runs/core-sweep

      sparseworks core compare --methods imp,rigl --epochs 5 --threads 1
    """
    from sparse_core.infra.clikit import finish_run, start_run
    from sparse_core.comparison.compare import CompareConfig, compare_methods, plot_sweep, summary_table
    from sparse_core.infra.runtime import choose_device

    if dataset != "mnist5k":
        raise typer.BadParameter(f"unknown dataset {dataset!r}; available: mnist5k", param_hint="--dataset")
    if not 0.0 < sparsity < 1.0:
        raise typer.BadParameter(f"sparsity must lie strictly between 0 and 1, got {sparsity}", param_hint="--sparsity")
    sparsities = (sparsity,) + tuple(s for s in (0.5, 0.8, 0.9, 0.95) if s != sparsity) if sweep else (sparsity,)
    try:
        widths = tuple(int(w) for w in hidden.split(",") if w.strip())
    except ValueError as error:
        raise typer.BadParameter(f"expected comma-separated integers, got {hidden!r}", param_hint="--hidden") from error
    try:
        config = CompareConfig(sizes=(784, *widths, 10), sparsities=sparsities, methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
                               epochs=epochs, seed=seed)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--methods") from error
    run = start_run("core", "compare", config, out=out, seed=seed, threads=threads)
    results = compare_methods(config, device=choose_device(device), progress=not json_output)
    plot_sweep(results, run.folder / "accuracy_vs_sparsity.png")
    finish_run(run, results, json_output, summary=summary_table(results))
