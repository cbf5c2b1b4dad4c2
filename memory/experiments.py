"""The settings of the memory's four experiments: classify, capacity, timing, sequence.

One config per command of ``sparseworks memory`` (``docs/architecture.md``, "Configs and
commands"). Every command nests the same :class:`~memory.config.CSASettings` (one memory,
one set of settings: familiarity → choice, normalisation, freezing); only the sizes of
the macs differ, and each config says why. Capacity and timing share one grid of memory
sizes (:class:`SizeGrid`). The module imports no numerical library, so that ``--help``
stays fast; the experiments themselves live in :mod:`memory.classify`,
:mod:`memory.capacity`, :mod:`memory.timing` and :mod:`memory.sequence`, which re-export
their config.
"""

from __future__ import annotations

import math
from pathlib import Path

from memory.config import CSASettings, PreprocessConfig
from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, setting

__all__ = [
    "CHANNEL_NAMES",
    "DATASETS",
    "RECALL_THRESHOLD",
    "WILLSHAW_BITS_PER_SYNAPSE",
    "CapacityConfig",
    "ClassifyConfig",
    "MemorySize",
    "SequenceConfig",
    "SizeGrid",
    "TimingConfig",
    "default_channels",
    "item_grid",
    "log_grid",
]

DATASETS = ("mnist5k", "digits")
#: images in the smallest class of each dataset (MNIST-5k: 500 a class; digits: 174 eights)
SMALLEST_CLASS = {"mnist5k": 500, "digits": 174}
CHANNEL_NAMES = ("filled", "edges", "skeleton")
READOUTS = ("all", "top")
SEQUENCE_DATASETS = ("basicmotions",)
#: recall (fraction of queries whose code matches) that counts as "holding" N items
RECALL_THRESHOLD = 0.9
#: ln 2: the Willshaw bound on the information stored per binary synapse (bits)
WILLSHAW_BITS_PER_SYNAPSE = math.log(2)
#: user images at least this many pixels a side get the MNIST preprocessing, smaller ones the digits one
LARGE_IMAGE_SIDE = 20
#: the largest packed weights a command may ask for (bytes)
MAX_WEIGHT_BYTES = 8 * 2**30


def log_grid(low: int, high: int, mantissas: tuple[int, ...] = (1, 3)) -> tuple[int, ...]:
    """The numbers m·10^e (m in ``mantissas``, default 1, 3) between ``low`` and ``high``, both included."""
    return tuple(sorted({m * 10**e for e in range(10) for m in mantissas if low <= m * 10**e <= high}))


def item_grid(low: int, high: int) -> tuple[int, ...]:
    """The N grid of the capacity curves: 1, 2, 3, 5, 7 × 10^e from ``low`` to ``high`` (``high`` included)."""
    return tuple(sorted({*log_grid(low, high, (1, 2, 3, 5, 7)), high}))


def default_channels(
    dataset: str, names: tuple[str, ...] = CHANNEL_NAMES, image_shape: tuple[int, int] | None = None
) -> tuple[PreprocessConfig, ...]:
    """The preprocessing of each named channel ("filled", "edges", "skeleton") for a dataset.

    MNIST (28 × 28) is deskewed; the filled digit is resized to 16 × 16, the edges taken
    at 14 × 14, the skeleton at full size. The 8 × 8 digits are upsampled to 16 × 16. The
    user's images (``dataset`` "file") get the MNIST preprocessing when both sides are at
    least 20 pixels (the skeleton then at 28 × 28), else the digits one.

    Raises:
        ConfigError: no names, or a name that is not a channel.
    """
    large = image_shape is not None and min(image_shape) >= LARGE_IMAGE_SIDE
    if dataset == "mnist5k" or (dataset == "file" and large):
        skeleton_shape = (0, 0) if dataset == "mnist5k" else (28, 28)
        presets = {
            "filled": PreprocessConfig(deskew=True, shape=(16, 16), threshold=0.5),
            "edges": PreprocessConfig(deskew=True, shape=(14, 14), threshold=0.5, filter="edges"),
            "skeleton": PreprocessConfig(deskew=True, shape=skeleton_shape, threshold=0.5, filter="skeleton"),
        }
    else:
        presets = {
            name: PreprocessConfig(deskew=False, shape=(16, 16), threshold=0.4, filter=kind)
            for name, kind in (("filled", "none"), ("edges", "edges"), ("skeleton", "skeleton"))
        }
    unknown = [name for name in names if name not in presets]
    if unknown or not names:
        raise ConfigError(f"channels: expected names among {CHANNEL_NAMES}, found {list(names)}", field="channels")
    return tuple(presets[name] for name in names)


@config
class ClassifyConfig:
    """What ``memory classify`` learns in one pass and tests.

    The macs are larger than those of capacity and timing (K = 2,048 at level 0): images
    of one class share most of their pixels, so their codes must differ in a few cells,
    and a class read-out needs many cells per module to keep classes apart.

    Attributes:
        dataset: the images: mnist5k (5,000 real MNIST digits, 28 x 28) or digits
            (scikit-learn's 1,797 digits, 8 x 8); ignored when --data is given.
        data: the user's images instead of --dataset: an MNIST-format CSV (784 pixels
            0-255 and the label per row, plain or gzip) or a folder with one sub-folder of
            PNG images per class.
        train_per_class: training images per class, learned in one pass; the other images
            are the test set.
        validation_per_class: hold out this many of each class's training images as a
            validation set and report accuracy on it instead of the test set (0: test),
            for choosing settings without touching the test images.
        test_limit: test on at most this many of the other images (0: all of them).
        channels: input channels, one level-0 mac each, preprocessed for the dataset:
            filled (the filled digit), edges (its boundary), skeleton (its thinned strokes).
        cms: Q, competitive modules per level-0 mac.
        cells_per_cm: K, cells per competitive module of the level-0 macs.
        top_cms: Q, competitive modules of the level-1 mac.
        top_cells_per_cm: K, cells per competitive module of the level-1 mac (0: no level 1).
        readout: the class read-out is over the codes of all levels or of the top level.
        baselines: also compute 1-NN on raw pixels and a linear classifier on the memory's codes.
        csa: the code selection settings shared by every memory command.
    """

    dataset: str = setting("mnist5k", choices=DATASETS)
    data: Path | None = setting(None)
    train_per_class: int = setting(200, ge=1)
    validation_per_class: int = setting(0, ge=0)
    test_limit: int = setting(0, ge=0)
    channels: tuple[str, ...] = setting(CHANNEL_NAMES, choices=CHANNEL_NAMES)
    cms: int = setting(8, ge=1, le=4096)
    cells_per_cm: int = setting(2048, ge=2, le=65536)
    top_cms: int = setting(8, ge=1, le=4096)
    top_cells_per_cm: int = setting(1024, ge=0, le=65536)
    readout: str = setting("all", choices=READOUTS)
    baselines: bool = setting(True)
    csa: CSASettings = setting(factory=CSASettings)

    def __post_init__(self) -> None:
        if not self.channels:
            raise ConfigError("ClassifyConfig.channels: give at least one channel", field="channels")
        if len(set(self.channels)) != len(self.channels):
            raise ConfigError(
                f"ClassifyConfig.channels: each channel once, found {list(self.channels)}", field="channels"
            )
        if self.top_cells_per_cm == 1:
            raise ConfigError(
                "ClassifyConfig.top_cells_per_cm: a module needs at least 2 cells (0: no level 1)",
                field="top_cells_per_cm",
            )
        if self.validation_per_class >= self.train_per_class:
            raise ConfigError(
                f"ClassifyConfig.validation_per_class ({self.validation_per_class}) must be smaller than "
                f"train_per_class ({self.train_per_class}): some training images must remain to learn from",
                field="validation_per_class",
            )
        if self.weight_bytes_bound > MAX_WEIGHT_BYTES:
            raise ConfigError(
                f"ClassifyConfig: macs of Q={self.cms} x K={self.cells_per_cm} (level 1: Q={self.top_cms} x "
                f"K={self.top_cells_per_cm}) need up to {self.weight_bytes_bound / 2**30:.0f} GiB of weights, more "
                f"than {MAX_WEIGHT_BYTES // 2**30} GiB; use fewer cells",
                field="cells_per_cm",
            )
        if self.data is not None:
            if not Path(self.data).exists():
                raise ConfigError(f"ClassifyConfig.data: {self.data}: no such file or folder", field="data")
            return
        smallest = SMALLEST_CLASS[self.dataset]
        if self.train_per_class >= smallest:
            raise ConfigError(
                f"ClassifyConfig.train_per_class must be below {smallest} (the images of the smallest class of "
                f"{self.dataset}), so that every class keeps test images; got {self.train_per_class}",
                field="train_per_class",
            )

    @property
    def weight_bytes_bound(self) -> int:
        """Packed weight bytes of the hierarchy for frames of 28 × 28 tiles (the largest preprocessing)."""
        cells, top = self.cms * self.cells_per_cm, self.top_cms * self.top_cells_per_cm
        channels = len(self.channels)
        return channels * 28 * 28 * cells // 8 + channels * cells * top // 8

    @property
    def source(self) -> str:
        """Where the images come from: the dataset's name, or "file" for --data."""
        return "file" if self.data is not None else self.dataset

    def preprocessing(self, image_shape: tuple[int, int] | None = None) -> tuple[PreprocessConfig, ...]:
        """The preprocessing of each channel for this source (:func:`default_channels`)."""
        return default_channels(self.source, self.channels, image_shape)


@config
class SizeGrid:
    """Memory sizes, one per position of the lists (a list of length 1 applies to every size).

    The default grid spans 0.3 to 84 million synapses: one mac of Q modules of K cells
    over random patterns of ``active`` on bits out of ``inputs``, and two two-level
    hierarchies.

    Attributes:
        inputs: bits of a random pattern, per size.
        active: on bits of a random pattern, per size.
        cms: Q, competitive modules of each mac, per size.
        cells_per_cm: K, cells per competitive module of each mac, per size.
        macs: level-0 macs, per size: 1 for one mac; M > 1 for a two-level hierarchy of M
            level-0 macs (each over inputs / M bits) and one level-1 mac over their cells.
    """

    inputs: tuple[int, ...] = setting((784, 1024, 2048, 2048, 4096, 4096, 4096, 8192, 16384), ge=2)
    active: tuple[int, ...] = setting((40, 16, 16, 32, 16, 32, 16, 16, 16), ge=1)
    cms: tuple[int, ...] = setting((24, 16, 16, 16, 16, 16, 16, 16, 16), ge=1, le=1024)
    cells_per_cm: tuple[int, ...] = setting((16, 32, 64, 64, 128, 256, 256, 256, 256), ge=2, le=65536)
    macs: tuple[int, ...] = setting((1, 1, 1, 4, 1, 4, 1, 1, 1), ge=1, le=64)

    def __post_init__(self) -> None:
        lists = {name: getattr(self, name) for name in ("inputs", "active", "cms", "cells_per_cm", "macs")}
        lengths = {len(values) for values in lists.values()} - {1}
        if any(not values for values in lists.values()) or len(lengths) > 1:
            shown = ", ".join(f"{name} {len(values)}" for name, values in lists.items())
            raise ConfigError(
                f"SizeGrid: expected lists of one common length (or of length 1), found {shown}", field="inputs"
            )
        for size in self.sizes:
            if size.active >= size.inputs:
                raise ConfigError(
                    f"SizeGrid.active ({size.active}) must be smaller than inputs ({size.inputs})", field="active"
                )
            if size.inputs % size.macs:
                raise ConfigError(
                    f"SizeGrid.macs ({size.macs}) must divide inputs ({size.inputs}): each level-0 mac takes an "
                    "equal slice",
                    field="macs",
                )
            if size.active < size.macs:
                raise ConfigError(
                    f"SizeGrid.active ({size.active}) must be at least macs ({size.macs}) so that every "
                    "level-0 mac can be active",
                    field="active",
                )
            if size.synapses > 2**31:
                raise ConfigError(
                    f"SizeGrid: a memory of {size.synapses:,} synapses (more than 2^31) does not fit", field="inputs"
                )

    @property
    def sizes(self) -> tuple[MemorySize, ...]:
        """The sizes, in order of position."""
        count = max(len(getattr(self, name)) for name in ("inputs", "active", "cms", "cells_per_cm", "macs"))

        def pick(values: tuple[int, ...], i: int) -> int:
            return values[0] if len(values) == 1 else values[i]

        return tuple(
            MemorySize(
                pick(self.inputs, i),
                pick(self.active, i),
                pick(self.cms, i),
                pick(self.cells_per_cm, i),
                pick(self.macs, i),
            )
            for i in range(count)
        )


class MemorySize:
    """One memory size of a :class:`SizeGrid`; its synapse count and Willshaw-type bound.

    Args:
        inputs, active, cms, cells_per_cm, macs: as :class:`SizeGrid`.
    """

    def __init__(self, inputs: int, active: int, cms: int, cells_per_cm: int, macs: int) -> None:
        self.inputs, self.active, self.cms, self.cells_per_cm, self.macs = inputs, active, cms, cells_per_cm, macs

    def __repr__(self) -> str:
        return f"MemorySize({self.name})"

    def as_dict(self) -> dict[str, int]:
        return {
            "inputs": self.inputs,
            "active": self.active,
            "cms": self.cms,
            "cells_per_cm": self.cells_per_cm,
            "macs": self.macs,
        }

    @property
    def name(self) -> str:
        """``inputs/active Q×K`` (and ``M macs + top`` for a hierarchy)."""
        shape = f"{self.inputs}/{self.active} Q{self.cms}xK{self.cells_per_cm}"
        return shape if self.macs == 1 else f"{shape} {self.macs} macs + top"

    @property
    def levels(self) -> tuple[tuple[int, int, int, int], ...]:
        """Per level: (macs, inputs per mac, active inputs per mac, Q)."""
        cells = self.cms * self.cells_per_cm
        if self.macs == 1:
            return ((1, self.inputs, self.active, self.cms),)
        return (
            (self.macs, self.inputs // self.macs, -(-self.active // self.macs), self.cms),
            (1, self.macs * cells, self.macs * self.cms, self.cms),
        )

    @property
    def synapses(self) -> int:
        """U synapses (binary weights) of all levels."""
        cells = self.cms * self.cells_per_cm
        return sum(macs * inputs * cells for macs, inputs, _, _ in self.levels)

    @property
    def code_bits(self) -> float:
        """Information of one stored code: Σ over the macs of Q·log2 K (bits)."""
        return sum(macs * q * math.log2(self.cells_per_cm) for macs, _, _, q in self.levels)

    @property
    def willshaw_items(self) -> int:
        """A Willshaw-type bound on the items a mac holds: ln 2 · synapses / (active inputs · Q), least over levels.

        Each stored item sets about (active inputs × Q) of a mac's synapses; beyond
        ln 2 · synapses / (active × Q) items, more than half of them are set.
        """
        cells = self.cms * self.cells_per_cm
        return int(min(math.log(2) * inputs * cells / (active * q) for _, inputs, active, q in self.levels))


def _check_noise(noise: tuple[float, ...], grid: SizeGrid, field: str) -> None:
    for size in grid.sizes:
        moved = round(max(noise) * size.active)
        if moved > size.inputs - size.active:
            raise ConfigError(
                f"noise: moving {moved} on bits needs as many off bits; a pattern of {size.name} has "
                f"{size.inputs - size.active}",
                field=field,
            )


@config
class CapacityConfig:
    """What ``memory capacity`` stores and recalls, for every memory size of the grid.

    Attributes:
        grid: the memory sizes (shared with memory timing).
        max_items: largest N (stored items) of the grid 10, 20, 30, 50, 70, 100, ...
        noise: fractions of a pattern's on bits moved to off positions at recall.
        queries: stored items recalled per (N, noise).
        match_fraction: fraction of the competitive modules whose winner must match the
            stored code for a correct recall.
        stop_below: stop growing a memory once its recall without noise is below this.
        classes: random labels of the stored items, read out by the Hebbian read-out.
        csa: the code selection settings shared by every memory command.
    """

    grid: SizeGrid = setting(factory=SizeGrid)
    max_items: int = setting(100000, ge=1, le=10**7)
    noise: tuple[float, ...] = setting((0.0, 0.1, 0.2, 0.3, 0.4), ge=0.0, le=1.0)
    queries: int = setting(100, ge=1)
    match_fraction: float = setting(0.9, gt=0.0, le=1.0)
    stop_below: float = setting(0.5, ge=0.0, le=1.0)
    classes: int = setting(10, ge=2)
    csa: CSASettings = setting(factory=CSASettings)

    def __post_init__(self) -> None:
        if not self.noise:
            raise ConfigError("CapacityConfig.noise: give at least one noise level", field="noise")
        _check_noise(self.noise, self.grid, "noise")

    @property
    def counts(self) -> tuple[int, ...]:
        """The N grid: 10, 20, 30, 50, 70, 100, ... up to ``max_items`` (just ``max_items`` below 10)."""
        return item_grid(10, self.max_items) if self.max_items >= 10 else (self.max_items,)


@config
class TimingConfig:
    """What ``memory timing`` stores and times, within capacity.

    At every N the memory is the smallest size of the grid that holds N items at recall
    >= 0.9 (tried in order of synapses, from the size before the first whose Willshaw-type
    bound reaches N); a row whose recall stays below 0.9 is kept with its recall but gives
    no ratio.

    Attributes:
        grid: the memory sizes (shared with memory capacity).
        min_items: smallest N (stored items) timed; the grid is min_items, the numbers
            1, 3, 10, 30, 100, ... in between, and max_items.
        max_items: largest N (stored items) timed.
        queries: timed retrievals per N.
        query_noise: fraction of a query's on bits moved to off positions (best-match retrieval).
        beta: inverse temperature of the modern Hopfield softmax.
        classes: classes of the fixed-time Hebbian read-out.
        ann: the approximate nearest-neighbour peer: faiss (a binary HNSW index, when faiss
            is installed) or none.
        csa: the code selection settings shared by every memory command.
    """

    grid: SizeGrid = setting(factory=SizeGrid)
    min_items: int = setting(1000, ge=1)
    max_items: int = setting(100000, ge=1, le=10**7)
    queries: int = setting(200, ge=1)
    query_noise: float = setting(0.1, ge=0.0, lt=1.0)
    beta: float = setting(8.0, gt=0.0)
    classes: int = setting(10, ge=2)
    ann: str = setting("faiss", choices=("faiss", "none"))
    csa: CSASettings = setting(factory=CSASettings)

    def __post_init__(self) -> None:
        if self.min_items >= self.max_items:
            raise ConfigError(
                f"TimingConfig.min_items ({self.min_items}) must be smaller than max_items "
                f"({self.max_items}): the grid needs two sizes",
                field="min_items",
            )
        _check_noise((self.query_noise,), self.grid, "query_noise")

    @property
    def counts(self) -> tuple[int, ...]:
        """The N grid: ``min_items``, the numbers 1, 3, 10, 30, ... between, ``max_items``."""
        return tuple(sorted({*log_grid(self.min_items, self.max_items), self.min_items, self.max_items}))

    @property
    def sizes(self) -> tuple[int, ...]:
        """The N grid (the name the notebook and older callers use): :attr:`counts`."""
        return self.counts


def _sequence_csa() -> CSASettings:
    return CSASettings(normalise="active")


@config
class SequenceConfig:
    """What ``memory sequence`` learns.

    The mac is small (Q = 8, K = 128): 40 training sequences of 20 frames. U sums are
    normalised by the active inputs (normalise=active) rather than the shared default:
    every frame has exactly one active bit per channel, so no cell absorbs more inputs
    than the others, and "max" divides the sums of the cells that H weights share between
    sequences by their fan-in, so a learned sequence no longer reads as familiar
    (BasicMotions, seed 0: mean G of learned / shuffled order 0.92 / 0.36 with active,
    0.17 / 0.07 with max; accuracy with H 0.975 and 1.0, without H 0.25 and 0.925).

    Attributes:
        dataset: the sequences: basicmotions (UEA BasicMotions, 40 + 40 sequences of 100
            frames x 6 channels, 4 classes); ignored with --train-file and --test-file.
        train_file: the user's training sequences, a .ts file (multivariate, equal
            length, class labels; plain or gzip); needs --test-file.
        test_file: the user's test sequences, a .ts file with the same classes.
        window: frames averaged into one.
        bins: quantisation bins per channel (one active bit each).
        cms: Q, competitive modules of the mac.
        cells_per_cm: K, cells per competitive module of the mac.
        csa: the code selection settings shared by every memory command.
    """

    dataset: str = setting("basicmotions", choices=SEQUENCE_DATASETS)
    train_file: Path | None = setting(None)
    test_file: Path | None = setting(None)
    window: int = setting(5, ge=1)
    bins: int = setting(12, ge=2, le=1000)
    cms: int = setting(8, ge=1, le=1024)
    cells_per_cm: int = setting(128, ge=2, le=65536)
    csa: CSASettings = setting(factory=_sequence_csa)

    def __post_init__(self) -> None:
        if self.cms * self.cells_per_cm > 2**22:
            raise ConfigError(
                f"SequenceConfig: a mac of Q={self.cms} x K={self.cells_per_cm} cells (more than 2^22) does not fit",
                field="cells_per_cm",
            )
        if (self.train_file is None) != (self.test_file is None):
            given = "train_file" if self.train_file is not None else "test_file"
            raise ConfigError(
                f"SequenceConfig: --train-file and --test-file go together; only {given} was given", field=given
            )
        for name in ("train_file", "test_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"SequenceConfig.{name}: {path}: no such file", field=name)
