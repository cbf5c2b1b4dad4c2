"""Figures of the memory experiments (PNG, labelled axes with units), written atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sparse_core.infra.files import save_figure  # noqa: E402

__all__ = ["plot_capacity", "plot_n90", "plot_timing"]


def _save(fig, path: Path | str) -> Path:
    try:
        fig.tight_layout()
        return save_figure(fig, path, dpi=120)
    finally:
        plt.close(fig)


def plot_timing(metrics: dict, path: Path | str) -> Path:
    """Retrieve (and store) time per item against N, log-log, for the memory sized to hold N and its peers."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    sizes = metrics["sizes"]
    for key, label in (
        ("retrieve_memory", "SDR memory sized to hold N: CSA + read-out (retrieve)"),
        ("retrieve_exact", "exact nearest neighbour, numpy (retrieve)"),
        ("retrieve_ann", "faiss binary HNSW at equal recall (retrieve)"),
        ("retrieve_hopfield", "modern Hopfield (retrieve)"),
        ("store_memory", "SDR memory (store)"),
    ):
        values = metrics.get(key)
        if not values:
            continue
        points = [(n, t * 1e6) for n, t in zip(sizes, values) if t is not None]
        if points:
            ax.loglog(*zip(*points), marker="o", linestyle="--" if "store" in key else "-", label=label)
    ax.set_xlabel("items stored N (each memory holds them at recall >= 0.9)")
    ax.set_ylabel("time per item (µs)")
    ax.set_title(f"store / retrieve time within capacity, query noise {metrics['query_noise']:.0%} (one thread)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_capacity(metrics: dict, path: Path | str) -> Path:
    """Code recall against stored items N: one panel per noise level, one line per memory size."""
    noise = metrics["noise"]
    columns = min(len(noise), 3)
    rows = -(-len(noise) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False, sharey=True)
    for column, level in enumerate(noise):
        ax = axes[column // columns][column % columns]
        for memory in metrics["memories"]:
            (line,) = ax.semilogx(
                memory["items"], [r[column] for r in memory["recall"]], marker=".", label=memory["name"]
            )
            if memory.get("frozen_at"):
                ax.axvline(memory["frozen_at"], color=line.get_color(), linestyle=":", linewidth=0.8)
        ax.axhline(metrics["recall_threshold"], color="grey", linewidth=0.6)
        ax.set_title(f"{level:.0%} of on bits moved")
        ax.set_xlabel("items stored N")
        ax.set_ylabel("code recall (fraction of queries)")
        ax.set_ylim(-0.02, 1.02)
    for extra in range(len(noise), rows * columns):
        axes[extra // columns][extra % columns].axis("off")
    axes[0][0].legend(fontsize=6)
    fig.suptitle("recall: code equal in >= 90 % of CMs; dotted: a mac froze", fontsize=9)
    return _save(fig, path)


def plot_n90(metrics: dict, path: Path | str) -> Path:
    """N90 (largest N held at recall >= 0.9, no noise) against synapses, with the Willshaw-type bound."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    zero = f"{min(metrics['noise']):g}"
    for memory in metrics["memories"]:
        marker = "o" if memory["macs"] == 1 else "s"
        ax.loglog(memory["synapses"], max(memory["n90"][zero], 1), marker=marker, color="tab:blue", linestyle="none")
        ax.loglog(
            memory["synapses"],
            memory["willshaw_items"],
            marker=marker,
            color="tab:grey",
            linestyle="none",
            fillstyle="none",
        )
        at_least = ">= " if memory.get("n90_is_lower_bound") else ""
        ax.annotate(
            f"{memory['name']}: N90 {at_least}{memory['n90'][zero]:,}\n"
            f"{memory['bits_per_synapse_at_n90']:.3f} b/syn, fill {memory['fill_at_n90'] or 0:.2f}",
            (memory["synapses"], max(memory["n90"][zero], 1)),
            fontsize=5,
            xytext=(3, -6),
            textcoords="offset points",
        )
    ax.plot([], [], "o", color="tab:blue", label="N90 measured (circle: one mac, square: two levels)")
    ax.plot([], [], "o", color="tab:grey", fillstyle="none", label="ln2 x synapses / (active inputs x Q)")
    ax.set_xlabel("synapses (binary U weights)")
    ax.set_ylabel("items held at recall >= 0.9 (N90)")
    ax.set_title(f"capacity against size; Willshaw bound {0.693:.2f} bits per synapse", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)
