"""Classification experiment: one pass over ``train_per_class`` images per class, test on the rest.

The model is a two-level hierarchy (Rinkus 2014, Fig. 3). Each image is preprocessed
into several binary channels (by default the filled digit at 16 × 16, its edges at
14 × 14 and its skeleton at 28 × 28, all deskewed; Rinkus 2017 uses skeletons), laid
side by side (:func:`memory.preprocess.tile_channels`); level 0 has one mac per channel,
level 1 one mac whose RF is all of level 0. The Hebbian class read-out is over the codes
of every level (``readout="all"``) or of the top level only (``"top"``). U sums are
normalised by ``max(active inputs, the cell's set weights)`` (``normalise="max"``):
Sparsey's division by the active inputs alone lets a few cells absorb every input.

Reports the read-out's accuracy, training and test seconds, the exact
nearest-stored-code accuracy, and 1-nearest-neighbour (Hamming distance) on the same
binary frames (all channels) and on each channel alone, computed in the same run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from memory.config import CSAConfig, HierarchyConfig, LevelConfig
from memory.data import ImageSet, load_digits, load_mnist5k, split_per_class
from memory.experiments import DATASETS, ClassifyConfig, default_channels
from memory.model import ClassifierConfig, MemoryClassifier
from memory.preprocess import tile_channels
from sparse_core.infra.errors import InputError

__all__ = [
    "ClassifyConfig",
    "default_channels",
    "default_model",
    "knn1_accuracy",
    "load_images",
    "run_classify",
    "train_and_test",
]

log = logging.getLogger(__name__)


def load_images(name: str) -> ImageSet:
    """The grey images of dataset ``name`` ("mnist5k" or "digits")."""
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

    def csa(cms: int, cells_per_cm: int) -> CSAConfig:
        return CSAConfig(
            cms=cms, cells_per_cm=cells_per_cm, sigmoid_center=config.sigmoid_center,
            normalise=config.normalise, freeze_fraction=1.0,
        )

    levels = [LevelConfig(grid=(1, channels), rf=(shape[0], shape[1] // channels), csa=csa(config.cms, config.cells_per_cm))]
    if config.top_cells_per_cm:
        levels.append(LevelConfig(grid=(1, 1), rf=(1, channels), csa=csa(config.top_cms, config.top_cells_per_cm)))
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


def run_classify(
    config: ClassifyConfig, folder: Path | None = None, *, seed: int = 0, progress: bool = False,
    images: ImageSet | None = None,
) -> dict:
    """Train in one pass, test on the remaining images, save the model into ``folder``.

    Returns:
        The JSON-safe metrics of :func:`train_and_test`; the model is ``folder/model.npz``
        (and ``model.json``, :meth:`memory.model.MemoryClassifier.save`) when ``folder`` is given.
    """
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
    images = load_images(config.dataset) if images is None else images
    if images.images.shape[0] == 0:
        raise InputError(f"dataset {config.dataset!r}: expected images, found an empty dataset")
    start = time.perf_counter()
    frames = tile_channels(images.images, config.preprocessing)
    preprocess_seconds = time.perf_counter() - start
    train_index, test_index = split_per_class(images.labels, config.train_per_class, seed)
    if test_index.size == 0:
        raise InputError(f"train_per_class={config.train_per_class} leaves no test images in {config.dataset!r}")
    if config.test_limit:
        test_index = np.sort(np.random.default_rng(seed).choice(test_index, min(config.test_limit, test_index.size), replace=False))
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
    return model, {
        "dataset": config.dataset,
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
