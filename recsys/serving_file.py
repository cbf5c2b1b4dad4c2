"""The serving file of a top-K model: its layouts, writer and checking reader (numpy and scipy only).

During DSL training (Wang et al., WSDM 2024) an embedding table is a dense tensor times a
mask (:mod:`sparse_core.masks`); ``best.pt`` stores both at full size. A serving file holds
only what full-ranking needs, the loader checks it without building the dense layer-0
table, and scoring works on the compact tables. The user's known items (training and
validation) are excluded, as in the test evaluation (:mod:`recsys.metrics`).

Layouts (the header's ``layout``):

- ``columns``: the final user and item representations (LightGCN: propagated, He et al.
  2020, Eq. 8) on the embedding columns that carry score, dense. A score is an inner
  product, so a column that is zero for every user or for every item adds exactly 0 and is
  dropped. With DSL's column start (``initial_mask="columns"``, :mod:`recsys.dsl`) the
  weights stay in about ``density * dim`` columns: a weight of an all-zero column has zero
  gradient, so gradient regrowth does not move into one, and LightGCN's propagation keeps
  each column apart. Scoring is a dense product over those columns.
- ``csr``: the layer-0 tables as CSR rows (values and column indices; masks dropped), for
  masks that are not column-aligned (``initial_mask="random"``). MF scores CSR item rows
  against dense user rows. LightGCN's propagated table of a sparse layer 0 is not sparse
  (every node mixes its neighbours' columns), so the file keeps the sparse layer 0 and the
  loader propagates it over the training graph, which the file holds anyway for the
  exclusion, into dense final representations of the used columns.
- ``dense``: the full final tables, the dense reference.

The file is one ``.npz`` (numpy's zip of ``.npy`` arrays; read with ``allow_pickle=False``),
written atomically; its ``header`` array holds a JSON object with the format name
:data:`FORMAT` and :data:`VERSION`. Everything here needs numpy and scipy only (no torch):
:mod:`recsys.export` writes the file from a trained model.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from sparse_core.infra.errors import InputError
from sparse_core.infra.files import atomic_write

__all__ = [
    "FORMAT",
    "LAYOUTS",
    "MODEL_FILE",
    "VERSION",
    "IdList",
    "ServingTables",
    "model_file",
    "pack_serving",
    "read_serving",
    "save_serving",
]

#: Format name and version in every serving file's header.
FORMAT = "sparseworks-topk-serving"
VERSION = 1
#: The layouts a serving file can have (see the module docstring).
LAYOUTS = ("columns", "csr", "dense")
#: The serving file's name inside an export folder.
MODEL_FILE = "model.npz"
_MODELS = ("mf", "lightgcn")


def _index_dtype(bound: int) -> type:
    """The smallest unsigned dtype holding ``0..bound-1``."""
    return np.uint8 if bound <= 2**8 else np.uint16 if bound <= 2**16 else np.int32 if bound <= 2**31 else np.int64


def _csr_arrays(name: str, table: np.ndarray) -> dict[str, np.ndarray]:
    matrix = sp.csr_matrix(table)
    matrix.sort_indices()
    pointer = np.int32 if matrix.nnz < 2**31 else np.int64
    return {
        f"{name}_indptr": matrix.indptr.astype(pointer),
        f"{name}_indices": matrix.indices.astype(_index_dtype(table.shape[1])),
        f"{name}_values": matrix.data.astype(np.float32),
    }


def _text(values: tuple[str, ...] | list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(values).encode("utf-8"), dtype=np.uint8)


def pack_serving(
    *,
    model: str,
    layers: int,
    layer0: tuple[np.ndarray, np.ndarray],
    final: tuple[np.ndarray, np.ndarray],
    user_ids: tuple[str, ...],
    item_ids: tuple[str, ...],
    known: tuple[np.ndarray, np.ndarray, np.ndarray],
    layout: str = "auto",
    header: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of a serving file of a trained model (what :func:`save_serving` writes).

    Args:
        model: ``"mf"`` or ``"lightgcn"``.
        layers: LightGCN's propagation layers K (0 for MF).
        layer0: Effective (masked) user and item tables.
        final: The representations that scores use (MF: ``layer0``; LightGCN: propagated).
        user_ids, item_ids: Raw id of every index.
        known: ``(users, items, in_train)`` of every known interaction (training and
            validation); ``in_train`` marks the training graph of LightGCN.
        layout: ``"columns"``, ``"csr"``, ``"dense"`` or ``"auto"`` (the smaller of columns and csr).
        header: More header entries (source run, metrics, ...).

    Shapes:
        - layer0, final: ``(num_users, dim)``, ``(num_items, dim)`` float32; known: ``(pairs,)``.

    Raises:
        ValueError: an unknown layout or model, or shapes that do not agree.
    """
    if model not in _MODELS:
        raise ValueError(f"model must be one of {_MODELS}, got {model!r}")
    if layout not in (*LAYOUTS, "auto"):
        raise ValueError(f"layout must be one of {(*LAYOUTS, 'auto')}, got {layout!r}")
    (users0, items0), (users_f, items_f) = layer0, final
    num_users, num_items, dim = users0.shape[0], items0.shape[0], users0.shape[1]
    for table, rows in ((users0, num_users), (items0, num_items), (users_f, num_users), (items_f, num_items)):
        if table.shape != (rows, dim):
            raise ValueError(f"a table has shape {table.shape}, expected {(rows, dim)}")
    if len(user_ids) != num_users or len(item_ids) != num_items:
        raise ValueError(f"{len(user_ids)} user ids, {len(item_ids)} item ids for a {num_users} x {num_items} model")
    scoring = np.flatnonzero((users_f != 0).any(0) & (items_f != 0).any(0))
    nonzeros = int(np.count_nonzero(users0) + np.count_nonzero(items0))
    if layout == "auto":
        column_bytes = (num_users + num_items) * scoring.size * 4
        csr_bytes = nonzeros * (4 + np.dtype(_index_dtype(dim)).itemsize) + (num_users + num_items + 2) * 4
        layout = "columns" if column_bytes <= csr_bytes else "csr"
    users, items, in_train = (np.asarray(a) for a in known)
    order = np.argsort(users.astype(np.int64) * num_items + items, kind="stable")
    users, items, in_train = users[order], items[order], in_train[order].astype(bool)
    first = np.concatenate([[True], (users[1:] != users[:-1]) | (items[1:] != items[:-1])])  # a pair once
    users, items, in_train = users[first], items[first], in_train[first]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=num_users))])
    gaps = np.diff(items, prepend=0)  # sorted rows as gaps (small numbers, which compress), each row from 0
    starts = indptr[:-1][indptr[:-1] < items.size]
    gaps[starts] = items[starts]
    arrays: dict[str, np.ndarray] = {
        "user_ids": _text(user_ids),
        "item_ids": _text(item_ids),
        "known_indptr": indptr.astype(np.int32 if indptr[-1] < 2**31 else np.int64),
        "known_gaps": gaps.astype(_index_dtype(num_items)),
    }
    if layout == "csr":
        arrays.update(_csr_arrays("user", np.asarray(users0, dtype=np.float32)))
        arrays.update(_csr_arrays("item", np.asarray(items0, dtype=np.float32)))
        if model == "lightgcn" and layers > 0:
            arrays["known_in_train"] = np.packbits(in_train)
    else:
        columns = scoring if layout == "columns" else np.arange(dim)
        arrays["columns"] = columns.astype(_index_dtype(dim))
        arrays["user_embeddings"] = np.ascontiguousarray(users_f[:, columns], dtype=np.float32)
        arrays["item_embeddings"] = np.ascontiguousarray(items_f[:, columns], dtype=np.float32)
    document = {
        **(header or {}),
        "format": FORMAT,
        "version": VERSION,
        "layout": layout,
        "model": model,
        "layers": int(layers),
        "num_users": int(num_users),
        "num_items": int(num_items),
        "embedding_dim": int(dim),
        "scoring_columns": int(scoring.size),
        "nonzeros": nonzeros,
    }
    arrays["header"] = np.array(json.dumps(document))
    return arrays


def save_serving(path: Path | str, arrays: Mapping[str, np.ndarray]) -> Path:
    """Writes the arrays of :func:`pack_serving` as a compressed ``.npz``, atomically; returns the path."""
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


class ServingTables(NamedTuple):
    """What a serving file holds, checked (:func:`read_serving`); :class:`recsys.serving.ServingModel` scores it.

    Attributes:
        header: The header (format, layout, model, sizes, source run, ...).
        users, items: Final tables over the scoring columns (dense), or MF's CSR layer 0.
        user_ids, item_ids: Raw id of every user and item index (decoded on first use).
        known_indptr, known_indices: CSR rows of every user's known items (sorted).
        path: The file read.
    """

    header: dict[str, Any]
    users: np.ndarray | sp.csr_matrix
    items: np.ndarray | sp.csr_matrix
    user_ids: IdList
    item_ids: IdList
    known_indptr: np.ndarray
    known_indices: np.ndarray
    path: Path


def _bad(path: Path, message: str) -> InputError:
    return InputError(f"{path}: {message}; re-export it with 'sparseworks recsys export'")


def _array(path: Path, arrays: Mapping[str, np.ndarray], name: str, kind: str, shape: tuple) -> np.ndarray:
    """``arrays[name]``, checked: dtype kind (``"f"`` float32, ``"i"`` integer, ``"u8"`` bytes) and shape."""
    if name not in arrays:
        raise _bad(path, f"array {name!r} is missing")
    value = arrays[name]
    expected = {"f": "float32", "i": "integer", "u8": "uint8"}[kind]
    if (
        (kind == "f" and value.dtype != np.float32)
        or (kind == "i" and value.dtype.kind not in "iu")
        or (kind == "u8" and value.dtype != np.uint8)
    ):
        raise _bad(path, f"array {name!r} has dtype {value.dtype}, expected {expected}")
    if value.ndim != len(shape) or any(want is not None and got != want for got, want in zip(value.shape, shape)):
        wanted = tuple("any" if s is None else s for s in shape)
        raise _bad(path, f"array {name!r} has shape {value.shape}, expected {wanted}")
    if kind == "f" and not np.isfinite(value).all():
        raise _bad(path, f"array {name!r} holds {int((~np.isfinite(value)).sum())} NaN or infinite values")
    return value


def _csr(
    path: Path, arrays: Mapping[str, np.ndarray], name: str, rows: int, cols: int, gaps: bool = False
) -> tuple[np.ndarray, ...]:
    """CSR arrays ``{name}_indptr`` / ``_indices`` (or ``_gaps``), checked: pointers, bounds, sorted unique rows.

    With ``gaps`` the column indices are stored as differences within each row (the first
    one as is) and are summed back here.
    """
    indptr = _array(path, arrays, f"{name}_indptr", "i", (rows + 1,)).astype(np.int64)
    stored = f"{name}_gaps" if gaps else f"{name}_indices"
    indices = _array(path, arrays, stored, "i", (None,))
    if indptr[0] != 0 or (np.diff(indptr) < 0).any() or indptr[-1] != indices.size:
        raise _bad(path, f"{name}_indptr is not a row pointer over the {indices.size} entries of {stored}")
    if indices.size and (indices.min() < 0 or indices.max() >= cols):  # a gap too is below cols
        raise _bad(path, f"{stored} gives column indices outside 0..{cols - 1}")
    if gaps:  # a running sum over all rows (below nnz * cols), less each row's start
        decoded = np.cumsum(indices, dtype=np.int32 if indices.size * cols < 2**31 else np.int64)
        counts = np.diff(indptr)
        starts = indptr[:-1][counts > 0]
        decoded -= np.repeat(decoded[starts] - indices[starts], counts[counts > 0])
        indices = decoded
        if indices.size and (indices.min() < 0 or indices.max() >= cols):
            raise _bad(path, f"{stored} gives column indices outside 0..{cols - 1}")
    increasing = indices[1:] > indices[:-1]
    starts = indptr[1:-1]
    increasing[starts[(starts > 0) & (starts < indices.size)] - 1] = True  # a new row may start lower
    if not increasing.all():
        raise _bad(path, f"{stored} gives column indices that are not sorted and unique within every row")
    return indptr, indices


class IdList(Sequence[str]):
    """Raw ids stored as newline-joined UTF-8, decoded (and checked distinct) on first use.

    Ranking every user needs no id, so a loaded model holds the bytes, not ``count`` strings.
    """

    def __init__(self, raw: np.ndarray, count: int, where: str):
        self._raw, self._count, self._where = raw, count, where
        self._ids: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        return self.decoded()[index]

    def __iter__(self):
        return iter(self.decoded())

    def decoded(self) -> tuple[str, ...]:
        """Every id, in index order.

        Raises:
            InputError: bytes that are not UTF-8, or an id that repeats.
        """
        if self._ids is None:
            try:
                ids = tuple(self._raw.tobytes().decode("utf-8").split("\n"))
            except UnicodeDecodeError:
                raise InputError(
                    f"{self._where} is not UTF-8 text; re-export it with 'sparseworks recsys export'"
                ) from None
            if len(set(ids)) != len(ids):
                raise InputError(f"{self._where} repeats an id; re-export it with 'sparseworks recsys export'")
            self._ids = ids
        return self._ids


def _ids(path: Path, arrays: Mapping[str, np.ndarray], name: str, count: int) -> IdList:
    raw = _array(path, arrays, name, "u8", (None,))
    found = int(np.count_nonzero(raw == ord("\n"))) + 1
    if found != count:
        raise _bad(path, f"array {name!r} holds {found} ids, expected {count}")
    return IdList(raw, count, f"{path}: array {name!r}")


def _header(path: Path, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    raw = arrays.get("header")
    if raw is None or raw.dtype.kind != "U" or raw.ndim != 0:
        raise InputError(f"{path}: no serving header; expected a model.npz written by 'sparseworks recsys export'")
    try:
        header = json.loads(str(raw))
    except ValueError as error:
        raise _bad(path, f"the header is not valid JSON ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise InputError(
            f"{path}: format {found!r} is not {FORMAT!r}; expected a model.npz of 'sparseworks recsys export'"
        )
    if header.get("version") != VERSION:
        raise _bad(path, f"format version {header.get('version')!r}, but this SparseWorks reads version {VERSION}")
    wanted = {"layout": LAYOUTS, "model": _MODELS}
    for key, choices in wanted.items():
        if header.get(key) not in choices:
            raise _bad(path, f"header {key} {header.get(key)!r} is not one of {choices}")
    for key, low in (("layers", 0), ("num_users", 1), ("num_items", 1), ("embedding_dim", 1)):
        value = header.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise _bad(path, f"header {key} {value!r} is not an integer >= {low}")
    return header


def model_file(path: Path | str) -> Path:
    """The serving file that ``path`` names: the file itself, or ``model.npz`` in an export folder."""
    path = Path(path)
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE
        hint = (
            " (a topk run folder: export it first with 'sparseworks recsys export')"
            if (path / "best.pt").exists()
            else ""
        )
        raise FileNotFoundError(f"{path}: no {MODEL_FILE} in the folder{hint}")
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; give a {MODEL_FILE} written by 'sparseworks recsys export'")
    return path


def read_serving(path: Path | str) -> ServingTables:
    """Reads and checks a serving file (or the export folder holding ``model.npz``).

    Never builds the dense layer-0 table: ``columns`` / ``dense`` files hold the final
    tables, MF's ``csr`` stays CSR, and LightGCN's ``csr`` is propagated from its CSR layer
    0 (He et al. 2020, Eqs. 7-8, with the symmetric normalisation of the training graph)
    into dense final tables of the used columns only.

    Raises:
        FileNotFoundError: no such file (or no ``model.npz`` in the folder).
        InputError: a file that is not a readable ``.npz`` (truncated, corrupt), lacks the
            serving header, has another format name or version, or holds missing, mistyped,
            misshapen, out-of-range or non-finite arrays; the message names the file.
    """
    path = model_file(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise InputError(f"{path}: a single numpy array, not a serving .npz")
        with archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(
            f"{path}: not a readable serving .npz ({error}); the file may be truncated or damaged, "
            "re-export it with 'sparseworks recsys export'"
        ) from None
    header = _header(path, arrays)
    num_users, num_items, dim = header["num_users"], header["num_items"], header["embedding_dim"]
    user_ids = _ids(path, arrays, "user_ids", num_users)
    item_ids = _ids(path, arrays, "item_ids", num_items)
    known_indptr, known_indices = _csr(path, arrays, "known", num_users, num_items, gaps=True)
    if header["layout"] == "csr":
        tables = []
        for name, rows in (("user", num_users), ("item", num_items)):
            indptr, indices = _csr(path, arrays, name, rows, dim)
            values = _array(path, arrays, f"{name}_values", "f", (indices.size,))
            tables.append(sp.csr_matrix((values, indices.astype(np.int32), indptr), shape=(rows, dim)))
        users, items = tables
        if header["model"] == "lightgcn" and header["layers"] > 0:
            bits = _array(path, arrays, "known_in_train", "u8", ((known_indices.size + 7) // 8,))
            in_train = np.unpackbits(bits, count=known_indices.size).astype(bool)
            users, items = _propagate(users, items, known_indptr, known_indices, in_train, header["layers"])
    else:
        columns = _array(path, arrays, "columns", "i", (None,))
        if columns.size > dim or (columns.size and (columns.min() < 0 or columns.max() >= dim)):
            raise _bad(path, f"columns {columns.tolist()} do not fit embedding_dim {dim}")
        users = _array(path, arrays, "user_embeddings", "f", (num_users, columns.size))
        items = _array(path, arrays, "item_embeddings", "f", (num_items, columns.size))
    known_indices = known_indices.astype(_index_dtype(num_items))
    return ServingTables(header, users, items, user_ids, item_ids, known_indptr, known_indices, path)


def _propagate(
    users0: sp.csr_matrix,
    items0: sp.csr_matrix,
    known_indptr: np.ndarray,
    known_indices: np.ndarray,
    in_train: np.ndarray,
    layers: int,
) -> tuple[np.ndarray, np.ndarray]:
    """LightGCN's ``sum_k E^(k) / (K + 1)`` over the used columns of a CSR layer 0.

    The graph is the bipartite training graph ``R`` normalised as ``D^-1/2 A D^-1/2``
    (:func:`recsys.models.lightgcn.normalized_adjacency`); a layer maps users to ``R E_items``
    and items to ``R^T E_users``.

    Shapes:
        - users0: ``(num_users, dim)``; items0: ``(num_items, dim)``; return: ``(num_users, c)``,
          ``(num_items, c)`` with ``c`` the columns used by either table.
    """
    num_users, num_items = users0.shape[0], items0.shape[0]
    columns = np.union1d(users0.indices, items0.indices)
    x_users, x_items = users0[:, columns].toarray(), items0[:, columns].toarray()
    user_of = np.repeat(np.arange(num_users), np.diff(known_indptr))[in_train]
    item_of = known_indices[in_train].astype(np.int64)
    degree_users = np.bincount(user_of, minlength=num_users).astype(np.float64)
    degree_items = np.bincount(item_of, minlength=num_items).astype(np.float64)
    values = (degree_users[user_of] ** -0.5 * degree_items[item_of] ** -0.5).astype(np.float32)
    graph = sp.csr_matrix((values, (user_of, item_of)), shape=(num_users, num_items))
    graph_t = graph.T.tocsr()
    total_users, total_items = x_users.copy(), x_items.copy()
    for _ in range(layers):
        x_users, x_items = graph @ x_items, graph_t @ x_users
        total_users += x_users
        total_items += x_items
    return total_users / np.float32(layers + 1), total_items / np.float32(layers + 1)
