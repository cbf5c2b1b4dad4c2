"""Classification experiment: one pass over ``train_per_class`` images per class, test on the rest.

The model is a two-level hierarchy (Rinkus 2014, Fig. 3). Each image is preprocessed
into several binary channels (by default the filled digit at 16 × 16, its edges at
14 × 14 and its skeleton at 28 × 28, all deskewed; Rinkus 2017 uses skeletons), laid
side by side (:func:`memory.preprocess.tile_channels`); level 0 has one mac per channel,
level 1 one mac whose RF is all of level 0. The Hebbian class read-out is over the codes
of every level (``readout="all"``) or of the top level only (``"top"``). U sums are
normalised by ``max(active inputs, the cell's set weights)`` (``normalise="max"``):
Sparsey's division by the active inputs alone lets a few cells absorb every input.

The images are a built-in dataset or the user's own (``data``: an MNIST-format CSV or a
folder of PNGs per class, read by :mod:`memory.data` with the same checks), preprocessed
the same way. With ``validation_per_class``, part of each class's training images is
held out and the accuracy is measured on it instead of the test set (for choosing
settings; the test images are then never looked at).

Reports the read-out's accuracy, training and test seconds, the exact
nearest-stored-code accuracy, and, computed in the same run on the same split:
1-nearest-neighbour (Hamming distance) on the same binary frames (all channels, and each
channel alone), 1-NN (Euclidean) on the raw grey pixels, and a linear classifier
(logistic regression) on the memory's codes; the full CSA configuration of every level.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from memory.config import HierarchyConfig, LevelConfig
from memory.data import ImageSet, load_digits, load_images_file, load_mnist5k, split_per_class
from memory.experiments import DATASETS, ClassifyConfig, default_channels
from memory.model import ClassifierConfig, MemoryClassifier
from memory.persist import remove_partial_files
from memory.preprocess import tile_channels
from sparse_core.infra.errors import InputError
from sparse_core.infra.runtime import config_to_dict

__all__ = [
    "ClassifyConfig",
    "default_channels",
    "default_model",
    "knn1_accuracy",
    "knn1_pixels_accuracy",
    "linear_on_codes_accuracy",
    "load_images",
    "run_classify",
    "train_and_test",
]

log = logging.getLogger(__name__)


def load_images(name: str, data: Path | None = None) -> ImageSet:
    """The grey images of dataset ``name`` ("mnist5k" or "digits"), or of the user's ``data`` file or folder."""
    if data is not None:
        return load_images_file(data)
    if name == "mnist5k":
        return load_mnist5k()
    if name == "digits":
        return load_digits()
    raise ValueError(f"dataset: expected one of {DATASETS}, found {name!r}")


def default_model(shape: tuple[int, int], config: ClassifyConfig, n_classes: int) -> ClassifierConfig:
    """One level-0 mac per channel tile of a ``shape`` frame, then (optionally) one level-1 mac."""
    channels = len(config.channels)
    if shape[1] % channels:
        raise ValueError(f"frames: expected a width divisible by the {channels} channels, found {shape[0]}x{shape[1]}")
    levels = [
        LevelConfig(
            grid=(1, channels), rf=(shape[0], shape[1] // channels), csa=config.csa.mac(config.cms, config.cells_per_cm)
        )
    ]
    if config.top_cells_per_cm:
        levels.append(
            LevelConfig(grid=(1, 1), rf=(1, channels), csa=config.csa.mac(config.top_cms, config.top_cells_per_cm))
        )
    readout_levels = tuple(range(len(levels))) if config.readout == "all" else (len(levels) - 1,)
    hierarchy = HierarchyConfig(input_shape=tuple(shape), levels=tuple(levels))
    return ClassifierConfig(hierarchy=hierarchy, n_classes=n_classes, readout_levels=readout_levels)


def knn1_accuracy(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray) -> float:
    """1-nearest-neighbour accuracy by Hamming distance on binary frames (chunked)."""
    a = train.reshape(len(train), -1).astype(np.float32)
    norms = a.sum(axis=1)
    correct = 0
    for start in range(0, len(test), 500):
        b = test[start : start + 500].reshape(-1, a.shape[1]).astype(np.float32)
        distance = norms[None, :] + b.sum(axis=1)[:, None] - 2 * b @ a.T
        correct += int((train_labels[distance.argmin(axis=1)] == test_labels[start : start + 500]).sum())
    return correct / len(test)


def knn1_pixels_accuracy(
    train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray
) -> float:
    """1-nearest-neighbour accuracy by Euclidean distance on the raw grey images (chunked)."""
    a = train.reshape(len(train), -1).astype(np.float32)
    norms = (a * a).sum(axis=1)
    correct = 0
    for start in range(0, len(test), 500):
        b = test[start : start + 500].reshape(-1, a.shape[1]).astype(np.float32)
        distance = norms[None, :] - 2 * b @ a.T
        correct += int((train_labels[distance.argmin(axis=1)] == test_labels[start : start + 500]).sum())
    return correct / len(test)


def linear_on_codes_accuracy(
    train_cells: np.ndarray, train_labels: np.ndarray, test_cells: np.ndarray, test_labels: np.ndarray, n_cells: int
) -> float:
    """Accuracy of a multinomial logistic regression on the codes (one feature per cell, active or not).

    Trained on the codes stored while learning, tested on the recognised test codes.
    """
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    def features(cells: np.ndarray) -> csr_matrix:
        rows, columns = np.nonzero(cells >= 0)
        return csr_matrix((np.ones(rows.size, np.float32), (rows, cells[rows, columns])), shape=(len(cells), n_cells))

    model = LogisticRegression(max_iter=300, C=1.0)
    model.fit(features(train_cells), train_labels)
    return float((model.predict(features(test_cells)) == test_labels).mean())


def run_classify(
    config: ClassifyConfig,
    folder: Path | None = None,
    *,
    seed: int = 0,
    progress: bool = False,
    images: ImageSet | None = None,
) -> dict:
    """Train in one pass, test on the remaining images, save the model into ``folder``.

    Returns:
        The JSON-safe metrics of :func:`train_and_test`; the model is ``folder/model.npz``
        (and ``model.json``, :meth:`memory.model.MemoryClassifier.save`) when ``folder`` is given.
    """
    remove_partial_files(folder)
    model, metrics = train_and_test(config, seed=seed, progress=progress, images=images)
    if folder is not None:
        model.save(Path(folder) / "model")
    return metrics


def train_and_test(
    config: ClassifyConfig, *, seed: int = 0, progress: bool = False, images: ImageSet | None = None
) -> tuple[MemoryClassifier, dict]:
    """Train in one pass, test on the remaining images; returns the model and the metrics.

    Args:
        images: the images to use instead of loading ``config.dataset``.

    Returns:
        The trained classifier and the metrics: ``accuracy``, ``train_seconds``,
        ``test_seconds``, ``knn1_accuracy`` (and per channel), ``nearest_code_accuracy``,
        ``preprocess_seconds``, sizes.

    Raises:
        InputError: an empty image set.
    """
    images = load_images(config.dataset, config.data) if images is None else images
    where = str(config.data) if config.data is not None else f"dataset {config.dataset!r}"
    if images.images.shape[0] == 0:
        raise InputError(f"{where}: expected images, found an empty dataset")
    _check_class_sizes(images, config, where)
    start = time.perf_counter()
    frames = tile_channels(images.images, config.preprocessing(images.images.shape[1:]))
    preprocess_seconds = time.perf_counter() - start
    train_index, test_index = split_per_class(images.labels, config.train_per_class, seed)
    evaluated_on = "test"
    if config.validation_per_class:
        train_index, test_index = _carve_validation(images.labels, train_index, config.validation_per_class)
        evaluated_on = "validation"
    if test_index.size == 0:
        raise InputError(f"train_per_class={config.train_per_class} leaves no test images in {where}")
    if config.test_limit:
        test_index = np.sort(
            np.random.default_rng(seed).choice(test_index, min(config.test_limit, test_index.size), replace=False)
        )
    n_classes = int(images.labels.max()) + 1
    model = MemoryClassifier(default_model(frames.shape[1:], config, n_classes), seed=seed)
    start = time.perf_counter()
    model.fit(frames[train_index], images.labels[train_index], progress=progress)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    test_cells = model.codes(frames[test_index], progress=progress)
    predicted = model.readout_.predict(test_cells)
    test_seconds = time.perf_counter() - start
    test_labels = images.labels[test_index]
    accuracy = float((predicted == test_labels).mean())
    nearest = float((model.nearest_code_predict(test_cells) == test_labels).mean())
    train_labels = images.labels[train_index]
    knn = knn1_accuracy(frames[train_index], train_labels, frames[test_index], test_labels)
    tiles = np.split(frames, len(config.channels), axis=2)
    knn_channels = [knn1_accuracy(t[train_index], train_labels, t[test_index], test_labels) for t in tiles]
    log.info("accuracy %.4f (1-NN %.4f) in %.1f s training", accuracy, knn, train_seconds)
    metrics = {
        "dataset": images.name if config.data is not None else config.dataset,
        "evaluated_on": evaluated_on,
        "train_items": int(train_index.size),
        "test_items": int(test_index.size),
        "accuracy": accuracy,
        "train_seconds": train_seconds,
        "test_seconds": test_seconds,
        "knn1_accuracy": knn,
        "knn1_accuracy_per_channel": knn_channels,
        "nearest_code_accuracy": nearest,
        "preprocess_seconds": preprocess_seconds,
        "frame_shape": list(frames.shape[1:]),
    }
    if config.baselines:
        metrics["knn1_pixels_accuracy"] = knn1_pixels_accuracy(
            images.images[train_index], train_labels, images.images[test_index], test_labels
        )
        metrics["linear_on_codes_accuracy"] = linear_on_codes_accuracy(
            model.train_cells_, model.train_labels_, test_cells, test_labels, model.readout_.n_cells
        )
    metrics["memory_bytes"] = int(sum(level.weight_bytes for level in model.hierarchy_.levels))
    metrics["csa"] = config_to_dict(config.csa)
    metrics["levels"] = [config_to_dict(level) for level in model.config.hierarchy.levels]
    if config.data is not None:
        metrics["class_names"] = list(images.class_names)
        metrics["malformed_skipped"] = list(images.malformed)
    return model, metrics


def _check_class_sizes(images: ImageSet, config: ClassifyConfig, where: str) -> None:
    """Every class needs more images than ``train_per_class`` (so that it keeps test images)."""
    counts = np.bincount(images.labels)
    names = images.class_names or tuple(str(i) for i in range(len(counts)))
    if np.count_nonzero(counts) < 2:
        raise InputError(f"{where}: expected images of at least two classes, found {np.count_nonzero(counts)}")
    small = [(names[i], int(c)) for i, c in enumerate(counts) if c <= config.train_per_class]
    if small:
        shown = ", ".join(f"{name!r} ({count})" for name, count in small[:5])
        raise InputError(
            f"{where}: --train-per-class {config.train_per_class} needs more images than that in every class, so that "
            f"each keeps test images; classes with too few: {shown}"
        )


def _carve_validation(labels: np.ndarray, train_index: np.ndarray, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Split the training indices: the last ``per_class`` of each class (in presentation order) validate."""
    keep = np.ones(train_index.size, dtype=bool)
    for label in np.unique(labels[train_index]):
        members = np.flatnonzero(labels[train_index] == label)
        keep[members[-per_class:]] = False
    return train_index[keep], np.sort(train_index[~keep])
