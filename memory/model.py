"""The memory as a classifier: a hierarchy of macs plus a Hebbian class read-out.

``fit`` presents every training frame once (single-trial learning, Rinkus 2014) and adds
its code to the read-out; ``predict`` recognises a frame (argmax V, back-off) and reads
the class out in fixed time. ``nearest_code_predict`` is the exact baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from memory.config import HierarchyConfig
from memory.hierarchy import Hierarchy, check_binary_frames
from memory.persist import load_arrays, model_paths, save_arrays
from memory.readout import HebbianReadout, NearestCode, cell_indices
from sparse_core.infra.errors import ConfigError, InputError

__all__ = ["ClassifierConfig", "MemoryClassifier"]


@dataclass(frozen=True)
class ClassifierConfig:
    """A hierarchy and its class read-out.

    Attributes:
        hierarchy: the macs.
        n_classes: number of classes of the read-out.
        readout_levels: which levels' codes feed the read-out (default: the top level).
    """

    hierarchy: HierarchyConfig = field(default_factory=HierarchyConfig)
    n_classes: int = 10
    readout_levels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.n_classes < 1:
            raise ConfigError(f"ClassifierConfig.n_classes: expected at least 1 class, found {self.n_classes}")
        levels = len(self.hierarchy.levels)
        if any(not 0 <= level < levels for level in self.readout_levels):
            raise ConfigError(
                f"ClassifierConfig.readout_levels: expected levels in 0..{levels - 1}, found {self.readout_levels}"
            )


class MemoryClassifier:
    """Single-pass SDR classifier. Learned state: ``hierarchy_``, ``readout_``, ``train_cells_``.

    Args:
        config: the model's configuration.
        seed: seed of its random generator.
    """

    def __init__(self, config: ClassifierConfig, seed: int = 0) -> None:
        self.config = config
        self.seed = seed
        self.hierarchy_ = Hierarchy(config.hierarchy, seed=seed)
        levels = config.readout_levels or (len(config.hierarchy.levels) - 1,)
        self.levels = tuple(levels)
        self._ks = [config.hierarchy.levels[i].csa.cells_per_cm for i in self.levels]
        n_cells = sum(config.hierarchy.levels[i].n_macs * config.hierarchy.levels[i].csa.cells for i in self.levels)
        self.readout_ = HebbianReadout(n_cells, config.n_classes)
        self.train_cells_: np.ndarray | None = None
        self.train_labels_: np.ndarray | None = None

    def _cells(self, frames: np.ndarray, learn: bool, progress: bool) -> np.ndarray:
        frames = check_binary_frames(frames, self.config.hierarchy.input_shape)
        rows = []
        for frame in tqdm(frames, disable=not progress, desc="learning" if learn else "recognising", leave=False):
            self.hierarchy_.reset()
            steps = self.hierarchy_.present(frame, learn=learn)
            rows.append(cell_indices([steps[i].codes[None] for i in self.levels], self._ks)[0])
        return np.stack(rows)

    def fit(self, frames: np.ndarray, labels: np.ndarray, progress: bool = False) -> MemoryClassifier:
        """One pass over binary frames (n, rows, cols) with labels (n,) in [0, n_classes).

        Raises:
            ValueError: frames of the wrong size or not binary, an empty set, labels
                that do not match the frames or lie outside [0, n_classes).
        """
        labels = np.asarray(labels)
        frames = check_binary_frames(frames, self.config.hierarchy.input_shape)
        if labels.shape != (frames.shape[0],):
            raise ValueError(f"labels: expected shape ({frames.shape[0]},) (one per frame), found {labels.shape}")
        if labels.min() < 0 or labels.max() >= self.config.n_classes:
            raise ValueError(
                f"labels: expected integers in [0, {self.config.n_classes}), found {labels.min()}..{labels.max()}"
            )
        cells = self._cells(frames, learn=True, progress=progress)
        self.readout_.fit(cells, labels)
        self.train_cells_ = cells if self.train_cells_ is None else np.concatenate([self.train_cells_, cells])
        self.train_labels_ = labels if self.train_labels_ is None else np.concatenate([self.train_labels_, labels])
        return self

    def codes(self, frames: np.ndarray, progress: bool = False) -> np.ndarray:
        """Recognised codes of frames as active-cell indices. (n, active cells)"""
        return self._cells(frames, learn=False, progress=progress)

    def predict(self, frames: np.ndarray, progress: bool = False) -> np.ndarray:
        """Classes by the Hebbian read-out (fixed time per query). (n,)"""
        return self.readout_.predict(self.codes(frames, progress))

    def nearest_code_predict(self, cells: np.ndarray) -> np.ndarray:
        """Classes of the nearest stored training codes (exact baseline) for recognised ``cells``."""
        if self.train_cells_ is None:
            raise ValueError("nearest_code_predict: the model has stored no items yet; call fit first")
        return NearestCode().fit(self.train_cells_, self.train_labels_).predict(cells)

    # ------------------------------------------------------------------ persistence

    def save(self, path: Path | str) -> Path:
        """Write ``path.npz`` (weights as packed bits, read-out counts) and ``path.json``."""
        arrays = {**self.hierarchy_.state_dict(), **{f"readout.{k}": v for k, v in self.readout_.state_dict().items()}}
        if self.train_cells_ is not None:
            arrays["train_cells"] = self.train_cells_
            arrays["train_labels"] = self.train_labels_
        arrays["seed"] = np.array(self.seed)
        return save_arrays(path, "memory.MemoryClassifier", self.config, arrays)

    @classmethod
    def load(cls, path: Path | str, expected: ClassifierConfig | None = None) -> MemoryClassifier:
        """Rebuild a saved classifier; ``expected`` refuses a differing configuration.

        The arrays' shapes are checked against the configuration before the model is
        built, so that a damaged description cannot make it allocate what the file
        does not hold.

        Raises:
            FileNotFoundError: a missing ``.npz`` or ``.json`` file.
            InputError: see :func:`memory.persist.load_arrays`; also an array that is
                missing or does not fit the configuration (the file and array are named).
        """
        config, arrays = load_arrays(path, "memory.MemoryClassifier", ClassifierConfig, expected)
        npz_path = model_paths(path)[0]
        try:
            _check_sizes(config, arrays)
            seed = np.asarray(arrays["seed"])
            if seed.shape != () or seed.dtype.kind not in "iu" or not 0 <= int(seed) < 2**63:
                raise ValueError(f"seed: expected a non-negative integer scalar, found {seed.dtype} {seed.shape}")
            model = cls(config, seed=int(seed))
            model.hierarchy_.load_state_dict({k: v for k, v in arrays.items() if k.startswith("level")})
            model.readout_.load_state_dict(
                {k[len("readout.") :]: v for k, v in arrays.items() if k.startswith("readout.")}
            )
            if "train_cells" in arrays:
                model.train_cells_, model.train_labels_ = _checked_training_codes(model, arrays)
        except KeyError as error:
            raise InputError(f"{npz_path}: missing array {error}; the file does not hold a saved model") from None
        except ValueError as error:
            raise InputError(f"{npz_path}: saved arrays do not fit the saved configuration: {error}") from None
        return model


def _check_sizes(config: ClassifierConfig, arrays: dict[str, np.ndarray]) -> None:
    """Compare the U weights and read-out counts in ``arrays`` with the sizes ``config`` implies.

    Raises:
        KeyError, ValueError: a missing array or one of another shape.
    """
    below_cells, total_cells = 1, 0
    levels = config.hierarchy.levels
    for number, level in enumerate(levels):
        cells = level.csa.cells
        shape = (level.n_macs, level.rf[0] * level.rf[1] * below_cells, -(-cells // 8))
        found = np.shape(arrays[f"level{number}.w_u"])
        if found != shape:
            raise ValueError(f"level{number}.w_u: expected shape {shape}, found {found}")
        below_cells = cells
    readout_levels = config.readout_levels or (len(levels) - 1,)
    total_cells = sum(levels[i].n_macs * levels[i].csa.cells for i in readout_levels)
    found = np.shape(arrays["readout.counts"])
    if found != (total_cells + 1, config.n_classes):
        raise ValueError(f"readout.counts: expected shape {(total_cells + 1, config.n_classes)}, found {found}")


def _checked_training_codes(model: MemoryClassifier, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    cells, labels = np.asarray(arrays["train_cells"]), np.asarray(arrays["train_labels"])
    width = sum(
        model.config.hierarchy.levels[i].n_macs * model.config.hierarchy.levels[i].csa.cms for i in model.levels
    )
    if cells.ndim != 2 or cells.shape[1] != width or cells.dtype.kind not in "iu":
        raise ValueError(f"train_cells: expected integers of shape (n, {width}), found {cells.dtype} {cells.shape}")
    if cells.size and (cells.min() < -1 or cells.max() >= model.readout_.n_cells):
        raise ValueError(
            f"train_cells: expected cell indices in [-1, {model.readout_.n_cells}), found {cells.min()}..{cells.max()}"
        )
    if labels.shape != (cells.shape[0],) or labels.dtype.kind not in "iu":
        raise ValueError(f"train_labels: expected {cells.shape[0]} integer labels, found {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= model.config.n_classes):
        raise ValueError(
            f"train_labels: expected labels in [0, {model.config.n_classes}), found {labels.min()}..{labels.max()}"
        )
    return cells.astype(np.int64), labels.astype(np.int64)
