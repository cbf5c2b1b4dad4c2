"""Reading users' text files line by line: compressed or not, with line numbers and counted bad rows.

Compression is recognised by the file's first bytes (gzip ``1f 8b``, bzip2 ``BZh``, xz
``fd 37 7a 58 5a 00``), never by its name, so ``train.txt`` that is really gzip and
``train.gz`` that is really plain text both read correctly. Damaged compressed data
(truncated, corrupt) is an :class:`~sparse_core.infra.errors.InputError` naming the file
and the last line read. A line that is not UTF-8 or is longer than ``max_line_bytes``
comes back as ``None``, for the caller to count as a malformed row
(:class:`MalformedRows`); the memory used stays bounded by one line.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sparse_core.infra.errors import InputError

__all__ = ["MAX_LINE_BYTES", "MalformedRows", "compression", "count_lines", "iter_lines", "open_binary"]

log = logging.getLogger(__name__)

#: Longest line read whole; a longer one is a malformed row (a binary file has no newlines).
MAX_LINE_BYTES = 1 << 20
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_OPENERS = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}
# what the decompressors raise on damaged data (gzip.BadGzipFile and bz2's are OSErrors)
_DAMAGED = (EOFError, OSError, zlib.error, lzma.LZMAError)


def compression(path: str | Path) -> str | None:
    """``"gzip"``, ``"bzip2"`` or ``"xz"`` from the file's first bytes; None for plain text."""
    with open(path, "rb") as handle:
        head = handle.read(6)
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def open_binary(path: str | Path) -> BinaryIO:
    """The file's bytes, decompressed when its first bytes say it is compressed."""
    kind = compression(path)
    return _OPENERS[kind](path, "rb") if kind else open(path, "rb")


def _damaged(path: Path, line: int, error: BaseException) -> InputError:
    kind = compression(path) or "text"
    return InputError(f"{path}: damaged {kind} data after line {line} (truncated or corrupt file?): {error}")


def iter_lines(path: str | Path, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str | None]]:
    """``(line number, text)`` for every line, without its line end; text None for an unreadable line.

    A line is unreadable when it is not UTF-8 or longer than ``max_line_bytes``. A byte
    order mark at the start of the file is dropped.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: the file cannot be opened.
        InputError: the compressed data is damaged (names the file and the line reached).
    """
    path = Path(path)
    number = 0
    with open_binary(path) as handle:
        while True:
            try:
                raw = handle.readline(max_line_bytes + 1)
                if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                    rest = raw
                    while rest and not rest.endswith(b"\n"):
                        rest = handle.readline(max_line_bytes)
                    number += 1
                    yield number, None
                    continue
            except _DAMAGED as error:
                raise _damaged(path, number, error) from None
            if not raw:
                return
            number += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None
                continue
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield number, text.rstrip("\r\n")


def count_lines(path: str | Path, limit: int | None = None) -> int:
    """Number of lines of the (decompressed) file, counting a last line without a newline.

    Args:
        path: The file.
        limit: Stop counting once this many lines are seen (and return ``limit``).

    Raises:
        InputError: the compressed data is damaged.
    """
    path = Path(path)
    lines, last = 0, b"\n"
    with open_binary(path) as handle:
        while True:
            try:
                block = handle.read(1 << 20)
            except _DAMAGED as error:
                raise _damaged(path, lines, error) from None
            if not block:
                break
            lines += block.count(b"\n")
            last = block[-1:]
            if limit is not None and lines >= limit:
                return limit
    lines += last != b"\n"
    return lines if limit is None else min(lines, limit)


@dataclass
class MalformedRows:
    """Malformed rows of one file, each counted once with its line number; an error past ``max_errors``.

    The same row met again in a later pass over the file is not counted twice. The first
    ``logged`` rows are logged as warnings, the rest at debug level.

    Attributes:
        path: The file being read.
        max_errors: How many malformed rows are tolerated (0: the first is an error).
        rows: The malformed rows seen, ``(line number, reason)``, in order (at most
            ``max_errors + 1``).
        hint: Appended to the error message (what to check).
        logged: Rows logged as warnings.
    """

    path: Path
    max_errors: int = 100
    rows: list[tuple[int, str]] = field(default_factory=list)
    hint: str = ""
    logged: int = 10
    error_type: type[InputError] = InputError
    _seen: set[int] = field(default_factory=set, repr=False)

    def add(self, line_number: int, reason: str) -> None:
        """Count one malformed row (once per line number).

        Raises:
            InputError: (``error_type``) more than ``max_errors`` malformed rows.
        """
        if line_number in self._seen:
            return
        self._seen.add(line_number)
        self.rows.append((line_number, reason))
        if len(self.rows) > self.max_errors:
            if self.max_errors == 0:
                raise self.error_type(f"{self.path}, line {line_number}: {reason}{self.hint}")
            raise self.error_type(
                f"{self.path}: more than {self.max_errors} malformed rows (first: {self.listing()}){self.hint}"
            )
        level = logging.WARNING if len(self.rows) <= self.logged else logging.DEBUG
        log.log(level, "%s, line %d: skipped malformed row: %s", self.path, line_number, reason)
        if len(self.rows) == self.logged:
            log.warning("%s: further malformed rows are counted but not shown (up to %d)", self.path, self.max_errors)

    @property
    def count(self) -> int:
        return len(self.rows)

    def listing(self, first: int = 5) -> str:
        """``line 3: reason; line 9: reason`` for the first malformed rows."""
        return "; ".join(f"line {n}: {r}" for n, r in self.rows[:first])

    def no_valid_rows(self, what: str = "") -> InputError:
        """The error for a file (or part of one, ``what``) without a single valid row."""
        found = f"; {self.count} malformed (first: {self.listing()})" if self.rows else ""
        return self.error_type(f"{self.path}: no valid rows{what}{found}{self.hint if self.rows else ''}")
