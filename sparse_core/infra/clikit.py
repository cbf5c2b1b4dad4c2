"""What every SparseWorks command line shares: common options and the run lifecycle.

This is CLI code, the only place in ``sparse_core`` that prints. Each application's
``cli.py`` uses it so that every command that produces results behaves the same way
(DESIGN §6):

- ``--out DIR`` (default ``runs/<app>-<command>-<UTC time>/``), ``--seed N``, ``--json``,
  ``--threads N`` and, where it matters, ``--device``;
- the run folder holds ``config.toml``, ``run.json`` (versions, git revision, config
  hash) and ``metrics.json``;
- with ``--json`` the last line of standard output is one JSON object holding the metrics.

Example (inside an application's ``cli.py``)::

    @app.command()
    def classify(out: OutOption = None, seed: SeedOption = 0, json_output: JsonOption = False,
                 threads: ThreadsOption = None):
        config = ClassifyConfig(...)
        run = start_run("memory", "classify", config, out=out, seed=seed, threads=threads)
        metrics = library.classify(config, progress=not json_output)
        finish_run(run, metrics, json_output, summary=format_table(...))
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from sparse_core.infra.runtime import (
    _json_safe,
    make_run_dir,
    run_metadata,
    save_config,
    seed_everything,
    set_threads,
    write_metrics,
)

__all__ = [
    "DeviceOption",
    "JsonOption",
    "OutOption",
    "Run",
    "SeedOption",
    "ThreadsOption",
    "configure_logging",
    "emit_json",
    "finish_run",
    "start_run",
]

OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Run folder for config, metrics and figures [default: runs/<app>-<command>-<UTC time>].", show_default=False),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same results.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the metrics as one JSON object on the last line of output.")
]
ThreadsOption = Annotated[
    int | None, typer.Option("--threads", help="torch threads [default: all cores].", show_default=False, min=1)
]
DeviceOption = Annotated[str, typer.Option("--device", help="cpu, cuda or auto (a GPU when one is visible).")]


def configure_logging(verbose: bool = False) -> None:
    """Log to standard error: warnings by default, progress details with ``verbose``."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@dataclass(frozen=True)
class Run:
    """A started run: its folder and the settings it was started with."""

    folder: Path
    seed: int
    threads: int


def start_run(
    app: str,
    command: str,
    config: Any | None,
    *,
    out: Path | None,
    seed: int,
    threads: int | None = None,
) -> Run:
    """Create the run folder, seed everything, set threads, save config.toml and run.json."""
    folder = make_run_dir(app, command, out)
    seed_everything(seed)
    used_threads = set_threads(threads)
    if config is not None:
        save_config(config, folder / "config.toml")
    write_metrics(
        folder,
        run_metadata(config, app=app, command=command, seed=seed, threads=used_threads),
        name="run.json",
    )
    return Run(folder=folder, seed=seed, threads=used_threads)


def emit_json(metrics: dict[str, Any]) -> None:
    """Print the metrics as the single JSON object of the last output line."""
    typer.echo(json.dumps(_json_safe(metrics), separators=(", ", ": ")))


def finish_run(run: Run | Path, metrics: dict[str, Any], json_output: bool, summary: str | None = None) -> None:
    """Write metrics.json; print the human summary, then (with ``--json``) the JSON line."""
    folder = run.folder if isinstance(run, Run) else Path(run)
    write_metrics(folder, metrics)
    if summary:
        typer.echo(summary)
    if json_output:
        emit_json(metrics)
    else:
        typer.echo(f"results in {folder}")
