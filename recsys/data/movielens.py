"""MovieLens-100k (Harper & Konstan 2015) from RecBole's atomic files.

Two views of the same 100,000 ratings:

- :func:`load_interactions`: implicit feedback for top-K recommendation (every rating is an
  interaction), users and items renumbered ``0..n-1``; :func:`read_interactions` reads a
  user's ``.inter`` file the same way;
- :func:`load_ctr_table`: click-through-rate rows, label ``rating >= 4``, with eight
  categorical fields (user_id, item_id, age bucket, gender, occupation, zip-code prefix,
  first genre, release-year bucket).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.data.atomic import AtomicFormatError, AtomicTable, read_atomic
from sparse_core.infra.errors import InputError

__all__ = [
    "AGE_EDGES",
    "CTR_FIELDS",
    "CTRTable",
    "Interactions",
    "ML100K_RATINGS",
    "YEAR_EDGES",
    "find_inter_file",
    "load_ctr_table",
    "load_interactions",
    "ml100k_folder",
    "read_interactions",
]

#: MovieLens ratings are 1 to 5 stars; anything else in ml-100k.inter is damage.
ML100K_RATINGS = (1.0, 5.0)

CTR_FIELDS = ("user_id", "item_id", "age", "gender", "occupation", "zip_prefix", "genre", "release_year")
# MovieLens-1M's age groups: under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+.
AGE_EDGES = (18, 25, 35, 45, 50, 56)
# Release years: before 1960, the 60s, 70s, 80s, 1990-94, 1995-, each its own bucket.
YEAR_EDGES = (1960, 1970, 1980, 1990, 1995)


def ml100k_folder() -> Path:
    """The cached MovieLens-100k folder, fetched on first use (``sparse_core.infra.io.fetch``)."""
    from sparse_core.infra.io import fetch

    return Path(fetch("ml100k").path)


def _file(folder: Path, suffix: str) -> Path:
    path = Path(folder) / f"ml-100k.{suffix}"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; expected RecBole's ml-100k atomic files in {folder}")
    return path


@dataclass(frozen=True)
class Interactions:
    """Implicit feedback as parallel arrays of (user, item) indices.

    Attributes:
        users: int64 user indices in ``[0, num_users)``.
        items: int64 item indices in ``[0, num_items)``.
        num_users: Number of distinct users.
        num_items: Number of distinct items.
        user_ids: Raw user id for each index.
        item_ids: Raw item id for each index.
        timestamps: When each interaction happened (float64), if the source says.
        source: The file read, for messages.

    Shapes:
        - users, items, timestamps: ``(interactions,)``
    """

    users: np.ndarray
    items: np.ndarray
    num_users: int
    num_items: int
    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    timestamps: np.ndarray | None = None
    source: str = "interactions"

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def subset(self, index: np.ndarray) -> Interactions:
        """The interactions at ``index`` with the same id space."""
        timestamps = self.timestamps[index] if self.timestamps is not None else None
        return Interactions(
            self.users[index],
            self.items[index],
            self.num_users,
            self.num_items,
            self.user_ids,
            self.item_ids,
            timestamps,
            self.source,
        )


def find_inter_file(path: str | Path) -> Path:
    """The ``.inter`` file that ``path`` names: the file itself, or the only one in a folder.

    Raises:
        FileNotFoundError: no such path, or a folder without a ``.inter`` file.
        InputError: a folder with several ``.inter`` files (they are listed).
    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; give a folder holding a RecBole .inter file (or the file)")
    if not path.is_dir():
        raise InputError(f"{path} is neither a file nor a folder")
    found = sorted(p for p in path.iterdir() if p.is_file() and ".inter" in p.suffixes)
    if not found:
        raise FileNotFoundError(
            f"{path}: no .inter file (RecBole atomic interactions, e.g. mydata.inter) in the folder"
        )
    if len(found) > 1:
        raise InputError(
            f"{path}: several .inter files ({', '.join(p.name for p in found)}); give one with --data FILE"
        )
    return found[0]


def _ids(table: AtomicTable, name: str) -> np.ndarray:
    """The column's ids as str; an empty id is a malformed row (counted, so over the limit an error)."""
    table.require(name, "token")
    values = table[name].astype(str)
    for line in table.lines[values == ""]:
        table.malformed.add(int(line), f"empty {name}")
    return values


def read_interactions(
    path: str | Path,
    *,
    user_column: str = "user_id",
    item_column: str = "item_id",
    rating_column: str = "rating",
    timestamp_column: str = "timestamp",
    min_rating: float | None = None,
    rating_range: tuple[float, float] | None = None,
    need_timestamps: bool = False,
    max_malformed: int = 0,
) -> Interactions:
    """Interactions of an atomic ``.inter`` file as implicit feedback, ids renumbered ``0..n-1``.

    Duplicate (user, item) pairs are kept once (the first in file order).

    Args:
        path: The ``.inter`` file (plain or compressed).
        user_column: Name of the user column (declared ``token``).
        item_column: Name of the item column (declared ``token``).
        rating_column: Name of the rating column (``float``), if the file has one.
        timestamp_column: Name of the timestamp column (``float``), if the file has one.
        min_rating: Keep only interactions rated at least this (needs the rating column).
        rating_range: Allowed ratings; one outside is a malformed row.
        need_timestamps: The timestamp column must exist (a split by time).
        max_malformed: Malformed rows skipped before the error.

    Raises:
        AtomicFormatError: a missing or mistyped column, malformed rows past the limit, no
            valid row, or no interaction left after ``min_rating``.
    """
    ranges = {rating_column: rating_range} if rating_range is not None else {}
    table = read_atomic(path, max_malformed=max_malformed, ranges=ranges)
    raw_users, raw_items = _ids(table, user_column), _ids(table, item_column)
    keep = (raw_users != "") & (raw_items != "")
    if min_rating is not None:
        table.require(rating_column, "float")
        keep &= table[rating_column] >= min_rating
        if not keep.any():
            raise AtomicFormatError(
                f"{table.path}: no interaction rated >= {min_rating:g} "
                f"(ratings {table[rating_column].min():g}..{table[rating_column].max():g})"
            )
    timestamps = None
    if need_timestamps or timestamp_column in table.columns:
        table.require(timestamp_column, "float")
        timestamps = table[timestamp_column][keep]
    if not keep.any():
        raise table.malformed.no_valid_rows()
    user_ids, users = np.unique(raw_users[keep], return_inverse=True)
    item_ids, items = np.unique(raw_items[keep], return_inverse=True)
    keys = users.astype(np.int64) * len(item_ids) + items
    _, first = np.unique(keys, return_index=True)
    first.sort()
    return Interactions(
        users[first].astype(np.int64),
        items[first].astype(np.int64),
        len(user_ids),
        len(item_ids),
        tuple(user_ids),
        tuple(item_ids),
        timestamps[first] if timestamps is not None else None,
        str(table.path),
    )


def load_interactions(
    folder: str | Path, min_rating: float | None = None, need_timestamps: bool = False
) -> Interactions:
    """Every rating of ``ml-100k.inter`` (or those ``>= min_rating``) as an implicit interaction.

    Ratings must lie in 1..5 (:data:`ML100K_RATINGS`): any other value, ``nan`` included,
    means the file is damaged and is an error naming its line.
    """
    return read_interactions(
        _file(Path(folder), "inter"),
        min_rating=min_rating,
        rating_range=ML100K_RATINGS,
        need_timestamps=need_timestamps,
    )


@dataclass(frozen=True)
class CTRTable:
    """Categorical CTR rows: one text value per field, and a 0/1 label.

    Attributes:
        fields: Field names, in column order.
        values: Field name -> object array of str values.
        labels: float32 labels (1 = rating >= 4).

    Shapes:
        - values[f], labels: ``(rows,)``
    """

    fields: tuple[str, ...]
    values: dict[str, np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _bucket(values: np.ndarray, edges: tuple[int, ...], prefix: str) -> np.ndarray:
    return np.asarray([f"{prefix}{b}" for b in np.searchsorted(edges, values, side="right")], dtype=object)


def _rows_by_id(table: AtomicTable, name: str) -> dict[str, int]:
    """Id -> row of a side file (``.user``, ``.item``); a repeated id names both lines."""
    table.require(name, "token")
    rows: dict[str, int] = {}
    for row, (value, line) in enumerate(zip(table[name], table.lines)):
        if value in rows:
            raise AtomicFormatError(
                f"{table.path}, line {line}: {name} {value!r} repeats line {table.lines[rows[value]]}"
            )
        rows[value] = row
    return rows


def _lookup(inter: AtomicTable, name: str, rows: dict[str, int], side: AtomicTable) -> np.ndarray:
    """The side-file row of every interaction; an unknown id names its line."""
    inter.require(name, "token")
    out = np.empty(len(inter), dtype=np.int64)
    for k, (value, line) in enumerate(zip(inter[name], inter.lines)):
        row = rows.get(value)
        if row is None:
            raise AtomicFormatError(f"{inter.path}, line {line}: {name} {value!r} is not in {side.path.name}")
        out[k] = row
    return out


def _ages(user: AtomicTable) -> np.ndarray:
    user.require("age", "token")
    ages = np.empty(len(user), dtype=np.int64)
    for k, (value, line) in enumerate(zip(user["age"], user.lines)):
        if not (value.isascii() and value.isdigit()) or not 0 <= int(value) <= 150:
            raise AtomicFormatError(f"{user.path}, line {line}: age {value!r} is not a whole number of years (0..150)")
        ages[k] = int(value)
    return ages


def load_ctr_table(folder: str | Path, positive_rating: float = 4.0, zip_prefix_length: int = 2) -> CTRTable:
    """The ml-100k CTR rows: label ``rating >= positive_rating`` and eight categorical fields.

    Args:
        folder: Folder with ``ml-100k.inter``, ``.user`` and ``.item``.
        positive_rating: Ratings at or above this are clicks.
        zip_prefix_length: Number of leading zip-code characters kept.

    Returns:
        The table, in the order of ``ml-100k.inter``.

    Raises:
        AtomicFormatError: a missing or mistyped column, a rating outside 1..5 (or not a
            number), an interaction naming a user or item absent from the side files, a
            repeated id in a side file, or an age that is not a number of years; every
            message names the file and the line.
    """
    folder = Path(folder)
    inter = read_atomic(_file(folder, "inter"), ranges={"rating": ML100K_RATINGS})
    user = read_atomic(_file(folder, "user"))
    item = read_atomic(_file(folder, "item"))
    inter.require("rating", "float")
    for table, names in ((user, ("gender", "occupation", "zip_code")), (item, ("release_year",))):
        for name in names:
            table.require(name, "token")
    item.require("class", "token_seq")
    u_index = _lookup(inter, "user_id", _rows_by_id(user, "user_id"), user)
    i_index = _lookup(inter, "item_id", _rows_by_id(item, "item_id"), item)
    ages = _ages(user)
    years = np.asarray([int(y) if y.isascii() and y.isdigit() else 0 for y in item["release_year"]])
    genres = np.asarray([seq[0] if seq else "none" for seq in item["class"]], dtype=object)
    zips = np.asarray([z[:zip_prefix_length] for z in user["zip_code"]], dtype=object)
    year_bucket = _bucket(years, YEAR_EDGES, "y")
    year_bucket[years == 0] = "unknown"
    values = {
        "user_id": inter["user_id"],
        "item_id": inter["item_id"],
        "age": _bucket(ages, AGE_EDGES, "a")[u_index],
        "gender": user["gender"][u_index],
        "occupation": user["occupation"][u_index],
        "zip_prefix": zips[u_index],
        "genre": genres[i_index],
        "release_year": year_bucket[i_index],
    }
    labels = (inter["rating"] >= positive_rating).astype(np.float32)
    return CTRTable(fields=CTR_FIELDS, values=values, labels=labels)
