"""The learning problem of Zhang et al. (2024): one sample per blocking onset, labelled by persistence.

Each sample is Z′ at 200, 500 and 800 hPa on every longitude north of 20°N on the onset
day; its label is 1 when the event lasts at least D days (D = 5, 7 or 9). Inputs are
standardised per grid point with the mean and standard deviation of the *training*
samples only (the authors' ``normalize_centralize_data`` used all samples). Splits follow
contiguous time blocks within each member (the authors: the first 80% of the run for
training, the last 20% for testing), or whole members; an event whose days reach a block
of another split is dropped, so no event straddles two splits, and the validation set
(early stopping, model choice) is separate from the test set.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from blocking.anomalies import AnomalyFields, load_fields
from blocking.config import DatasetConfig, SplitConfig
from blocking.events import EventTable, box_index, find_events, percentile_of_threshold, resolve_threshold
from sparse_core.infra.errors import InputError

__all__ = [
    "SPLITS",
    "BlockingDataset",
    "assign_splits",
    "build_dataset",
    "load_dataset",
    "run_dataset",
    "save_dataset",
    "standardise",
]

log = logging.getLogger(__name__)
SPLITS = ("train", "validation", "test")
TRAIN, VALIDATION, TEST, DROPPED = 0, 1, 2, -1


@dataclass(frozen=True)
class BlockingDataset:
    """Onset samples with labels, splits and the training statistics.

    Attributes:
        inputs: standardised Z′, ``(sample, level, lat, lon)`` float32.
        mean: training mean of Z′ per grid point in metres, ``(level, lat, lon)``.
        std: training standard deviation per grid point in metres, ``(level, lat, lon)``.
        duration: event duration in days, ``(sample,)``.
        censored: the event reaches the end of its segment, ``(sample,)``.
        split: 0 train, 1 validation, 2 test, ``(sample,)``.
        member: member number, ``(sample,)``.
        onset: time index of the onset day, ``(sample,)``.
        onset_time: onset as text (date or model day), ``(sample,)``.
        index_value: Z_B on the onset day in metres, ``(sample,)``.
        index_change: Z_B(onset) − Z_B(onset − 1) in metres, ``(sample,)``.
        lat, lon, levels_hpa: the grid of ``inputs``.
        persistence_days: the D of the default labels.
        attrs: provenance (threshold, anomaly, filter, f0, source, grid_nlat).
    """

    inputs: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    duration: np.ndarray
    censored: np.ndarray
    split: np.ndarray
    member: np.ndarray
    onset: np.ndarray
    onset_time: np.ndarray
    index_value: np.ndarray
    index_change: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    levels_hpa: np.ndarray
    persistence_days: int
    attrs: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.duration.size)

    def labels(self, persistence_days: int | None = None) -> np.ndarray:
        """1 when the event lasts at least D days, 0 when not, −1 when censored before D days."""
        days = persistence_days or self.persistence_days
        label = (self.duration >= days).astype(np.int64)
        label[self.censored & (self.duration < days)] = -1
        return label

    def select(self, split: str, persistence_days: int | None = None) -> np.ndarray:
        """Indices of the labelled samples of ``split`` ("train", "validation" or "test")."""
        return np.flatnonzero((self.split == SPLITS.index(split)) & (self.labels(persistence_days) >= 0))

    def _training_days_per_block(self) -> np.ndarray:
        """Training days of each (member, time block), ``(member, block)``; 0 for other splits."""
        if "block_split" not in self.attrs or "member_days" not in self.attrs:
            raise InputError(
                "the dataset does not record its split layout (block_split, member_days); "
                "build it again with blocking dataset"
            )
        block_split = np.asarray(json.loads(str(self.attrs["block_split"])), dtype=np.int64)
        member_days, block_days = int(self.attrs["member_days"]), int(self.attrs["block_days"])
        return np.where(block_split == TRAIN, block_lengths(member_days, block_days)[None, :], 0)

    def training_day(self) -> np.ndarray:
        """Position of each sample's onset among the training days, ``(sample,)``; −1 off the training split.

        Training days are counted member by member and, within a member, in time order over
        its training blocks (a learning curve's "first N days of training data").

        Raises:
            InputError: the dataset does not record its split layout (written before it was).
        """
        training = self._training_days_per_block()
        before = (np.cumsum(training.ravel()) - training.ravel()).reshape(training.shape)
        numbers = np.asarray(json.loads(str(self.attrs.get("members", "[]"))), dtype=np.int64)
        member = np.searchsorted(numbers, self.member) if numbers.size > 1 else np.zeros(len(self), dtype=np.int64)
        member_days, block_days = int(self.attrs["member_days"]), int(self.attrs["block_days"])
        chosen = self.split == TRAIN
        onset = self.onset[chosen]
        block = block_of(onset, member_days, block_days)
        position = np.full(len(self), -1, dtype=np.int64)
        position[chosen] = before[member[chosen], block] + onset - block * block_days
        return position

    def first_training_days(self, days: int) -> tuple[BlockingDataset, int]:
        """The dataset with training samples only from the first ``days`` training days.

        The other training samples are dropped (split −1) and the inputs standardised again
        with the statistics of the kept training samples only (a point of a learning curve:
        Zhang et al. 2024, Fig. 4, train on 10^3 … 10^5 days and test on the same test split).

        Returns:
            ``(dataset, the training days used: min(days, the training days there are))``.

        Raises:
            InputError: no training sample in the first ``days`` days, or no split layout.
        """
        position = self.training_day()
        available = int(self._training_days_per_block().sum())
        split = np.where((self.split == TRAIN) & (position >= days), DROPPED, self.split).astype(np.int8)
        kept = split == TRAIN
        if not kept.any():
            raise InputError(f"no training sample in the first {days} training days")
        inputs, mean, std = standardise(self.raw_inputs(), kept)
        return replace(self, inputs=inputs, mean=mean, std=std, split=split), min(days, available)

    def raw_inputs(self, indices=None) -> np.ndarray:
        """Z′ in metres (undoing the standardisation), ``(sample, level, lat, lon)``."""
        chosen = self.inputs if indices is None else self.inputs[indices]
        return chosen.astype(np.float64) * self.std + self.mean


def standardise(values: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise per grid point with the statistics of the training samples only.

    Args:
        values: all samples, ``(sample, ...)``.
        train: indices (or mask) of the training samples.

    Returns:
        ``(standardised float32, mean, std)``; a point with zero training spread gets std 1.
    """
    values = np.asarray(values, dtype=np.float64)
    chosen = values[train]
    if chosen.shape[0] == 0:
        raise InputError("no training sample to take the standardisation statistics from")
    mean = chosen.mean(axis=0)
    std = chosen.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return ((values - mean) / std).astype(np.float32), mean, std


def block_count(days: int, block_days: int) -> int:
    """Time blocks of ``days`` days: whole blocks, the remainder joining the last one (at least 1)."""
    return max(1, days // block_days)


def block_of(day, days: int, block_days: int):
    """The block of day index ``day`` (array or int) under :func:`block_count`."""
    return np.minimum(np.asarray(day) // block_days, block_count(days, block_days) - 1)


def block_lengths(days: int, block_days: int) -> np.ndarray:
    """Days in each block, ``(block,)``: ``block_days`` each, the last one holding the remainder too."""
    lengths = np.full(block_count(days, block_days), block_days, dtype=np.int64)
    lengths[-1] = days - block_days * (lengths.size - 1)
    return lengths


def assign_splits(
    events: EventTable, days: int, members: int, config: SplitConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The split of each event, and of each (member, block).

    Time blocks are ``block_days`` consecutive days of one member (a shorter remainder at
    the end joins the last block, so no split is left with a sliver of days). With ``by="time"`` each
    member's blocks go, in time order (or shuffled with ``shuffle_blocks``), to train,
    validation and test by the fractions; with ``by="member"`` whole members do. An event
    whose first and last days lie in blocks of different splits is dropped (−1).

    Returns:
        ``(event_split (event,), block_split (member, block))`` with 0/1/2, −1 dropped.

    Raises:
        InputError: a split would be empty (too few blocks or members).
    """
    blocks = block_count(days, config.block_days)
    fractions = (config.train_fraction, config.validation_fraction)
    if config.by == "member":
        if members < 3:
            raise InputError(f"a split by member needs at least 3 members, the input has {members}")
        order = rng.permutation(members) if config.shuffle_blocks else np.arange(members)
        member_split = np.empty(members, dtype=np.int64)
        member_split[order] = _by_fraction(members, fractions)
        block_split = np.repeat(member_split[:, None], blocks, axis=1)
    else:
        if blocks < 3 and members * blocks < 3:
            raise InputError(
                f"{days} days make {blocks} blocks of {config.block_days} days: too few for training, "
                "validation and test; use a shorter block_days"
            )
        block_split = np.empty((members, blocks), dtype=np.int64)
        if config.shuffle_blocks:
            flat = _by_fraction(members * blocks, fractions)
            block_split.ravel()[rng.permutation(members * blocks)] = flat
        else:
            block_split[:] = _by_fraction(blocks, fractions)[None, :]
    for split in range(3):
        if not (block_split == split).any():
            raise InputError(
                f"the {SPLITS[split]} split is empty ({members} members x {blocks} blocks); "
                "use more data, a shorter block_days or other fractions"
            )
    first = block_split[events.member, block_of(events.onset, days, config.block_days)]
    last = block_split[events.member, block_of(events.end, days, config.block_days)]
    return np.where(first == last, first, DROPPED), block_split


def _by_fraction(count: int, fractions) -> np.ndarray:
    """Split labels 0/1/2 for ``count`` ordered units (each split gets at least one when count ≥ 3)."""
    train = int(round(fractions[0] * count))
    validation = int(round(fractions[1] * count))
    if count >= 3:
        train = min(max(train, 1), count - 2)
        validation = min(max(validation, 1), count - train - 1)
    labels = np.full(count, TEST, dtype=np.int64)
    labels[:train] = TRAIN
    labels[train : train + validation] = VALIDATION
    return labels


def build_dataset(
    fields: AnomalyFields, config: DatasetConfig, rng: np.random.Generator
) -> tuple[BlockingDataset, dict]:
    """Onset samples of ``fields``, standardised with training statistics, with their splits.

    Returns:
        ``(dataset, summary)``; the summary counts events, dropped and censored ones.
    """
    zprime500 = fields.zprime[:, :, fields.level500]
    index = box_index(zprime500, fields.lat, fields.lon, config.index.box)
    threshold = resolve_threshold(index, config.index.threshold_m, config.index.threshold_percentile)
    events = find_events(index, threshold, fields.segment_start)
    if len(events) == 0:
        raise InputError(f"no blocking onset with threshold {threshold:.1f} m in {index.size} days")
    split, block_split = assign_splits(events, index.shape[1], index.shape[0], config.split, rng)
    labels = events.persistent(config.persistence_days)
    keep = (split >= 0) & (labels >= 0)
    events_kept = _take(events, keep)
    lat_rows = fields.lat >= config.lat_min
    if not lat_rows.any():
        raise InputError(f"no latitude north of lat_min {config.lat_min}")
    samples = fields.zprime[events_kept.member, events_kept.onset][:, :, lat_rows]  # (sample, level, lat, lon)
    kept_split = split[keep]
    inputs, mean, std = standardise(samples, kept_split == TRAIN)
    change = index[events_kept.member, events_kept.onset] - index[events_kept.member, events_kept.onset - 1]
    times = fields.time[events_kept.onset]
    onset_time = np.datetime_as_string(times, unit="D") if fields.dated else np.array([f"{t:g}" for t in times])
    attrs = {k: (v if isinstance(v, (int, float)) else str(v)) for k, v in fields.attrs.items()}
    attrs.update(
        threshold_m=threshold,
        threshold_percentile=percentile_of_threshold(index, threshold),
        box=json.dumps(list(config.index.box)),
        split_by=config.split.by,
        block_days=config.split.block_days,
        member_days=int(index.shape[1]),
        members=json.dumps(np.asarray(fields.members).tolist()),
        block_split=json.dumps(block_split.tolist()),
        grid_nlat=int(fields.attrs.get("grid_nlat", fields.lat.size)),
    )
    dataset = BlockingDataset(
        inputs=inputs,
        mean=mean,
        std=std,
        duration=events_kept.duration,
        censored=events_kept.censored,
        split=kept_split.astype(np.int8),
        member=fields.members[events_kept.member],
        onset=events_kept.onset,
        onset_time=onset_time,
        index_value=index[events_kept.member, events_kept.onset],
        index_change=change,
        lat=fields.lat[lat_rows],
        lon=fields.lon,
        levels_hpa=fields.levels_hpa,
        persistence_days=config.persistence_days,
        attrs=attrs,
    )
    summary = {
        "events": len(events),
        "dropped_straddling": int((split < 0).sum()),
        "dropped_censored": int(((split >= 0) & (labels < 0)).sum()),
        "threshold_m": threshold,
        "threshold_percentile": attrs["threshold_percentile"],
    }
    return dataset, summary


def _take(events: EventTable, keep: np.ndarray) -> EventTable:
    return replace(
        events,
        member=events.member[keep],
        onset=events.onset[keep],
        end=events.end[keep],
        duration=events.duration[keep],
        censored=events.censored[keep],
        peak=events.peak[keep],
    )


ARRAYS = (
    "inputs",
    "mean",
    "std",
    "duration",
    "censored",
    "split",
    "member",
    "onset",
    "onset_time",
    "index_value",
    "index_change",
    "lat",
    "lon",
    "levels_hpa",
)


def save_dataset(dataset: BlockingDataset, path: Path) -> Path:
    """Write ``dataset.nc`` (CF NetCDF) or ``dataset.npz`` (by the suffix of ``path``), with split indices."""
    path = Path(path)
    attrs = {**dataset.attrs, "persistence_days": dataset.persistence_days}
    if path.suffix == ".npz":
        from sparse_core.infra.files import atomic_write

        arrays = {name: getattr(dataset, name) for name in ARRAYS}
        arrays.update({f"{s}_index": np.flatnonzero(dataset.split == k) for k, s in enumerate(SPLITS)})
        with atomic_write(path, "wb") as handle:
            np.savez_compressed(handle, **arrays, attrs=np.array(json.dumps(attrs)))
        return path
    import xarray as xr

    sample = ("sample",)
    grid = ("level", "lat", "lon")
    anomaly = {"units": "m", "standard_name": "geopotential_height_anomaly"}
    data = xr.Dataset(
        {
            "inputs": (
                ("sample", *grid),
                dataset.inputs,
                {"units": "1", "long_name": "Z' at the onset, standardised per grid point with training statistics"},
            ),
            "mean": (grid, dataset.mean, {**anomaly, "long_name": "training mean of Z'"}),
            "std": (grid, dataset.std, {"units": "m", "long_name": "training standard deviation of Z'"}),
            "duration": (sample, dataset.duration, {"units": "days", "long_name": "event duration"}),
            "censored": (sample, dataset.censored.astype(np.int8), {"long_name": "event reaches the end of its data"}),
            "split": (
                sample,
                dataset.split,
                {"flag_values": np.array([0, 1, 2], dtype=np.int8), "flag_meanings": "train validation test"},
            ),
            "member": (sample, dataset.member),
            "onset": (sample, dataset.onset, {"long_name": "time index of the onset"}),
            "onset_time": (sample, dataset.onset_time.astype(str)),
            "index_value": (sample, dataset.index_value, {**anomaly, "long_name": "Z_B on the onset day"}),
            "index_change": (sample, dataset.index_change, {"units": "m", "long_name": "Z_B(onset) - Z_B(onset - 1)"}),
        },
        coords={
            "level": ("level", dataset.levels_hpa, {"units": "hPa", "standard_name": "air_pressure"}),
            "lat": ("lat", dataset.lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", dataset.lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={"Conventions": "CF-1.8", "title": "Blocking onsets: standardised Z' and persistence", **attrs},
    )
    data.to_netcdf(path)
    return path


def load_dataset(path: Path) -> BlockingDataset:
    """Read a dataset written by :func:`save_dataset` (NetCDF or npz).

    Raises:
        InputError: a missing file or one without the dataset's variables.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: dataset not found (write one with blocking dataset)")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in ARRAYS if name not in data]
            if missing:
                raise InputError(f"{path}: not a blocking dataset (missing {missing})")
            arrays = {name: data[name] for name in ARRAYS}
            attrs = json.loads(str(data["attrs"]))
    else:
        import xarray as xr

        try:
            data = xr.open_dataset(path).load()
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: not a readable NetCDF dataset ({error})") from None
        stored = {name: "level" if name == "levels_hpa" else name for name in ARRAYS}
        missing = [stored[name] for name in ARRAYS if stored[name] not in data.variables]
        if missing:
            raise InputError(f"{path}: not a blocking dataset (missing {missing})")
        arrays = {name: data[stored[name]].to_numpy() for name in ARRAYS}
        attrs = dict(data.attrs)
    persistence = int(attrs.pop("persistence_days", 5))
    arrays["censored"] = arrays["censored"].astype(bool)
    arrays["onset_time"] = arrays["onset_time"].astype(str)
    return BlockingDataset(**arrays, persistence_days=persistence, attrs=attrs)


def run_dataset(config: DatasetConfig, folder: Path, progress: bool = False) -> dict:
    """``blocking dataset``: build the onset samples of the inputs and save them in ``folder``.

    Returns:
        Metrics: ``file``, ``samples`` and ``persistent_fraction`` per split, ``events``,
        ``dropped_straddling``, ``dropped_censored``, ``threshold_m``,
        ``threshold_percentile``, ``input_shape``.
    """
    fields = load_fields(config.inputs, config.source, config.index, config.reanalysis)
    dataset, summary = build_dataset(fields, config, np.random.default_rng(config.seed))
    name = "dataset.nc" if config.format == "netcdf" else "dataset.npz"
    save_dataset(dataset, Path(folder) / name)
    labels = dataset.labels()
    per_split = {}
    for k, split in enumerate(SPLITS):
        chosen = dataset.split == k
        per_split[split] = {
            "samples": int(chosen.sum()),
            "persistent_fraction": float(labels[chosen].mean()) if chosen.any() else 0.0,
        }
    return {
        "file": name,
        **summary,
        "splits": per_split,
        "samples": len(dataset),
        "input_shape": list(dataset.inputs.shape[1:]),
    }
