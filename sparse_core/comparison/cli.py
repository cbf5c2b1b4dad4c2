"""``sparseworks core ...``: the sparse-model core demonstrated on real data."""

from __future__ import annotations

import typer

from sparse_core.comparison.config import CompareConfig
from sparse_core.infra.clikit import Run, config_command

app = typer.Typer(
    help="The sparse-model core on real data: lottery tickets, dynamic sparse training, soups.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@config_command(app, CompareConfig, app_name="core", device="cpu")
def compare(config: CompareConfig, run: Run) -> tuple[dict, str]:
    """Train LeNet-300-100 dense and with seven sparse methods on 4,000 real MNIST digits; test on 1,000.

    Prints a table (method, test accuracy, nonzeros, density, seconds) and writes
    metrics.json and accuracy_vs_sparsity.png into the run folder.

    Examples:

      sparseworks core compare --sparsity 0.9

      sparseworks core compare --sweep --json --out runs/core-sweep

      sparseworks core compare --methods imp,rigl --epochs 5 --threads 1

      sparseworks core compare --methods imp,soup,sms --soup-size 3 --seed 1

      sparseworks core compare --config runs/core-sweep/config.toml --epochs 10   # replay, one setting changed
    """
    from sparse_core.comparison.compare import compare_methods, plot_sweep, summary_table

    results = compare_methods(config, device=run.device, progress=run.progress)
    plot_sweep(results, run.folder / "accuracy_vs_sparsity.png")
    return results, summary_table(results)
