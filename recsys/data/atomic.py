"""Reading RecBole atomic files (``.inter``, ``.user``, ``.item``).

An atomic file is tab-separated text whose header names every column with its type,
``name:type``, where type is ``token`` (a categorical id, kept as text), ``token_seq``
(space-separated tokens), ``float`` or ``float_seq`` (RecBole docs, "Atomic Files").
Files may be compressed (gzip, bzip2, xz; recognised by content, :mod:`recsys.data.textio`).

Every ``float`` cell must be a finite number (and lie in its column's range, when one is
given); a row with the wrong number of cells, a bad number or undecodable text is a
malformed row, named with its line number. ``max_malformed`` of them are skipped (and
counted); one more is an :class:`AtomicFormatError`, as is a bad header or a file without
a single valid row.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.data.textio import MalformedRows, iter_lines
from sparse_core.infra.errors import InputError

__all__ = ["AtomicFormatError", "AtomicTable", "read_atomic"]

log = logging.getLogger(__name__)

_TYPES = ("token", "token_seq", "float", "float_seq")


class AtomicFormatError(InputError):
    """An atomic file does not follow the ``name:type`` tab-separated format, or holds bad values."""


@dataclass(frozen=True)
class AtomicTable:
    """The columns of one atomic file.

    Attributes:
        path: The file read.
        columns: Column name -> values: ``token`` columns as an object array of str,
            ``float`` columns as float64, ``*_seq`` columns as a list of lists.
        types: Column name -> declared type.
        lines: The line number (1-based) of every row, for messages.
        malformed: The malformed rows skipped.

    Shapes:
        - columns[name], lines: ``(rows,)``
    """

    path: Path
    columns: dict[str, object]
    types: dict[str, str]
    lines: np.ndarray
    malformed: MalformedRows

    def __len__(self) -> int:
        return int(self.lines.shape[0])

    def __getitem__(self, name: str):
        try:
            return self.columns[name]
        except KeyError:
            raise AtomicFormatError(f"{self.path} has no column {name!r}; columns: {list(self.columns)}") from None

    def require(self, name: str, kind: str | tuple[str, ...]) -> None:
        """Raises :class:`AtomicFormatError` unless column ``name`` exists with a declared type in ``kind``."""
        kinds = (kind,) if isinstance(kind, str) else kind
        if name not in self.columns:
            header = ", ".join(f"{n}:{t}" for n, t in self.types.items())
            raise AtomicFormatError(f"{self.path}: no column {name!r} (the header has {header})")
        if self.types[name] not in kinds:
            raise AtomicFormatError(
                f"{self.path}: column {name!r} is declared {self.types[name]!r}, expected {' or '.join(kinds)}"
            )


def _parse_header(line: str | None, path: Path) -> list[tuple[str, str]]:
    if line is None:
        raise AtomicFormatError(f"{path}, line 1: the header is not UTF-8 text")
    fields = []
    for cell in line.split("\t"):
        name, sep, kind = cell.strip().partition(":")
        if not sep or not name or kind not in _TYPES:
            raise AtomicFormatError(f"{path}: header cell {cell!r} should be 'name:type' with type one of {_TYPES}")
        fields.append((name, kind))
    names = [name for name, _ in fields]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise AtomicFormatError(f"{path}: the header repeats column(s) {repeated}")
    return fields


def _number(cell: str, name: str, bounds: tuple[float, float] | None) -> float | str:
    """The cell's finite value, or why it is not one."""
    try:
        value = float(cell)
    except ValueError:
        return f"column {name!r} holds {cell!r}, not a number"
    if not math.isfinite(value):
        return f"column {name!r} holds {cell!r}, not a finite number"
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        return f"column {name!r} holds {value:g}, outside [{bounds[0]:g}, {bounds[1]:g}]"
    return value


def _floats(cells: list[str], name: str, bounds: tuple[float, float] | None, bad: dict[int, str]) -> np.ndarray:
    """A float column, vectorised; the rows whose cell is not a finite number in range go to ``bad``."""
    try:
        values = np.asarray(cells, dtype=np.float64)
        ok = np.isfinite(values)
        if bounds is not None:
            ok &= (values >= bounds[0]) & (values <= bounds[1])
        suspects = np.flatnonzero(~ok)
    except ValueError:
        values, suspects = np.full(len(cells), np.nan), range(len(cells))
    for row in suspects:
        value = _number(cells[row], name, bounds)
        if isinstance(value, str):
            bad.setdefault(int(row), value)
        else:
            values[row] = value
    return values


def _float_lists(cells: list[str], name: str, bounds: tuple[float, float] | None, bad: dict[int, str]) -> list:
    out = []
    for row, cell in enumerate(cells):
        numbers = [_number(x, name, bounds) for x in cell.split(" ")] if cell else []
        problems = [x for x in numbers if isinstance(x, str)]
        if problems:
            bad.setdefault(row, problems[0])
        out.append(numbers)
    return out


def read_atomic(
    path: str | Path,
    *,
    max_malformed: int = 0,
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> AtomicTable:
    """Reads an atomic file into typed columns.

    Args:
        path: A ``.inter``, ``.user`` or ``.item`` file (plain or compressed).
        max_malformed: Malformed rows skipped before the error (0: the first one is an error).
        ranges: Column name -> ``(low, high)``: the allowed values of a float column (a
            column the file lacks, or that is not float, is not checked).

    Returns:
        The table of the valid rows.

    Raises:
        FileNotFoundError: If the file is missing.
        AtomicFormatError: On an empty file, a bad header, more than ``max_malformed``
            malformed rows (each named by its line: the wrong number of cells, a float cell
            that is not a finite number or is out of range), or no valid row.
    """
    path = Path(path)
    ranges = dict(ranges or {})
    errors = MalformedRows(path, max_malformed, hint="", error_type=AtomicFormatError)
    lines = iter_lines(path)
    first = next(lines, None)
    if first is None:
        raise AtomicFormatError(f"{path}: file is empty, expected a 'name:type' header")
    fields = _parse_header(first[1], path)
    raw: list[list[str]] = [[] for _ in fields]
    numbers: list[int] = []
    for line_number, line in lines:
        if line is None:
            errors.add(line_number, "not UTF-8 text, or a line over 1 MiB")
            continue
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(fields):
            errors.add(line_number, f"expected {len(fields)} tab-separated cells, found {len(cells)}")
            continue
        for column, cell in zip(raw, cells):
            column.append(cell)
        numbers.append(line_number)
    bad: dict[int, str] = {}
    columns: dict[str, object] = {}
    for (name, kind), values in zip(fields, raw):
        if kind == "token":
            columns[name] = np.asarray(values, dtype=object)
        elif kind == "float":
            columns[name] = _floats(values, name, ranges.get(name), bad)
        elif kind == "token_seq":
            columns[name] = [v.split(" ") if v else [] for v in values]
        else:
            columns[name] = _float_lists(values, name, ranges.get(name), bad)
    line_numbers = np.asarray(numbers, dtype=np.int64)
    if bad:
        for row in sorted(bad):
            errors.add(int(line_numbers[row]), bad[row])
        keep = np.ones(len(numbers), dtype=bool)
        keep[list(bad)] = False
        line_numbers = line_numbers[keep]
        columns = {
            name: (value[keep] if isinstance(value, np.ndarray) else [v for v, k in zip(value, keep) if k])
            for name, value in columns.items()
        }
    if line_numbers.size == 0:
        raise errors.no_valid_rows()
    log.debug(
        "read %s: %d rows (%d malformed skipped), columns %s", path, line_numbers.size, errors.count, list(columns)
    )
    return AtomicTable(path=path, columns=columns, types=dict(fields), lines=line_numbers, malformed=errors)
