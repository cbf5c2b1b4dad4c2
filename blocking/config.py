"""The settings of the blocking-science commands (torch-free, so that ``--help`` stays fast).

One config class per command of the study of Zhang, Finkel, Abbot, Gerber & Weare
(JGR: Machine Learning and Computation, 2024; protocol from the authors' code,
hzhang-math/BlockingSHAPTL): ``events`` (:class:`EventsConfig`), ``dataset``
(:class:`DatasetConfig`), ``train`` (:class:`TrainConfig`), ``explain``
(:class:`ExplainConfig`), ``sparse-model`` (:class:`SparseModelConfig`), ``transfer``
(:class:`TransferConfig`) and ``era5-request`` (:class:`Era5RequestConfig`). Each is
consumed by one library function (``blocking.events.run_events``, ...) that takes the
config and a run folder and returns JSON-safe metrics (``docs/architecture.md``, "Configs
and commands"). The module imports nothing numerical.
"""

from __future__ import annotations

from pathlib import Path

from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, setting

__all__ = [
    "ATLANTIC_BOX",
    "LEVELS_HPA",
    "CNNConfig",
    "DatasetConfig",
    "Era5RequestConfig",
    "EventsConfig",
    "ExplainConfig",
    "FitConfig",
    "IndexConfig",
    "LearningCurveConfig",
    "ReanalysisConfig",
    "SparseModelConfig",
    "SplitConfig",
    "TrainConfig",
    "TransferConfig",
    "check_box",
]

ATLANTIC_BOX = (60.0, 64.0, -4.0, 4.0)
"""The authors' index box: 60–64°N × 4°W–4°E as (south, north, west, east) degrees."""
LEVELS_HPA = (200.0, 500.0, 800.0)
"""The three levels of the QG3 model and of the CNN input."""
ANOMALIES = ("auto", "time_mean", "climatology")
CORIOLIS = ("reference", "local")
SOURCES = ("auto", "qg3", "reanalysis")
COORDINATE_ROLES = ("time", "level", "lat", "lon", "member")
IMBALANCE = ("balanced_batches", "class_weights", "none")


def check_box(box: tuple[float, ...], field: str, owner: str) -> None:
    """Fail unless ``box`` is (south, north, west, east) degrees with south ≤ north inside [−90, 90].

    West may exceed east: the box then wraps around (``(60, 64, 350, 10)`` is the same as
    ``(60, 64, -10, 10)``); west = east is a single meridian, east = west + 360 the whole circle.
    """
    if len(box) != 4:
        raise ConfigError(f"{owner}.{field} must be 4 numbers south,north,west,east (degrees); got {box}", field=field)
    south, north, west, east = box
    if not -90.0 <= south <= north <= 90.0:
        raise ConfigError(
            f"{owner}.{field}: need -90 <= south <= north <= 90, got south {south}, north {north}", field=field
        )


@config
class IndexConfig:
    """How Z′ and the blocking index are computed (Zhang et al. 2024 and the authors' code).

    Attributes:
        box: index box south,north,west,east in degrees (the authors' 60-64N, 4W-4E); west
            greater than east crosses 0 on 0-360 grids the same way.
        threshold_m: onset threshold M on the box mean of Z'500 in metres (100 m in the
            model, 150 m in ERA5).
        threshold_percentile: give M as this percentile of the index instead of metres.
        anomaly: Z' = Z - time mean (time_mean, the model), - a day-of-year climatology
            (climatology, reanalyses), or auto (time_mean for model output, climatology for
            dated files).
        climatology_window_days: width of the running window of the day-of-year climatology.
        lowpass_days: cut-off period of the Butterworth low-pass, forward-backward (0: off).
        lowpass_order: order of the Butterworth filter (the authors' 2).
        coriolis: Z = psi f0 / g with f0 at f0_latitude (reference, the authors' choice) or
            with the local Coriolis parameter (local).
        f0_latitude: latitude of the reference Coriolis parameter f0 in degrees north.
        tm_delta: Tibaldi-Molteni latitude shifts -delta, 0, +delta in degrees.
        tm_gradient: Tibaldi-Molteni northern gradient bound GHGN in metres per degree latitude.
        skip_days: leading days of each member dropped (the spin-up).
    """

    box: tuple[float, ...] = setting(ATLANTIC_BOX, ge=-360.0, le=360.0)
    threshold_m: float = setting(100.0, gt=0.0)
    threshold_percentile: float | None = setting(None, gt=0.0, lt=100.0)
    anomaly: str = setting("auto", choices=ANOMALIES)
    climatology_window_days: int = setting(31, ge=1, le=365)
    lowpass_days: float = setting(3.0, ge=0.0)
    lowpass_order: int = setting(2, ge=1, le=8)
    coriolis: str = setting("reference", choices=CORIOLIS)
    f0_latitude: float = setting(60.0, gt=0.0, le=90.0)
    tm_delta: float = setting(4.0, ge=0.0, le=10.0)
    tm_gradient: float = setting(-10.0, lt=0.0)
    skip_days: int = setting(0, ge=0)

    def __post_init__(self) -> None:
        check_box(self.box, "box", "IndexConfig")
        if 0.0 < self.lowpass_days <= 2.0:
            raise ConfigError(
                f"IndexConfig.lowpass_days must be 0 (off) or longer than 2 days, the Nyquist period "
                f"of daily data; got {self.lowpass_days}",
                field="lowpass_days",
            )
        if self.climatology_window_days % 2 == 0:
            raise ConfigError(
                f"IndexConfig.climatology_window_days must be odd (centred window), got {self.climatology_window_days}",
                field="climatology_window_days",
            )


@config
class ReanalysisConfig:
    """How a reanalysis file is read (ERA5 from either CDS layout, or another reanalysis by mapping).

    Attributes:
        variable: name of the geopotential (height) variable (default: found by its
            standard name or as z, hgt, zg, geopotential).
        units: units of the variable when the file gives none or wrong ones (m, gpm, dam,
            m2 s-2).
        level_hpa: pressure level of a file without a vertical coordinate (one level per file).
        coordinates: names of the file's coordinates where they are not found from CF
            attributes or usual names, as role=name (roles time, level, lat, lon, member).
        season: months kept: DJF (December-February) or all.
        grid_nlat: Gaussian latitudes of the model grid the fields are regridded to (T21: 32).
    """

    variable: str | None = None
    units: str | None = None
    level_hpa: float | None = setting(None, gt=0.0, le=1100.0)
    coordinates: tuple[str, ...] = setting(())
    season: str = setting("DJF", choices=("DJF", "all"))
    grid_nlat: int = setting(32, ge=4, le=512)

    def __post_init__(self) -> None:
        if self.grid_nlat % 2:
            raise ConfigError(f"ReanalysisConfig.grid_nlat must be even, got {self.grid_nlat}", field="grid_nlat")
        for item in self.coordinates:
            role, _, name = item.partition("=")
            if role not in COORDINATE_ROLES or not name:
                raise ConfigError(
                    f"ReanalysisConfig.coordinates: expected role=name with a role among "
                    f"{', '.join(COORDINATE_ROLES)}; got {item!r}",
                    field="coordinates",
                )

    @property
    def coordinate_names(self) -> dict[str, str]:
        """The ``coordinates`` mapping as a dict role -> name."""
        return dict(item.split("=", 1) for item in self.coordinates)


@config
class EventsConfig:
    """What ``blocking events`` computes: Z', the index, onsets, durations, frequencies, the catalogue.

    Attributes:
        inputs: QG3 output.nc (psi or z500) or reanalysis NetCDF / ZIP files, comma-separated.
        source: qg3 (a blocking simulate output), reanalysis, or auto (by the file's variables).
        index: the anomaly and index settings.
        reanalysis: how reanalysis files are read.
        persistence_days: D: an event is persistent when it lasts at least D days.
        netcdf: also write the catalogue and the frequencies as NetCDF.
    """

    inputs: tuple[str, ...] = setting()
    source: str = setting("auto", choices=SOURCES)
    index: IndexConfig = setting(factory=IndexConfig)
    reanalysis: ReanalysisConfig = setting(factory=ReanalysisConfig, prefix="reanalysis-")
    persistence_days: int = setting(5, ge=1)
    netcdf: bool = setting(True)

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ConfigError("EventsConfig.inputs: give at least one input file", field="inputs")


@config
class SplitConfig:
    """How onsets are split into training, validation and test sets (never across a block).

    Attributes:
        by: time (contiguous time blocks within each member) or member (whole members).
        train_fraction: share of time blocks (or members) used for training.
        validation_fraction: share used for validation (early stopping, model choice);
            the rest is the test set.
        block_days: length of a time block in days; an event never straddles two blocks.
        shuffle_blocks: assign blocks to splits at random (seeded) instead of in time order
            (the authors: first 80% train, last 20% test).
    """

    by: str = setting("time", choices=("time", "member"))
    train_fraction: float = setting(0.8, gt=0.0, lt=1.0)
    validation_fraction: float = setting(0.1, gt=0.0, lt=1.0)
    block_days: int = setting(365, ge=1)
    shuffle_blocks: bool = setting(False)

    def __post_init__(self) -> None:
        if self.train_fraction + self.validation_fraction >= 1.0:
            raise ConfigError(
                f"SplitConfig: train_fraction + validation_fraction must leave a test set; got "
                f"{self.train_fraction} + {self.validation_fraction}",
                field="validation_fraction",
            )


@config
class DatasetConfig:
    """What ``blocking dataset`` builds: one standardised sample per onset, with labels and splits.

    Attributes:
        inputs: QG3 output.nc or reanalysis files, comma-separated.
        source: qg3, reanalysis or auto.
        index: the anomaly and index settings (the onsets).
        reanalysis: how reanalysis files are read.
        split: the training / validation / test split.
        persistence_days: D: label 1 when the event lasts at least D days (5, 7, 9).
        lat_min: southern edge of the input in degrees north (the authors' 20N).
        format: netcdf (dataset.nc) or npz (dataset.npz).
        seed: the random assignment of blocks (with shuffle_blocks).
    """

    inputs: tuple[str, ...] = setting()
    source: str = setting("auto", choices=SOURCES)
    index: IndexConfig = setting(factory=IndexConfig)
    reanalysis: ReanalysisConfig = setting(factory=ReanalysisConfig, prefix="reanalysis-")
    split: SplitConfig = setting(factory=SplitConfig, prefix="split-")
    persistence_days: int = setting(5, ge=1)
    lat_min: float = setting(20.0, ge=-90.0, lt=90.0)
    format: str = setting("netcdf", choices=("netcdf", "npz"))
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ConfigError("DatasetConfig.inputs: give at least one input file", field="inputs")


@config
class CNNConfig:
    """The convolutional network (default: the authors' layout).

    Attributes:
        channels: output channels of the 3x3 convolutions (the authors' 32,64,64); a 2x2
            max-pool follows every convolution but the last.
        dense: width of the dense layer before the 2 logits.
        kernel: convolution kernel size.
        padding: valid (the authors', on their 18x90 input) or same (keeps the small T21
            input, 12x64 north of 20N, from shrinking to nothing).
    """

    channels: tuple[int, ...] = setting((32, 64, 64), ge=1)
    dense: int = setting(64, ge=1)
    kernel: int = setting(3, ge=1, le=9)
    padding: str = setting("same", choices=("valid", "same"))

    def __post_init__(self) -> None:
        if not self.channels:
            raise ConfigError("CNNConfig.channels: give at least one convolution", field="channels")


@config
class FitConfig:
    """How ``blocking train`` and ``blocking learning-curve`` fit the CNN, test it and compare baselines.

    Attributes:
        dataset: dataset.nc or dataset.npz written by blocking dataset.
        persistence_days: relabel with this D (default: the dataset's own D).
        cnn: the network.
        epochs: most training epochs (the authors' 30).
        batch_size: mini-batch size (balanced batches hold half of each class).
        learning_rate: Adam learning rate.
        imbalance: balanced_batches (the authors'), class_weights or none.
        patience: epochs without a better validation loss before stopping (0: never stop early).
        seeds: networks trained from seeds seed, seed+1, ... (the authors' 10); metrics are
            reported as mean and standard deviation.
        bootstrap: bootstrap resamples of the test set for the confidence intervals.
        seed: initialisation and batch order of the first network; the bootstrap.
    """

    dataset: Path = setting(Path("dataset.nc"))
    persistence_days: int | None = setting(None, ge=1)
    cnn: CNNConfig = setting(factory=CNNConfig)
    epochs: int = setting(30, ge=1)
    batch_size: int = setting(64, ge=2)
    learning_rate: float = setting(1e-3, gt=0.0, le=1.0, cli="--lr")
    imbalance: str = setting("balanced_batches", choices=IMBALANCE)
    patience: int = setting(5, ge=0)
    seeds: int = setting(1, ge=1)
    bootstrap: int = setting(1000, ge=0)
    seed: int = 0


@config
class TrainConfig(FitConfig):
    """What ``blocking train`` fits: the CNN on a dataset, with baselines and bootstrap CIs.

    Attributes:
        train_days: train on the first N days of the training split only (member by member,
            in time order), standardised with their own statistics (default: all of it).
    """

    train_days: int | None = setting(None, ge=1)


@config
class LearningCurveConfig:
    """What ``blocking learning-curve`` measures: the CNN's test skill against the days it trained on.

    Attributes:
        fit: the training of every point (dataset, network, epochs, seeds, bootstrap).
        train_days: training days of the points, the first N days of the training split each
            (the authors' 1,000, 10,000 and 100,000).
    """

    fit: FitConfig = setting(factory=FitConfig)
    train_days: tuple[int, ...] = setting((1000, 10000, 100000), ge=1)

    def __post_init__(self) -> None:
        if not self.train_days:
            raise ConfigError("LearningCurveConfig.train_days: give at least one number of days", field="train_days")
        if list(self.train_days) != sorted(set(self.train_days)):
            raise ConfigError(
                f"LearningCurveConfig.train_days must increase, got {list(self.train_days)}", field="train_days"
            )


@config
class ExplainConfig:
    """What ``blocking explain`` computes: SHAP maps, composites and the SHAP-selected regions.

    Attributes:
        dataset: the dataset the network was trained on.
        model: model.pt written by blocking train.
        method: deep (DeepExplainer, the authors') or gradient (GradientExplainer).
        background: training samples in the SHAP background (the authors' 100).
        samples: most test samples explained per class (true positives, true negatives).
        region_level_hpa: level whose true-positive composite is thresholded into regions
            (the authors' 200 hPa).
        region_threshold: a grid point belongs to a region where |composite| is at least
            this fraction of its maximum.
        regions: most regions kept (the largest; the authors' 4).
        outline: draw the model's land-sea outline (from the QG3 inputs) on the maps.
        seed: the choice of background and explained samples.
    """

    dataset: Path = setting(Path("dataset.nc"))
    model: Path = setting(Path("model.pt"))
    method: str = setting("deep", choices=("deep", "gradient"))
    background: int = setting(100, ge=1)
    samples: int = setting(200, ge=1)
    region_level_hpa: float = setting(200.0, choices=LEVELS_HPA)
    region_threshold: float = setting(0.5, gt=0.0, lt=1.0)
    regions: int = setting(4, ge=1)
    outline: bool = setting(True)
    seed: int = 0


@config
class SparseModelConfig:
    """What ``blocking sparse-model`` fits: L1 logistic regression on regional means.

    Attributes:
        dataset: the dataset (standardised Z' at three levels).
        regions: regions.json written by blocking explain (its boxes).
        boxes: boxes instead of a regions file, south,north,west,east repeated (degrees).
        persistence_days: relabel with this D (default: the dataset's D).
        max_features: subsets of 1 .. max_features features are searched (the authors' 5).
        l1_strength: inverse L1 regularisation strength C of the logistic regression.
    """

    dataset: Path = setting(Path("dataset.nc"))
    regions: Path | None = None
    boxes: tuple[float, ...] = setting(())
    persistence_days: int | None = setting(None, ge=1)
    max_features: int = setting(5, ge=1, le=8)
    l1_strength: float = setting(1.0, gt=0.0)

    def __post_init__(self) -> None:
        if (self.regions is None) == (not self.boxes):
            raise ConfigError("SparseModelConfig: give either regions (a regions.json) or boxes", field="boxes")
        if len(self.boxes) % 4:
            raise ConfigError(
                f"SparseModelConfig.boxes: give south,north,west,east per box (a multiple of 4 "
                f"numbers), got {len(self.boxes)}",
                field="boxes",
            )
        for start in range(0, len(self.boxes), 4):
            check_box(self.boxes[start : start + 4], "boxes", "SparseModelConfig")

    @property
    def box_list(self) -> list[tuple[float, float, float, float]]:
        """The boxes as (south, north, west, east) tuples."""
        return [tuple(self.boxes[i : i + 4]) for i in range(0, len(self.boxes), 4)]


@config
class TransferConfig:
    """What ``blocking transfer`` compares: pre-train on the model, fine-tune on a scarce target.

    Attributes:
        source: dataset of the model run (pre-training).
        target: dataset of the scarce target (e.g. ERA5 on the model grid).
        pretrained: model.pt of a blocking train run on the source (default: pre-train here).
        persistence_days: relabel both datasets with this D (default: their own D).
        cnn: the network (when pre-training here).
        pretrain_epochs: pre-training epochs on the source.
        pretrain_learning_rate: Adam learning rate of pre-training.
        finetune: last (only the output layer trains, the authors' protocol) or all layers.
        finetune_epochs: fine-tuning epochs on each target fold (the authors' 20).
        finetune_learning_rate: Adam learning rate of fine-tuning (the authors' 1e-4).
        direct_epochs: epochs of direct training on each target fold.
        direct_learning_rate: Adam learning rate of direct training.
        batch_size: mini-batch size on the target (class weights balance the classes).
        folds: k of the k-fold cross-validation on the target (the authors' 10).
        seeds: seeds per fold (the authors' 10).
        seed: the folds, initialisations and batch orders.
    """

    source: Path = setting(Path("source.nc"))
    target: Path = setting(Path("target.nc"))
    pretrained: Path | None = None
    persistence_days: int | None = setting(None, ge=1)
    cnn: CNNConfig = setting(factory=CNNConfig)
    pretrain_epochs: int = setting(30, ge=1)
    pretrain_learning_rate: float = setting(1e-3, gt=0.0, le=1.0)
    finetune: str = setting("last", choices=("last", "all"))
    finetune_epochs: int = setting(20, ge=1)
    finetune_learning_rate: float = setting(1e-4, gt=0.0, le=1.0)
    direct_epochs: int = setting(20, ge=1)
    direct_learning_rate: float = setting(1e-3, gt=0.0, le=1.0)
    batch_size: int = setting(32, ge=2)
    folds: int = setting(10, ge=2)
    seeds: int = setting(10, ge=1)
    seed: int = 0


@config
class Era5RequestConfig:
    """What ``blocking era5-request`` writes: CDS API requests for ERA5 geopotential (one per year).

    Attributes:
        first_year: first year requested (ERA5 starts in 1940).
        last_year: last year requested.
        months: months requested (DJF: 12,1,2; December of the last year starts a winter
            that the next year's request completes).
        levels_hpa: pressure levels requested.
        hours: UTC hours requested (daily means are formed when the files are read).
        grid_deg: output grid spacing in degrees (the CDS interpolates).
        area: north,west,south,east in degrees (default: the whole globe).
        submit: send the requests with cdsapi (needs a CDS account and ~/.cdsapirc).
    """

    first_year: int = setting(1940, ge=1940, le=2100)
    last_year: int = setting(2022, ge=1940, le=2100)
    months: tuple[int, ...] = setting((12, 1, 2), ge=1, le=12)
    levels_hpa: tuple[int, ...] = setting((200, 500, 800), ge=1, le=1000)
    hours: tuple[int, ...] = setting((0, 6, 12, 18), ge=0, le=23)
    grid_deg: float = setting(2.5, gt=0.0, le=10.0)
    area: tuple[float, ...] = setting((90.0, -180.0, -90.0, 180.0), ge=-180.0, le=360.0)
    submit: bool = setting(False)

    def __post_init__(self) -> None:
        if self.first_year > self.last_year:
            raise ConfigError(
                f"Era5RequestConfig: first_year {self.first_year} is after last_year {self.last_year}",
                field="first_year",
            )
        for name in ("months", "levels_hpa", "hours"):
            if not getattr(self, name):
                raise ConfigError(f"Era5RequestConfig.{name}: give at least one value", field=name)
        if len(self.area) != 4 or not self.area[0] > self.area[2]:
            raise ConfigError(
                f"Era5RequestConfig.area must be north,west,south,east with north > south; got {self.area}",
                field="area",
            )
