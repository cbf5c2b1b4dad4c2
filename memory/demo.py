"""The memory's stage of ``sparseworks demo``: a quick single-pass run on 8×8 digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from memory.classify import ClassifyConfig, run_classify
from memory.model import MemoryClassifier

__all__ = ["code_overlaps", "run_demo"]

CODES_PER_CLASS = 10  # stored codes per class in the overlap figure


def run_demo(folder: Path, seed: int = 0, progress: bool = False) -> dict:
    """Learn 100 digits per class in one pass, test on the other 797; save the model.

    Writes the model (``model.npz``, ``model.json``), ``accuracy.png`` and
    ``code_overlap.png`` into ``folder``.

    Returns:
        accuracy, 1-NN accuracy, seconds, a one-line ``summary`` and what the demo report
        shows: ``title``, ``paragraph``, ``key_numbers`` and ``figures`` (paths relative
        to ``folder``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = ClassifyConfig(dataset="digits", train_per_class=100, cells_per_cm=1024, top_cells_per_cm=256)
    metrics = run_classify(config, folder, seed=seed, progress=progress)
    metrics["summary"] = (
        f"digits, {metrics['train_items']} training images in one pass: accuracy {metrics['accuracy']:.3f} "
        f"(1-NN {metrics['knn1_accuracy']:.3f}), training {metrics['train_seconds']:.1f} s"
    )
    model = MemoryClassifier.load(folder / "model")
    overlaps, labels = code_overlaps(model.train_cells_, model.train_labels_, CODES_PER_CLASS)
    plot_accuracy(metrics, config.channels, folder / "accuracy.png")
    plot_overlaps(overlaps, labels, folder / "code_overlap.png")
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    within, between = float(overlaps[same & off_diagonal].mean()), float(overlaps[~same].mean())
    metrics.update(_report(config, metrics, within, between))
    return metrics


def _report(config: ClassifyConfig, metrics: dict, within: float, between: float) -> dict:
    """The demo report's title, paragraph, key numbers and figures of this stage."""
    paragraph = (
        f"A Sparsey-style memory of sparse distributed codes learns scikit-learn's 8x8 handwritten digits in a "
        f"single pass: {metrics['train_items']:,} training images ({config.train_per_class} per class), each seen "
        f"once, are preprocessed into {len(config.channels)} binary channels ({', '.join(config.channels)}; "
        f"16x16 each), coded by {len(config.channels)} level-0 macs of {config.cms} competitive modules x "
        f"{config.cells_per_cm} cells and one level-1 mac ({config.top_cms} x {config.top_cells_per_cm}); a "
        f"Hebbian read-out maps the codes to classes. It is tested on the other {metrics['test_items']:,} images. "
        f"Accuracy is the fraction of test images classified correctly; the nearest stored code and the 1-nearest "
        f"neighbour on the pixels are the exact baselines. Code overlap is the share of active cells two stored "
        f"codes have in common: similar inputs get overlapping codes."
    )
    return {
        "title": "memory: single-pass learning with sparse distributed codes",
        "paragraph": paragraph,
        "key_numbers": {
            "test accuracy (Hebbian read-out)": metrics["accuracy"],
            "test accuracy (nearest stored code)": metrics["nearest_code_accuracy"],
            "test accuracy (1-NN on pixels)": metrics["knn1_accuracy"],
            "training images (one pass)": metrics["train_items"],
            "test images": metrics["test_items"],
            "training time (s)": metrics["train_seconds"],
            "mean code overlap, same class": within,
            "mean code overlap, different classes": between,
        },
        "figures": [
            {
                "path": "accuracy.png",
                "caption": "Test accuracy (fraction of test images correct) of the memory's Hebbian read-out and of "
                "the exact baselines: nearest stored code, and 1-nearest neighbour on all channels and on "
                "each channel alone.",
            },
            {
                "path": "code_overlap.png",
                "caption": f"Overlap (fraction of active cells shared) between the stored codes of the first "
                f"{CODES_PER_CLASS} training images of each class, ordered by class; the diagonal (a code "
                f"with itself, 1) is left white and the colour scale stops at the 99th percentile.",
            },
        ],
    }


def code_overlaps(cells: np.ndarray, labels: np.ndarray, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise overlaps of the first ``per_class`` stored codes of every class.

    Args:
        cells: active-cell indices of each stored code. Shape ``(n, active)``.
        labels: the class of each code. Shape ``(n,)``.
        per_class: codes taken from each class.

    Returns:
        The overlaps (fraction of the active cells two codes share) and their classes.
        Shapes ``(m, m)`` and ``(m,)``, ``m = per_class * classes``, ordered by class.
    """
    cells, labels = np.asarray(cells), np.asarray(labels)
    chosen = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)])
    codes = cells[chosen]
    active = np.zeros((len(chosen), int(cells.max()) + 1), dtype=np.float32)
    np.put_along_axis(active, codes.astype(np.int64), 1.0, axis=1)
    return active @ active.T / codes.shape[1], labels[chosen]


def plot_accuracy(metrics: dict, channels: tuple[str, ...], path: Path) -> Path:
    """Bars of the read-out's and the baselines' test accuracy; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["Hebbian\nread-out", "nearest\ncode", "1-NN\n(all channels)"]
    values = [metrics["accuracy"], metrics["nearest_code_accuracy"], metrics["knn1_accuracy"]]
    names += [f"1-NN\n({name})" for name in channels]
    values += list(metrics["knn1_accuracy_per_channel"])
    figure, axis = plt.subplots(figsize=(7, 3.4))
    bars = axis.bar(names, values, color=["tab:blue"] + ["tab:gray"] * (len(values) - 1))
    axis.bar_label(bars, fmt="%.3f", fontsize=8)
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("test accuracy (fraction correct)")
    axis.set_title(
        f"{metrics['dataset']}: {metrics['train_items']} training images, one pass; {metrics['test_items']} test images"
    )
    axis.tick_params(axis="x", labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def plot_overlaps(overlaps: np.ndarray, labels: np.ndarray, path: Path) -> Path:
    """The code-overlap matrix with class boundaries; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = np.array(overlaps, dtype=float)
    np.fill_diagonal(shown, np.nan)  # a code with itself: 1
    top = float(np.nanpercentile(shown, 99)) or 1.0
    figure, axis = plt.subplots(figsize=(5.4, 4.4))
    image = axis.imshow(shown, vmin=0.0, vmax=top, cmap="magma")
    image.cmap.set_bad("white")
    figure.colorbar(image, ax=axis, label="overlap (fraction of active cells shared)", extend="max")
    classes = np.unique(labels)
    starts = [int(np.flatnonzero(labels == c)[0]) for c in classes]
    counts = [int((labels == c).sum()) for c in classes]
    centres = [s + (n - 1) / 2 for s, n in zip(starts, counts)]
    for start in starts[1:]:
        axis.axhline(start - 0.5, color="white", lw=0.5)
        axis.axvline(start - 0.5, color="white", lw=0.5)
    axis.set_xticks(centres, [str(c) for c in classes])
    axis.set_yticks(centres, [str(c) for c in classes])
    axis.set_xlabel("stored code (digit class)")
    axis.set_ylabel("stored code (digit class)")
    axis.set_title("overlap of stored codes")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
