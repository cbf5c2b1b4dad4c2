"""Classification experiment: one pass over ``train_per_class`` images per class, test on the rest.

Reports the Hebbian read-out's accuracy, training and test seconds, the exact
nearest-stored-code accuracy, and 1-nearest-neighbour on the same binarised inputs
(Hamming distance) computed in the same run for reference.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from memory.config import CSAConfig, HierarchyConfig, LevelConfig
from memory.data import ImageSet, load_digits, load_mnist5k, split_per_class
from memory.model import ClassifierConfig, MemoryClassifier
from memory.preprocess import PreprocessConfig, preprocess

__all__ = ["ClassifyConfig", "default_model", "knn1_accuracy", "load_images", "run_classify"]

log = logging.getLogger(__name__)
DATASETS = ("mnist5k", "digits")


@dataclass(frozen=True)
class ClassifyConfig:
    """Attributes:
    dataset: "mnist5k" or "digits".
    train_per_class: training images per class (one pass); the rest are the test set.
    test_limit: test on at most this many of the remaining images (0: all).
    preprocess: grey image → binary frame.
    cms, cells_per_cm: Q and K of the mac.
    sigmoid_center: c of the V → μ sigmoid.
    normalise: U normalisation ("max" or "active", see :class:`memory.config.CSAConfig`).
    """

    dataset: str = "mnist5k"
    train_per_class: int = 200
    test_limit: int = 0
    preprocess: PreprocessConfig = field(default_factory=lambda: PreprocessConfig(deskew=True, shape=(14, 14), threshold=0.5))
    cms: int = 8
    cells_per_cm: int = 2048
    sigmoid_center: float = 0.9
    normalise: str = "max"

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"ClassifyConfig.dataset: expected one of {DATASETS}, found {self.dataset!r}")
        if self.train_per_class < 1:
            raise ValueError(f"ClassifyConfig.train_per_class: expected >= 1, found {self.train_per_class}")


def load_images(name: str) -> ImageSet:
    """The grey images of dataset ``name`` ("mnist5k" or "digits")."""
    if name == "mnist5k":
        return load_mnist5k()
    if name == "digits":
        return load_digits()
    raise ValueError(f"dataset: expected one of {DATASETS}, found {name!r}")


def default_model(shape: tuple[int, int], config: ClassifyConfig, n_classes: int) -> ClassifierConfig:
    """One mac over the whole frame with many cells per CM (see the module docstring)."""
    csa = CSAConfig(
        cms=config.cms, cells_per_cm=config.cells_per_cm, sigmoid_center=config.sigmoid_center,
        normalise=config.normalise, freeze_fraction=1.0,
    )
    level = LevelConfig(grid=(1, 1), rf=tuple(shape), csa=csa)
    return ClassifierConfig(hierarchy=HierarchyConfig(input_shape=tuple(shape), levels=(level,)), n_classes=n_classes)


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


def run_classify(config: ClassifyConfig, seed: int = 0, progress: bool = False, images: ImageSet | None = None) -> dict:
    """Train in one pass, test on the remaining images; returns the metrics.

    Returns:
        ``accuracy``, ``train_seconds``, ``test_seconds``, ``knn1_accuracy``,
        ``nearest_code_accuracy``, ``preprocess_seconds``, sizes, and the model under
        ``"model"`` (not JSON; the CLI saves it).
    """
    images = load_images(config.dataset) if images is None else images
    if images.images.shape[0] == 0:
        raise ValueError(f"dataset {config.dataset!r}: expected images, found an empty dataset")
    start = time.perf_counter()
    frames = preprocess(images.images, config.preprocess)
    preprocess_seconds = time.perf_counter() - start
    train_index, test_index = split_per_class(images.labels, config.train_per_class, seed)
    if test_index.size == 0:
        raise ValueError(f"train_per_class={config.train_per_class} leaves no test images in {config.dataset!r}")
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
    knn = knn1_accuracy(frames[train_index], images.labels[train_index], frames[test_index], test_labels)
    log.info("accuracy %.4f (1-NN %.4f) in %.1f s training", accuracy, knn, train_seconds)
    return {
        "dataset": config.dataset,
        "train_items": int(train_index.size),
        "test_items": int(test_index.size),
        "accuracy": accuracy,
        "train_seconds": train_seconds,
        "test_seconds": test_seconds,
        "knn1_accuracy": knn,
        "nearest_code_accuracy": nearest,
        "preprocess_seconds": preprocess_seconds,
        "frame_shape": list(frames.shape[1:]),
        "model": model,
    }
