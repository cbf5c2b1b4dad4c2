"""Figures of the memory experiments (PNG, labelled axes with units)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_capacity", "plot_timing"]


def plot_timing(metrics: dict, path: Path | str) -> Path:
    """Retrieve (and store) time per item against N, log-log, for the three memories."""
    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = metrics["sizes"]
    for key, label in (
        ("retrieve_memory", "SDR memory: CSA + Hebbian read-out (retrieve)"),
        ("retrieve_nearest", "exact nearest stored code (retrieve)"),
        ("retrieve_hopfield", "modern Hopfield (retrieve)"),
        ("store_memory", "SDR memory (store)"),
    ):
        ax.loglog(sizes, [t * 1e6 for t in metrics[key]], marker="o", linestyle="--" if "store" in key else "-", label=label)
    ax.set_xlabel("items stored N")
    ax.set_ylabel("time per item (µs)")
    ax.set_title("store / retrieve time vs N (one thread)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_capacity(metrics: dict, path: Path | str) -> Path:
    """Recall accuracy against stored items N, one line per noise level."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for column, noise in enumerate(metrics["noise"]):
        ax.semilogx(metrics["sizes"], [row[column] for row in metrics["recall"]], marker="o", label=f"{noise:.0%} bits moved")
    ax.set_xlabel("items stored N")
    ax.set_ylabel("recall accuracy (fraction of queries)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
