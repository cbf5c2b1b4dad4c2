"""Streaming reader for Criteo / Avazu style CTR files larger than memory.

A file holds one label column, numeric columns and categorical columns, delimited by tab
(Criteo's ``train.txt``) or comma (Avazu's ``train.csv``, with a header), plain or
compressed (gzip, bzip2, xz: recognised by content, :mod:`recsys.data.textio`). Reading
goes line by line and hands out chunks of ``chunk_rows`` rows, so memory stays bounded
by one chunk plus the vocabularies:

1. :func:`fit_vocabularies` counts every categorical value (and every binned numeric) and
   keeps those seen ``min_count`` times (or, with ``hash_buckets``, needs no pass at all);
2. :func:`iter_chunks` yields ``(labels, ids)`` arrays chunk by chunk.

Numerics are log-binned as in the Criteo competition's winning solution (Juan et al. 2016):
``v -> floor(log(v)^2)`` for ``v > 2``, the value itself otherwise, missing -> its own bin.
Malformed rows (wrong column count, a label not 0/1, a numeric that is not a finite
number, a line that is not UTF-8 text) are skipped and counted with their line numbers
through :class:`RowErrors`; past ``max_errors`` the reader stops with
:class:`CTRFormatError`, and so it does when a file holds no valid row at all.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recsys.data.textio import MalformedRows, iter_lines
from recsys.data.vocab import OOV_INDEX, Vocabulary
from sparse_core.infra.errors import InputError

__all__ = [
    "CTRFormatError",
    "CTRSchema",
    "PARTS",
    "RowErrors",
    "bin_numeric",
    "fit_vocabularies",
    "iter_chunks",
    "iter_rows",
    "vocabularies_from_counts",
]

MISSING = "<missing>"
#: The parts a split column may name, and the spellings accepted for them.
PARTS = ("train", "valid", "test")
_PART_NAMES = {"train": "train", "valid": "valid", "validation": "valid", "val": "valid", "test": "test"}
_HINT = "; check the delimiter and the columns of the format (--format, --label-column, ...)"


class CTRFormatError(InputError):
    """A CTR file is not in the declared format: too many malformed rows, or none valid."""


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
        split: Column index of a column naming each row's part (train, valid, test), if any.
        width: Number of cells of every row (default: one past the last column used).
    """

    label: int = 0
    numeric: tuple[int, ...] = tuple(range(1, 14))
    categorical: tuple[int, ...] = tuple(range(14, 40))
    delimiter: str = "\t"
    header: bool = False
    names: tuple[str, ...] = ()
    split: int | None = None
    width: int | None = None

    @property
    def columns(self) -> int:
        used = 1 + max((self.label, *self.numeric, *self.categorical, *(() if self.split is None else (self.split,))))
        return self.width if self.width is not None else used

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

    @classmethod
    def from_header(
        cls,
        header: Sequence[str],
        *,
        label: str,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        ignore: Sequence[str] = (),
        split: str | None = None,
        delimiter: str = ",",
        where: str = "the header",
    ) -> CTRSchema:
        """The schema of a file whose first line names its columns.

        Args:
            header: The header's cells.
            label: Name of the label column.
            numeric: Names of the numeric (log-binned) columns.
            categorical: Names of the categorical columns; empty: every column not named
                as label, numeric, split or ignored.
            ignore: Names of columns not used.
            split: Name of the column naming each row's part, if any.
            delimiter: Cell separator.
            where: The file, for messages.

        Raises:
            CTRFormatError: a named column missing from the header, a repeated or empty
                column name, or no field left to learn from.
        """
        header = [cell.strip() for cell in header]
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated or "" in header:
            problem = f"repeats {repeated}" if repeated else "has an empty column name"
            raise CTRFormatError(f"{where}: the header {problem}; columns: {header}")
        position = {name: i for i, name in enumerate(header)}
        named = [label, *numeric, *categorical, *ignore, *([split] if split else [])]
        missing = [name for name in named if name not in position]
        if missing:
            raise CTRFormatError(f"{where}: no column named {', '.join(map(repr, missing))}; the header has {header}")
        taken = {label, *numeric, *ignore, *([split] if split else [])}
        categorical = list(categorical) or [name for name in header if name not in taken]
        if not numeric and not categorical:
            raise CTRFormatError(f"{where}: no feature column left besides the label (header: {header})")
        return cls(
            label=position[label],
            numeric=tuple(position[n] for n in numeric),
            categorical=tuple(position[c] for c in categorical),
            delimiter=delimiter,
            header=True,
            names=(*numeric, *categorical),
            split=position[split] if split else None,
            width=len(header),
        )


@dataclass
class RowErrors(MalformedRows):
    """Malformed rows met so far: ``(line number, reason)``; :class:`CTRFormatError` past ``max_errors``."""

    hint: str = _HINT
    error_type: type[InputError] = field(default=CTRFormatError)


def bin_numeric(cell: str) -> str:
    """Log-bins one numeric cell into a categorical token.

    Raises:
        ValueError: the cell is not a finite number (``inf`` and ``nan`` are rejected; an
            empty cell is the missing value).
    """
    if cell == "":
        return MISSING
    value = float(cell)
    if not math.isfinite(value):
        raise ValueError(f"{cell!r} is not a finite number")
    if value > 2:
        return str(int(math.floor(math.log(value) ** 2)))
    return str(math.floor(value))


class _Binner:
    """:func:`bin_numeric` with a memory of the cells seen (numeric cells repeat a lot), bounded in size."""

    def __init__(self, capacity: int = 200_000):
        self.known: dict[str, str] = {}
        self.capacity = capacity

    def __call__(self, cell: str) -> str:
        token = self.known.get(cell)
        if token is None:
            token = bin_numeric(cell.strip())
            if len(self.known) < self.capacity:
                self.known[cell] = token
        return token


def _parser(schema: CTRSchema):
    """``parse(cells) -> (label, tokens) | reason`` for one row's cells, specialised to ``schema``."""
    label_column, numeric, categorical = schema.label, schema.numeric, schema.categorical
    binner = _Binner()

    def parse(cells: list[str]) -> tuple[float, list[str]] | str:
        label = cells[label_column]
        if label != "0" and label != "1":
            label = label.strip()
            if label not in ("0", "1"):
                return f"label {label!r} is not 0 or 1"
        try:
            tokens = [binner(cells[column]) for column in numeric]
        except ValueError:
            column = next(c for c in numeric if not _finite_or_empty(cells[c]))
            return f"numeric column {column} holds {cells[column]!r}, not a finite number"
        tokens += [cells[column].strip() or MISSING for column in categorical]
        return float(label), tokens

    return parse


def _finite_or_empty(cell: str) -> bool:
    try:
        bin_numeric(cell.strip())
    except ValueError:
        return False
    return True


def iter_rows(
    path: str | Path,
    schema: CTRSchema,
    errors: RowErrors,
    *,
    lines: range | None = None,
    parts: Collection[str] | None = None,
) -> Iterator[tuple[int, str | None, float, list[str]]]:
    """``(line number, part, label, tokens)`` of every valid row, malformed rows counted in ``errors``.

    Args:
        path: The CTR file.
        schema: Its layout.
        errors: Counts the malformed rows (raises past its limit).
        lines: Only the data lines with these 0-based indices (the header not counted);
            lines outside are not parsed.
        parts: With a split column, only rows of these parts (the values of other rows are
            not parsed).

    Yields:
        The row's line number (1-based, as an editor shows it), its part (None without a
        split column), label and one token per field (numeric fields binned).
    """
    offset = 2 if schema.header else 1
    columns, delimiter = schema.columns, schema.delimiter
    parse = _parser(schema)
    for number, text in iter_lines(path):
        index = number - offset
        if index < 0:
            continue
        if lines is not None:
            if index < lines.start:
                continue
            if index >= lines.stop:
                return
        if text is None:
            errors.add(number, "not UTF-8 text, or a line over 1 MiB")
            continue
        if not text.strip():
            continue
        cells = text.split(delimiter)
        if len(cells) != columns:
            errors.add(number, f"expected {columns} cells, found {len(cells)}")
            continue
        part = None
        if schema.split is not None:
            part = _PART_NAMES.get(cells[schema.split].strip().lower())
            if part is None:
                errors.add(
                    number, f"split column {schema.split} holds {cells[schema.split]!r}, not train, valid or test"
                )
                continue
            if parts is not None and part not in parts:
                continue
        parsed = parse(cells)
        if isinstance(parsed, str):
            errors.add(number, parsed)
            continue
        yield number, part, parsed[0], parsed[1]


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

    Raises:
        CTRFormatError: too many malformed rows, or no valid row.
    """
    counts = Counter()
    errors = RowErrors(Path(path), max_errors)
    rows = 0
    for _, _, _, tokens in iter_rows(path, schema, errors):
        rows += 1
        counts.update(enumerate(tokens))
    if rows == 0:
        raise errors.no_valid_rows()
    return vocabularies_from_counts(counts, schema.field_names, min_count)


def vocabularies_from_counts(counts: Counter, names: Sequence[str], min_count: int) -> list[Vocabulary]:
    """One vocabulary per field from counts keyed by ``(field index, token)``."""
    per_field: list[dict[str, int]] = [{} for _ in names]
    for (index, token), count in counts.items():
        if count >= min_count:
            per_field[index][token] = count
    return [Vocabulary.from_counts(c, min_count=min_count, name=n) for c, n in zip(per_field, names)]


def hash_token(field_index: int, token: str, buckets: int) -> int:
    """A stable id in ``1..buckets-1`` for one field's value (CRC32; 0 stays out of vocabulary)."""
    return 1 + zlib.crc32(f"{field_index}\x1f{token}".encode()) % (buckets - 1)


def iter_chunks(
    path: str | Path,
    schema: CTRSchema,
    vocabularies: list[Vocabulary] | None = None,
    hash_buckets: int | None = None,
    chunk_rows: int = 100_000,
    max_errors: int = 100,
    errors: RowErrors | None = None,
    *,
    lines: range | None = None,
    parts: Collection[str] | None = None,
    reuse_buffers: bool = False,
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
        lines: Only these data lines (see :func:`iter_rows`).
        parts: Only these parts of a split column.
        reuse_buffers: Fill two pairs of arrays in turn, so that memory stays at two chunks
            however long the file (no new allocation per chunk, hence no fragmentation);
            a chunk's arrays are then overwritten two chunks later: copy what you keep.

    Yields:
        ``labels`` float32 ``(rows,)`` and ``ids`` int64 ``(rows, fields)``.

    Raises:
        CTRFormatError: too many malformed rows, or no valid row in what was read.
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
    buffers = [(np.empty(chunk_rows, dtype=np.float32), np.empty((chunk_rows, fields), dtype=np.int64))]
    labels, ids = buffers[0]
    filled = total = chunks = 0
    for _, _, label, tokens in iter_rows(path, schema, errors, lines=lines, parts=parts):
        if lookups is not None:
            ids[filled] = [lookup.get(t, OOV_INDEX) for lookup, t in zip(lookups, tokens)]
        else:
            ids[filled] = [hash_token(i, t, hash_buckets) for i, t in enumerate(tokens)]
        labels[filled] = label
        filled += 1
        if filled == chunk_rows:
            total += filled
            chunks += 1
            yield labels, ids
            if not reuse_buffers:
                labels, ids = np.empty_like(labels), np.empty_like(ids)
            else:
                if len(buffers) == 1:
                    buffers.append((np.empty_like(labels), np.empty_like(ids)))
                labels, ids = buffers[chunks % 2]
            filled = 0
    total += filled
    if total == 0:
        what = f" in data lines {lines.start + 1}..{lines.stop}" if lines is not None else ""
        what += f" of part(s) {sorted(parts)}" if parts is not None else ""
        raise errors.no_valid_rows(what)
    if filled:
        yield labels[:filled], ids[:filled]
