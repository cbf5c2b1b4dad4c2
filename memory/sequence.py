"""Sequence memory on BasicMotions: horizontal (H) weights, order discriminability.

Each sequence (frames × channels) is averaged over windows of ``window`` frames and
every channel value is coded as one active bit out of ``bins`` (quantiles of the
training data), so a frame is a binary (channels, bins) image. One mac (U over the whole
frame, H from its own previous code) learns every training sequence once. Classes are
read out by summing the Hebbian class scores of every frame's code.

Order discriminability (Rinkus 2014, §3.3): the training sequences are presented again
in their learned order and with shuffled frames, with the U-only back-off disabled; the
mean G over frames (from the second on) is ``g_learned`` and ``g_shuffled``.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from memory.config import HierarchyConfig, LevelConfig
from memory.data import SequenceSet, load_basicmotions, read_ts
from memory.experiments import SequenceConfig
from memory.hierarchy import Hierarchy
from memory.readout import HebbianReadout, cell_indices
from sparse_core.infra.errors import ConfigError, InputError
from sparse_core.infra.runtime import config_to_dict

__all__ = ["SequenceConfig", "encode_sequences", "run_sequence"]


def encode_sequences(values: np.ndarray, edges: np.ndarray, window: int) -> np.ndarray:
    """Window-average and quantise sequences into binary frames.

    Args:
        values: (n, frames, channels) raw values.
        edges: (channels, bins - 1) bin edges.
        window: frames per averaging window.

    Returns:
        (n, frames // window, channels, bins) bool.

    Raises:
        ConfigError: a window longer than the sequences.
    """
    n, frames, channels = values.shape
    usable = frames // window * window
    if usable == 0:
        raise ConfigError(
            f"window: expected at most {frames} frames (the length of a sequence), found {window}", field="window"
        )
    pooled = values[:, :usable].reshape(n, usable // window, window, channels).mean(axis=2)
    index = np.stack([np.searchsorted(edges[c], pooled[..., c]) for c in range(channels)], axis=-1)
    bins = edges.shape[1] + 1
    return np.eye(bins, dtype=bool)[index]


def _model(config: SequenceConfig, channels: int, with_h: bool, seed: int) -> Hierarchy:
    csa = config.csa.mac(config.cms, config.cells_per_cm)
    level = LevelConfig(grid=(1, 1), rf=(channels, config.bins), h_radius=0 if with_h else -1, csa=csa)
    return Hierarchy(HierarchyConfig(input_shape=(channels, config.bins), levels=(level,)), seed=seed)


def _sequence_cells(
    model: Hierarchy, frames: np.ndarray, learn: bool, u_fallback: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    model.reset()
    cells, gs = [], []
    k = model.config.levels[0].csa.cells_per_cm
    for frame in frames:
        step = model.present(frame, learn=learn)[0]
        cells.append(cell_indices([step.codes[None]], [k])[0])
        gs.append(step.g[0])
    return np.stack(cells), np.array(gs)


def run_sequence(
    config: SequenceConfig,
    *,
    seed: int = 0,
    progress: bool = False,
    data: tuple[SequenceSet, SequenceSet] | None = None,
) -> dict:
    """Accuracy with and without H weights, and order discriminability (mean G).

    Args:
        data: (train, test) sequences to use instead of loading ``config.dataset``.

    Returns:
        ``accuracy_with_h``, ``accuracy_without_h``, ``g_learned``, ``g_shuffled``.
    """
    where = f"{config.train_file} / {config.test_file}" if config.train_file is not None else config.dataset
    if data is not None:
        train, test = data
    elif config.train_file is not None:
        train, test = read_ts(config.train_file), read_ts(config.test_file)
    else:
        train, test = load_basicmotions()
    if train.values.shape[0] == 0 or test.values.shape[0] == 0:
        raise InputError(f"{where}: expected training and test sequences, found an empty set")
    if train.values.shape[2] != test.values.shape[2]:
        raise InputError(
            f"{where}: training sequences have {train.values.shape[2]} channels, test sequences {test.values.shape[2]}"
        )
    if train.class_names != test.class_names:
        raise InputError(
            f"{where}: the training and test files list different classes ({list(train.class_names)} vs "
            f"{list(test.class_names)})"
        )
    channels = train.values.shape[2]
    quantiles = np.linspace(0, 1, config.bins + 1)[1:-1]
    edges = np.quantile(train.values.reshape(-1, channels), quantiles, axis=0).T
    train_frames = encode_sequences(train.values, edges, config.window)
    test_frames = encode_sequences(test.values, edges, config.window)
    n_classes = int(max(train.labels.max(), test.labels.max())) + 1
    metrics: dict = {}
    rng = np.random.default_rng(seed)
    for with_h in (True, False):
        model = _model(config, channels, with_h, seed)
        model_config = model.config
        readout = HebbianReadout(model_config.levels[0].csa.cells, n_classes)
        for frames, label in tqdm(
            list(zip(train_frames, train.labels)), disable=not progress, desc="sequences", leave=False
        ):
            cells, _ = _sequence_cells(model, frames, learn=True)
            readout.fit(cells, np.full(len(cells), label))
        predicted = [
            readout.scores(_sequence_cells(model, frames, learn=False)[0]).sum(axis=0).argmax()
            for frames in test_frames
        ]
        metrics["accuracy_with_h" if with_h else "accuracy_without_h"] = float(
            (np.array(predicted) == test.labels).mean()
        )
        if with_h:
            strict = Hierarchy(
                HierarchyConfig(input_shape=model_config.input_shape, levels=model_config.levels, u_fallback=False),
                seed=seed,
            )
            strict.load_state_dict(model.state_dict())
            learned, shuffled = [], []
            for frames in train_frames:
                learned.append(_sequence_cells(strict, frames, learn=False)[1][1:].mean())
                shuffled.append(
                    _sequence_cells(strict, frames[rng.permutation(len(frames))], learn=False)[1][1:].mean()
                )
            metrics["g_learned"] = float(np.mean(learned))
            metrics["g_shuffled"] = float(np.mean(shuffled))
    metrics.update(
        {
            "train_sequences": int(train_frames.shape[0]),
            "test_sequences": int(test_frames.shape[0]),
            "frames_per_sequence": int(train_frames.shape[1]),
            "csa": config_to_dict(config.csa),
            "levels": [config_to_dict(level) for level in model_config.levels],
        }
    )
    return metrics
