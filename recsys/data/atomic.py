"""Reading RecBole atomic files (``.inter``, ``.user``, ``.item``).

An atomic file is tab-separated text whose header names every column with its type,
``name:type``, where type is ``token`` (a categorical id, kept as text), ``token_seq``
(space-separated tokens), ``float`` or ``float_seq`` (RecBole docs, "Atomic Files").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["AtomicFormatError", "AtomicTable", "read_atomic"]

log = logging.getLogger(__name__)

_TYPES = ("token", "token_seq", "float", "float_seq")


class AtomicFormatError(ValueError):
    """An atomic file does not follow the ``name:type`` tab-separated format."""


@dataclass(frozen=True)
class AtomicTable:
    """The columns of one atomic file.

    Attributes:
        path: The file read.
        columns: Column name -> values: ``token`` columns as an object array of str,
            ``float`` columns as float64, ``*_seq`` columns as a list of lists.
        types: Column name -> declared type.
    """

    path: Path
    columns: dict[str, object]
    types: dict[str, str]

    def __len__(self) -> int:
        first = next(iter(self.columns.values()))
        return len(first)

    def __getitem__(self, name: str):
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"{self.path.name} has no column {name!r}; columns: {list(self.columns)}") from None


def _parse_header(line: str, path: Path) -> list[tuple[str, str]]:
    fields = []
    for cell in line.rstrip("\n").split("\t"):
        name, sep, kind = cell.partition(":")
        if not sep or kind not in _TYPES:
            raise AtomicFormatError(f"{path}: header cell {cell!r} should be 'name:type' with type one of {_TYPES}")
        fields.append((name, kind))
    return fields


def read_atomic(path: str | Path) -> AtomicTable:
    """Reads an atomic file into typed columns.

    Args:
        path: A ``.inter``, ``.user`` or ``.item`` file.

    Returns:
        The table.

    Raises:
        FileNotFoundError: If the file is missing.
        AtomicFormatError: On a bad header, a row with the wrong number of cells (naming the
            line) or a float cell that is not a number.
    """
    path = Path(path)
    with path.open(encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
        if not header:
            raise AtomicFormatError(f"{path}: file is empty, expected a 'name:type' header")
        fields = _parse_header(header, path)
        raw: list[list[str]] = [[] for _ in fields]
        for line_number, line in enumerate(handle, start=2):
            line = line.rstrip("\n")
            if not line:
                continue
            cells = line.split("\t")
            if len(cells) != len(fields):
                raise AtomicFormatError(
                    f"{path}, line {line_number}: expected {len(fields)} tab-separated cells, found {len(cells)}"
                )
            for column, cell in zip(raw, cells):
                column.append(cell)
    columns: dict[str, object] = {}
    for (name, kind), values in zip(fields, raw):
        if kind == "token":
            columns[name] = np.asarray(values, dtype=object)
        elif kind == "float":
            try:
                columns[name] = np.asarray(values, dtype=np.float64)
            except ValueError as error:
                raise AtomicFormatError(f"{path}: column {name!r} declared float but {error}") from None
        elif kind == "token_seq":
            columns[name] = [v.split(" ") if v else [] for v in values]
        else:
            columns[name] = [[float(x) for x in v.split(" ")] if v else [] for v in values]
    log.debug("read %s: %d rows, columns %s", path, len(raw[0]) if raw else 0, list(columns))
    return AtomicTable(path=path, columns=columns, types=dict(fields))
