"""Serving a trained top-K model (MF or LightGCN, dense or DSL-sparse) from its compact file.

A DSL model during training is a dense table times a mask (Wang et al., WSDM 2024;
:mod:`sparse_core.masks`); its serving file (:mod:`recsys.serving_file`, written by
:mod:`recsys.export`) keeps only what full ranking needs. :class:`ServingModel` scores
from the compact tables (a dense product over the scoring columns, or CSR rows against
dense user rows) and ranks every item for a user with the user's known items (training
and validation) excluded, as the test evaluation does (:mod:`recsys.metrics`). numpy and
scipy only: serving needs no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.config import RecommendConfig
from recsys.serving_file import (
    FORMAT,
    LAYOUTS,
    MODEL_FILE,
    VERSION,
    model_file,
    pack_serving,
    read_serving,
    save_serving,
)
from sparse_core.infra.errors import ConfigError, InputError

__all__ = [
    "FORMAT",
    "LAYOUTS",
    "MODEL_FILE",
    "VERSION",
    "RecommendConfig",
    "ServingModel",
    "item_titles",
    "load_serving_model",
    "model_file",
    "pack_serving",
    "recommend",
    "save_serving",
]


class ServingModel:
    """A loaded serving file: scores, known items and ids of a trained top-K model.

    Build it with :func:`load_serving_model`. The user and item tables are dense arrays
    over the scoring columns (layouts ``columns`` and ``dense``, and LightGCN's ``csr``
    after propagation) or CSR matrices (MF's ``csr``).

    Attributes:
        header: The file's header (format, layout, model, sizes, source run, ...).
        user_ids, item_ids: Raw id of every user and item index.
        known_indptr, known_indices: CSR rows of every user's known items (sorted).
        path: The file read.
    """

    def __init__(
        self,
        header: dict[str, Any],
        users: np.ndarray | sp.csr_matrix,
        items: np.ndarray | sp.csr_matrix,
        user_ids: Sequence[str],
        item_ids: Sequence[str],
        known_indptr: np.ndarray,
        known_indices: np.ndarray,
        path: Path | None = None,
    ):
        self.header, self.user_ids, self.item_ids, self.path = header, user_ids, item_ids, path
        self.known_indptr, self.known_indices = known_indptr, known_indices
        self._users, self._items = users, items
        self._user_index: dict[str, int] | None = None

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    @property
    def table_nbytes(self) -> int:
        """Bytes of the user and item tables held for scoring."""
        total = 0
        for table in (self._users, self._items):
            parts = (table.data, table.indices, table.indptr) if sp.issparse(table) else (table,)
            total += sum(part.nbytes for part in parts)
        return total

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held for scoring and exclusion (tables and known items; ids not counted)."""
        return self.table_nbytes + self.known_indptr.nbytes + self.known_indices.nbytes

    def user_index(self, user_id: str) -> int:
        """The index of a raw user id.

        Raises:
            InputError: an id the model does not know (the message names a few known ones).
        """
        if self._user_index is None:
            self._user_index = {user: index for index, user in enumerate(self.user_ids)}
        try:
            return self._user_index[str(user_id)]
        except KeyError:
            where = self.path if self.path is not None else "the model"
            sample = ", ".join(repr(u) for u in self.user_ids[:5])
            raise InputError(
                f"user {user_id!r} is not in {where} ({self.num_users} users, ids such as {sample}); "
                "give a user id of the training data"
            ) from None

    def known_items(self, user: int) -> np.ndarray:
        """Item indices the user is known to have interacted with (excluded from rankings)."""
        return self.known_indices[self.known_indptr[user] : self.known_indptr[user + 1]].astype(np.int64)

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for each user, ``<e_u, e_i>`` of the final representations.

        Shapes:
            - users: ``(batch,)`` int; return: ``(batch, num_items)`` float32.
        """
        users = np.asarray(users, dtype=np.int64)
        if sp.issparse(self._items):
            rows = self._users[users].toarray()  # (batch, dim): the batch's rows, not the table
            return (self._items @ rows.T).T
        return self._users[users] @ self._items.T

    def top_items(self, users: np.ndarray, k: int, batch_users: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best unknown items of each user, best first (ties: the lower index first).

        Args:
            users: User indices.
            k: Items per user.
            batch_users: Users scored at once (bounds the memory to ``batch_users * num_items`` scores).

        Returns:
            ``(items, scores)``; a user with fewer than ``k`` unknown items gets ``-inf`` scores
            (at arbitrary items) in the last places.

        Shapes:
            - users: ``(n,)``; items: ``(n, k)`` int64; scores: ``(n, k)`` float32.
        """
        users = np.asarray(users, dtype=np.int64)
        if not 1 <= k <= self.num_items:
            raise ValueError(f"k must lie in 1..{self.num_items}, got {k}")
        out_items = np.empty((users.size, k), dtype=np.int64)
        out_scores = np.empty((users.size, k), dtype=np.float32)
        for start in range(0, users.size, batch_users):
            batch = users[start : start + batch_users]
            scores = np.ascontiguousarray(self.score(batch), dtype=np.float32)
            lo, hi = self.known_indptr[batch].astype(np.int64), self.known_indptr[batch + 1].astype(np.int64)
            counts = hi - lo
            row = np.repeat(np.arange(batch.size), counts)
            within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            np.negative(scores, out=scores)  # in place: smallest first, no second (batch, items) buffer
            scores[row, self.known_indices[np.repeat(lo, counts) + within]] = np.inf
            best = np.sort(np.argpartition(scores, k - 1, axis=1)[:, :k], axis=1)
            values = np.take_along_axis(scores, best, 1)
            order = np.argsort(values, axis=1, kind="stable")
            out_items[start : start + batch.size] = np.take_along_axis(best, order, 1)
            out_scores[start : start + batch.size] = -np.take_along_axis(values, order, 1)
        return out_items, out_scores


def load_serving_model(path: Path | str) -> ServingModel:
    """Reads and checks a serving file, or the export folder holding ``model.npz`` (:func:`recsys.serving_file.read_serving`).

    Raises:
        FileNotFoundError: no such file (or no ``model.npz`` in the folder).
        InputError: a truncated, damaged or foreign file, another format version, or
            missing, misshapen, out-of-range or non-finite arrays; the message names the file.
    """
    return ServingModel(*read_serving(path))


# --------------------------------------------------------------------------- recommending


def item_titles(model: ServingModel, item_file: Path | None = None, title_column: str = "movie_title") -> list[str]:
    """A display title for every item: from ``item_file`` (a RecBole ``.item`` file), else
    MovieLens-100k's ``ml-100k.item`` (dataset cache) for an ml100k model, else the raw ids.

    A title gets its ``release_year`` in parentheses when the file has one; an item missing
    from the file shows its id.

    Raises:
        InputError: an item file without an ``item_id`` or ``title_column`` column.
    """
    from recsys.data.atomic import read_atomic

    if item_file is None:
        if model.header.get("dataset") != "ml100k":
            return [f"item {item}" for item in model.item_ids]
        from recsys.data.movielens import ml100k_folder

        item_file = ml100k_folder() / "ml-100k.item"
    table = read_atomic(item_file, max_malformed=100)
    for name in ("item_id", title_column):
        if name not in table.columns:
            raise InputError(f"{item_file}: no column {name!r} (columns: {', '.join(table.columns)})")
    titles = table[title_column]
    years = table["release_year"] if "release_year" in table.columns else None
    by_id = {}
    for row, item in enumerate(table["item_id"]):
        title = titles[row] if isinstance(titles[row], str) else " ".join(titles[row])
        year = years[row] if years is not None else ""
        by_id[str(item)] = f"{title} ({year})" if isinstance(year, str) and year else title
    return [by_id.get(item, f"item {item}") for item in model.item_ids]


def recommend(config: RecommendConfig) -> dict[str, Any]:
    """The top ``config.k`` unknown items of one user, with titles; what ``recsys recommend`` runs.

    Returns:
        ``user``, ``k``, ``known_items`` (excluded), ``layout`` and ``items``: one
        ``{"rank", "item_id", "title", "score"}`` per recommendation, best first.

    Raises:
        InputError: an unreadable model file or a user id it does not know.
        ConfigError: ``k`` larger than the user's unknown items.
    """
    model = load_serving_model(config.model)
    user = model.user_index(config.user)
    known = model.known_items(user).size
    if config.k > model.num_items - known:
        raise ConfigError(
            f"RecommendConfig.k {config.k}: user {config.user!r} has only {model.num_items - known} items "
            f"not yet seen ({known} of {model.num_items} known)",
            field="k",
        )
    items, scores = model.top_items(np.array([user]), config.k)
    titles = item_titles(model, config.item_file, config.title_column)
    ranked = [
        {"rank": rank + 1, "item_id": model.item_ids[item], "title": titles[item], "score": float(score)}
        for rank, (item, score) in enumerate(zip(items[0].tolist(), scores[0].tolist()))
    ]
    return {
        "user": config.user,
        "k": config.k,
        "known_items": known,
        "layout": model.header["layout"],
        "model": model.header["model"],
        "items": ranked,
    }
