"""The settings of the memory's four experiments: classify, capacity, timing, sequence.

One config per command of ``sparseworks memory`` (``docs/architecture.md``, "Configs and
commands"). The module imports no numerical library, so that ``--help`` stays fast; the
experiments themselves live in :mod:`memory.classify`, :mod:`memory.capacity`,
:mod:`memory.timing` and :mod:`memory.sequence`, which re-export their config.
"""

from __future__ import annotations

from memory.config import PreprocessConfig
from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, setting

__all__ = [
    "CHANNEL_NAMES",
    "DATASETS",
    "CapacityConfig",
    "ClassifyConfig",
    "SequenceConfig",
    "TimingConfig",
    "default_channels",
    "log_grid",
]

DATASETS = ("mnist5k", "digits")
#: images in the smallest class of each dataset (MNIST-5k: 500 a class; digits: 174 eights)
SMALLEST_CLASS = {"mnist5k": 500, "digits": 174}
CHANNEL_NAMES = ("filled", "edges", "skeleton")
READOUTS = ("all", "top")
NORMALISATIONS = ("max", "active")
SEQUENCE_DATASETS = ("basicmotions",)


def log_grid(low: int, high: int) -> tuple[int, ...]:
    """The numbers 1, 3, 10, 30, 100, ... (up to 3·10^9) between ``low`` and ``high``, both included."""
    return tuple(n for n in (m * 10**e for e in range(10) for m in (1, 3)) if low <= n <= high)


def default_channels(dataset: str, names: tuple[str, ...] = CHANNEL_NAMES) -> tuple[PreprocessConfig, ...]:
    """The preprocessing of each named channel ("filled", "edges", "skeleton") for a dataset.

    MNIST (28 × 28) is deskewed; the filled digit is resized to 16 × 16, the edges taken
    at 14 × 14, the skeleton at full size. The 8 × 8 digits are upsampled to 16 × 16.

    Raises:
        ConfigError: no names, or a name that is not a channel.
    """
    if dataset == "mnist5k":
        presets = {
            "filled": PreprocessConfig(deskew=True, shape=(16, 16), threshold=0.5),
            "edges": PreprocessConfig(deskew=True, shape=(14, 14), threshold=0.5, filter="edges"),
            "skeleton": PreprocessConfig(deskew=True, shape=(0, 0), threshold=0.5, filter="skeleton"),
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

    Attributes:
        dataset: the images: mnist5k (5,000 real MNIST digits, 28 x 28) or digits
            (scikit-learn's 1,797 digits, 8 x 8).
        train_per_class: training images per class, learned in one pass; the other images
            are the test set.
        test_limit: test on at most this many of the other images (0: all of them).
        channels: input channels, one level-0 mac each, preprocessed for the dataset:
            filled (the filled digit), edges (its boundary), skeleton (its thinned strokes).
        cms: Q, competitive modules per level-0 mac.
        cells_per_cm: K, cells per competitive module of the level-0 macs.
        top_cms: Q, competitive modules of the level-1 mac.
        top_cells_per_cm: K, cells per competitive module of the level-1 mac (0: no level 1).
        sigmoid_center: c, the input match V (0 to 1) at the midpoint of the V -> mu sigmoid.
        normalise: how U sums are normalised: max (by the larger of the active inputs and
            the cell's set weights) or active (by the active inputs, as in Sparsey).
        readout: the class read-out is over the codes of all levels or of the top level.
    """

    dataset: str = setting("mnist5k", choices=DATASETS)
    train_per_class: int = setting(200, ge=1)
    test_limit: int = setting(0, ge=0)
    channels: tuple[str, ...] = setting(CHANNEL_NAMES, choices=CHANNEL_NAMES)
    cms: int = setting(8, ge=1)
    cells_per_cm: int = setting(2048, ge=2)
    top_cms: int = setting(8, ge=1)
    top_cells_per_cm: int = setting(1024, ge=0)
    sigmoid_center: float = setting(0.9, ge=0.0, le=1.0)
    normalise: str = setting("max", choices=NORMALISATIONS)
    readout: str = setting("all", choices=READOUTS)

    def __post_init__(self) -> None:
        if not self.channels:
            raise ConfigError("ClassifyConfig.channels: give at least one channel", field="channels")
        if self.top_cells_per_cm == 1:
            raise ConfigError("ClassifyConfig.top_cells_per_cm: a module needs at least 2 cells (0: no level 1)",
                              field="top_cells_per_cm")
        smallest = SMALLEST_CLASS[self.dataset]
        if self.train_per_class >= smallest:
            raise ConfigError(
                f"ClassifyConfig.train_per_class must be below {smallest} (the images of the smallest class of "
                f"{self.dataset}), so that every class keeps test images; got {self.train_per_class}",
                field="train_per_class",
            )

    @property
    def preprocessing(self) -> tuple[PreprocessConfig, ...]:
        """The preprocessing of each channel, for this dataset (:func:`default_channels`)."""
        return default_channels(self.dataset, self.channels)


@config
class CapacityConfig:
    """What ``memory capacity`` stores and recalls.

    Attributes:
        inputs: bits of a random pattern.
        active: on bits of a random pattern.
        cms: Q, competitive modules of the mac.
        cells_per_cm: K, cells per competitive module of the mac.
        max_items: largest N (stored items) of the log grid 10, 30, 100, 300, ...
        noise: fractions of a pattern's on bits moved to off positions at recall.
        queries: stored items recalled per (N, noise).
        match_fraction: fraction of the competitive modules whose winner must match the
            stored code for a correct recall.
        normalise: how U sums are normalised: max (by the larger of the active inputs and
            the cell's set weights) or active (by the active inputs).
        sigmoid_center: c, the input match V (0 to 1) at the midpoint of the V -> mu sigmoid.
    """

    inputs: int = setting(784, ge=2)
    active: int = setting(40, ge=1)
    cms: int = setting(24, ge=1)
    cells_per_cm: int = setting(16, ge=2)
    max_items: int = setting(100000, ge=1)
    noise: tuple[float, ...] = setting((0.0, 0.1, 0.2, 0.4), ge=0.0, le=1.0)
    queries: int = setting(100, ge=1)
    match_fraction: float = setting(0.9, gt=0.0, le=1.0)
    normalise: str = setting("max", choices=NORMALISATIONS)
    sigmoid_center: float = setting(0.9, ge=0.0, le=1.0)

    def __post_init__(self) -> None:
        _check_patterns(self)
        if not self.noise:
            raise ConfigError("CapacityConfig.noise: give at least one noise level", field="noise")
        moved = round(max(self.noise) * self.active)
        if moved > self.inputs - self.active:
            raise ConfigError(f"CapacityConfig.noise: moving {moved} on bits needs as many off bits; a pattern has "
                              f"{self.inputs - self.active}", field="noise")

    @property
    def sizes(self) -> tuple[int, ...]:
        """The N grid: 10, 30, 100, ... up to ``max_items`` (just ``max_items`` below 10)."""
        return log_grid(10, self.max_items) or (self.max_items,)


@config
class TimingConfig:
    """What ``memory timing`` stores and times.

    Attributes:
        inputs: bits of a random pattern.
        active: on bits of a random pattern.
        cms: Q, competitive modules of the mac.
        cells_per_cm: K, cells per competitive module of the mac.
        min_items: smallest N (stored items) timed; the grid is min_items, the numbers
            1, 3, 10, 30, 100, ... in between, and max_items.
        max_items: largest N (stored items) timed.
        queries: timed retrievals per N.
        beta: inverse temperature of the modern Hopfield softmax.
        classes: classes of the fixed-time Hebbian read-out.
    """

    inputs: int = setting(784, ge=2)
    active: int = setting(40, ge=1)
    cms: int = setting(24, ge=1)
    cells_per_cm: int = setting(16, ge=2)
    min_items: int = setting(1000, ge=1)
    max_items: int = setting(100000, ge=1)
    queries: int = setting(200, ge=1)
    beta: float = setting(8.0, gt=0.0)
    classes: int = setting(10, ge=2)

    def __post_init__(self) -> None:
        _check_patterns(self)
        if self.min_items >= self.max_items:
            raise ConfigError(f"TimingConfig.min_items ({self.min_items}) must be smaller than max_items "
                              f"({self.max_items}): the grid needs two sizes", field="min_items")

    @property
    def sizes(self) -> tuple[int, ...]:
        """The N grid: ``min_items``, the numbers 1, 3, 10, 30, ... between, ``max_items``."""
        return tuple(sorted({*log_grid(self.min_items, self.max_items), self.min_items, self.max_items}))


@config
class SequenceConfig:
    """What ``memory sequence`` learns.

    Attributes:
        dataset: the sequences: basicmotions (UEA BasicMotions, 40 + 40 sequences of 100
            frames x 6 channels, 4 classes).
        window: frames averaged into one.
        bins: quantisation bins per channel (one active bit each).
        cms: Q, competitive modules of the mac.
        cells_per_cm: K, cells per competitive module of the mac.
        normalise: how U sums are normalised: active (by the active inputs) or max (by the
            larger of the active inputs and the cell's set weights).
        sigmoid_center: c, the input match V (0 to 1) at the midpoint of the V -> mu sigmoid.
    """

    dataset: str = setting("basicmotions", choices=SEQUENCE_DATASETS)
    window: int = setting(5, ge=1)
    bins: int = setting(12, ge=2)
    cms: int = setting(8, ge=1)
    cells_per_cm: int = setting(128, ge=2)
    normalise: str = setting("active", choices=NORMALISATIONS)
    sigmoid_center: float = setting(0.9, ge=0.0, le=1.0)


def _check_patterns(settings: CapacityConfig | TimingConfig) -> None:
    if settings.active >= settings.inputs:
        raise ConfigError(f"{type(settings).__name__}.active ({settings.active}) must be smaller than inputs "
                          f"({settings.inputs})", field="active")
