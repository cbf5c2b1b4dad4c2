"""Streaming reader for Criteo / Avazu style CTR files larger than memory.

A file holds one label column, numeric columns and categorical columns, delimited by tab
(Criteo's ``train.txt``) or comma (Avazu's ``train.csv``, with a header). Reading takes two
passes over the file, each in chunks of ``chunk_rows`` lines, so memory stays bounded by
one chunk plus the vocabularies:

1. :func:`fit_vocabularies` counts every categorical value (and every binned numeric) and
   keeps those seen ``min_count`` times (or, with ``hash_buckets``, needs no pass at all);
2. :func:`iter_chunks` yields ``(labels, ids)`` arrays chunk by chunk.

Numerics are log-binned as in the Criteo competition's winning solution (Juan et al. 2016):
``v -> floor(log(v)^2)`` for ``v > 2``, the value itself otherwise, missing -> its own bin.
Malformed rows (wrong column count, a label not 0/1, a non-numeric numeric) are skipped and
reported with their line numbers through :class:`RowErrors`; past ``max_errors`` the reader
stops with :class:`CTRFormatError`.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recsys.data.vocab import OOV_INDEX, Vocabulary

__all__ = ["CTRFormatError", "CTRSchema", "RowErrors", "bin_numeric", "fit_vocabularies", "iter_chunks"]

log = logging.getLogger(__name__)

MISSING = "<missing>"


class CTRFormatError(ValueError):
    """Too many malformed rows: the file is probably not in the declared format."""


@dataclass(frozen=True)
class CTRSchema:
    """Where the columns are.

    Attributes:
        label: Column index of the 0/1 label.
        numeric: Column indices of the numeric fields (Criteo: 1..13).
        categorical: Column indices of the categorical fields (Criteo: 14..39).
        delimiter: Cell separator.
        header: Whether the first line names the columns (it is skipped).
        names: Field names for messages; defaults to ``I1.., C1..``.
    """

    label: int = 0
    numeric: tuple[int, ...] = tuple(range(1, 14))
    categorical: tuple[int, ...] = tuple(range(14, 40))
    delimiter: str = "\t"
    header: bool = False
    names: tuple[str, ...] = ()

    @property
    def columns(self) -> int:
        return 1 + max((self.label, *self.numeric, *self.categorical))

    @property
    def field_names(self) -> tuple[str, ...]:
        if self.names:
            return self.names
        return tuple(f"I{i + 1}" for i in range(len(self.numeric))) + tuple(
            f"C{i + 1}" for i in range(len(self.categorical))
        )

    @classmethod
    def criteo(cls) -> CTRSchema:
        """Criteo's Display Advertising Challenge layout: label, 13 integers, 26 hashed categories."""
        return cls()


@dataclass
class RowErrors:
    """Malformed rows met so far: ``(line number, reason)``; raises past ``max_errors``.

    Attributes:
        path: The file being read.
        max_errors: How many malformed rows are tolerated.
        rows: The malformed rows seen, in order.
    """

    path: Path
    max_errors: int = 100
    rows: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line_number: int, reason: str) -> None:
        self.rows.append((line_number, reason))
        log.warning("%s, line %d: skipped malformed row: %s", self.path, line_number, reason)
        if len(self.rows) > self.max_errors:
            listed = "; ".join(f"line {n}: {r}" for n, r in self.rows[:5])
            raise CTRFormatError(
                f"{self.path}: more than {self.max_errors} malformed rows (first: {listed}); "
                "check the delimiter and the column indices of the CTRSchema"
            )


def bin_numeric(cell: str) -> str:
    """Log-bins one numeric cell into a categorical token; raises ValueError if not a number."""
    if cell == "":
        return MISSING
    value = float(cell)
    if math.isnan(value):
        return MISSING
    if value > 2:
        return str(int(math.floor(math.log(value) ** 2)))
    return str(int(math.floor(value)))


def _parse(line: str, line_number: int, schema: CTRSchema, errors: RowErrors) -> tuple[float, list[str]] | None:
    cells = line.rstrip("\r\n").split(schema.delimiter)
    if len(cells) != schema.columns:
        errors.add(line_number, f"expected {schema.columns} cells, found {len(cells)}")
        return None
    label = cells[schema.label].strip()
    if label not in ("0", "1"):
        errors.add(line_number, f"label {label!r} is not 0 or 1")
        return None
    tokens = []
    for column in schema.numeric:
        try:
            tokens.append(bin_numeric(cells[column].strip()))
        except ValueError:
            errors.add(line_number, f"numeric column {column} holds {cells[column]!r}")
            return None
    tokens.extend(cells[column].strip() or MISSING for column in schema.categorical)
    return float(label), tokens


def _rows(path: Path, schema: CTRSchema, errors: RowErrors) -> Iterator[tuple[float, list[str]]]:
    with Path(path).open(encoding="utf-8", errors="replace") as handle:
        if schema.header:
            handle.readline()
        for line_number, line in enumerate(handle, start=2 if schema.header else 1):
            if not line.strip():
                continue
            parsed = _parse(line, line_number, schema, errors)
            if parsed is not None:
                yield parsed


def fit_vocabularies(
    path: str | Path, schema: CTRSchema, min_count: int = 10, max_errors: int = 100
) -> list[Vocabulary]:
    """First pass: per-field vocabularies of values seen at least ``min_count`` times.

    Args:
        path: The CTR file.
        schema: Its layout.
        min_count: Rarer values map to the out-of-vocabulary id (Criteo convention: 10).
        max_errors: Malformed rows tolerated before :class:`CTRFormatError`.

    Returns:
        One vocabulary per field, numeric fields first.
    """
    names = schema.field_names
    counters = [Counter() for _ in names]
    for _, tokens in _rows(Path(path), schema, RowErrors(Path(path), max_errors)):
        for counter, token in zip(counters, tokens):
            counter[token] += 1
    return [Vocabulary.from_counts(c, min_count=min_count, name=n) for c, n in zip(counters, names)]


def _hash(field_index: int, token: str, buckets: int) -> int:
    return 1 + zlib.crc32(f"{field_index}\x1f{token}".encode()) % (buckets - 1)


def iter_chunks(
    path: str | Path,
    schema: CTRSchema,
    vocabularies: list[Vocabulary] | None = None,
    hash_buckets: int | None = None,
    chunk_rows: int = 100_000,
    max_errors: int = 100,
    errors: RowErrors | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Second pass: ``(labels, ids)`` per chunk of at most ``chunk_rows`` valid rows.

    Exactly one of ``vocabularies`` (from :func:`fit_vocabularies`) and ``hash_buckets``
    (ids ``1..hash_buckets-1`` from a stable CRC32 hash, 0 for nothing) must be given.

    Args:
        path: The CTR file.
        schema: Its layout.
        vocabularies: Per-field vocabularies; unknown values get id 0.
        hash_buckets: Buckets per field for the hashing trick.
        chunk_rows: Rows per yielded chunk.
        max_errors: Malformed rows tolerated before :class:`CTRFormatError`.
        errors: Collects the malformed rows (pass one to read them afterwards).

    Yields:
        ``labels`` float32 ``(rows,)`` and ``ids`` int64 ``(rows, fields)``.
    """
    if (vocabularies is None) == (hash_buckets is None):
        raise ValueError("give exactly one of vocabularies and hash_buckets")
    if hash_buckets is not None and hash_buckets < 2:
        raise ValueError(f"hash_buckets must be >= 2, found {hash_buckets}")
    fields = len(schema.field_names)
    if vocabularies is not None and len(vocabularies) != fields:
        raise ValueError(f"expected {fields} vocabularies (one per field), found {len(vocabularies)}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, found {chunk_rows}")
    errors = errors if errors is not None else RowErrors(Path(path), max_errors)
    lookups = [v.index_ for v in vocabularies] if vocabularies is not None else None
    labels: list[float] = []
    ids: list[list[int]] = []
    for label, tokens in _rows(Path(path), schema, errors):
        if lookups is not None:
            ids.append([lookup.get(t, OOV_INDEX) for lookup, t in zip(lookups, tokens)])
        else:
            ids.append([_hash(i, t, hash_buckets) for i, t in enumerate(tokens)])
        labels.append(label)
        if len(labels) == chunk_rows:
            yield np.asarray(labels, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            labels, ids = [], []
    if labels:
        yield np.asarray(labels, dtype=np.float32), np.asarray(ids, dtype=np.int64).reshape(len(labels), fields)
