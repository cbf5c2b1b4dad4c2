"""MovieLens-100k (Harper & Konstan 2015) from RecBole's atomic files.

Two views of the same 100,000 ratings:

- :func:`load_interactions`: implicit feedback for top-K recommendation (every rating is an
  interaction), users and items renumbered ``0..n-1``;
- :func:`load_ctr_table`: click-through-rate rows, label ``rating >= 4``, with eight
  categorical fields (user_id, item_id, age bucket, gender, occupation, zip-code prefix,
  first genre, release-year bucket).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.data.atomic import read_atomic

__all__ = [
    "AGE_EDGES",
    "CTR_FIELDS",
    "CTRTable",
    "Interactions",
    "YEAR_EDGES",
    "load_ctr_table",
    "load_interactions",
    "ml100k_folder",
]

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

    Shapes:
        - users, items: ``(interactions,)``
    """

    users: np.ndarray
    items: np.ndarray
    num_users: int
    num_items: int
    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def subset(self, index: np.ndarray) -> Interactions:
        """The interactions at ``index`` with the same id space."""
        return Interactions(
            self.users[index], self.items[index], self.num_users, self.num_items, self.user_ids, self.item_ids
        )


def load_interactions(folder: str | Path) -> Interactions:
    """Every rating of ``ml-100k.inter`` as an implicit interaction.

    Duplicate (user, item) pairs (none in ml-100k) are kept once.
    """
    table = read_atomic(_file(Path(folder), "inter"))
    user_ids, users = np.unique(table["user_id"].astype(str), return_inverse=True)
    item_ids, items = np.unique(table["item_id"].astype(str), return_inverse=True)
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


def load_ctr_table(folder: str | Path, positive_rating: float = 4.0, zip_prefix_length: int = 2) -> CTRTable:
    """The ml-100k CTR rows: label ``rating >= positive_rating`` and eight categorical fields.

    Args:
        folder: Folder with ``ml-100k.inter``, ``.user`` and ``.item``.
        positive_rating: Ratings at or above this are clicks.
        zip_prefix_length: Number of leading zip-code characters kept.

    Returns:
        The table, in the order of ``ml-100k.inter``.

    Raises:
        KeyError: If an interaction names a user or item absent from the side files.
    """
    folder = Path(folder)
    inter = read_atomic(_file(folder, "inter"))
    user = read_atomic(_file(folder, "user"))
    item = read_atomic(_file(folder, "item"))
    user_row = {u: i for i, u in enumerate(user["user_id"])}
    item_row = {m: i for i, m in enumerate(item["item_id"])}
    try:
        u_index = np.asarray([user_row[u] for u in inter["user_id"]])
        i_index = np.asarray([item_row[m] for m in inter["item_id"]])
    except KeyError as error:
        raise KeyError(f"{folder}: interaction id {error.args[0]!r} missing from ml-100k.user/.item") from None
    ages = np.asarray([int(a) for a in user["age"]])
    years = np.asarray([int(y) if y.isdigit() else 0 for y in item["release_year"]])
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
