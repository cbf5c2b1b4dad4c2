"""A user's CTR file, scanned once and then read in chunks: what ``recsys ctr --data`` trains on.

:func:`open_ctr_file` reads the file once through the streaming reader
(:mod:`recsys.data.ctr_reader`), before any training: it finds every malformed row (counted,
the first ones logged with their line numbers; an error past the limit), counts the rows
and positives of each part (train / valid / test) and the values of the training rows,
and fits one vocabulary per field (values seen ``min_count`` times; or none, with
``hash_buckets``). Training then reads the parts again chunk by chunk
(:meth:`CTRFile.chunks`), so memory stays bounded by one chunk, the vocabularies and the
model, whatever the file's size.

Under torchrun the scan is shared (``gather``): each of the processes scans a contiguous
share of the data lines, and their counts are pooled, so that every process fits the same
vocabularies having parsed ``1 / world_size`` of the file.

Parts: by line order (the first ``fractions[0]`` of the data lines train, the next
``fractions[1]`` validate, the rest test; a file ordered by time is split by time), or by
a split column naming each row's part.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recsys.config import CTRConfig
from recsys.data.ctr_reader import (
    PARTS,
    CTRFormatError,
    CTRSchema,
    RowErrors,
    iter_chunks,
    iter_rows,
    vocabularies_from_counts,
)
from recsys.data.textio import count_lines, iter_lines
from recsys.data.vocab import Vocabulary
from sparse_core.infra.errors import InputError

__all__ = ["CTRFile", "ScanShare", "open_ctr_file", "read_schema"]

log = logging.getLogger(__name__)


@dataclass
class CTRFile:
    """A scanned CTR file: its layout, parts, counts and vocabularies.

    Attributes:
        path: The file.
        schema: Its layout.
        ranges: Line-order split: part -> the 0-based data-line indices it holds; None
            with a split column.
        lines: The data lines read at all (``max_rows``), None for every line.
        rows: Part -> valid rows.
        positives: Part -> rows labelled 1.
        vocabularies: One per field (fitted on the training rows), or None when hashing.
        hash_buckets: Ids per field of the hashing trick, or None.
        errors: The malformed rows found.
    """

    path: Path
    schema: CTRSchema
    ranges: dict[str, range] | None
    lines: range | None
    rows: dict[str, int]
    positives: dict[str, int]
    vocabularies: list[Vocabulary] | None
    hash_buckets: int | None
    errors: RowErrors

    @property
    def cardinalities(self) -> list[int]:
        """Embedding rows per field (vocabulary size or hash buckets, the out-of-vocabulary id included)."""
        if self.vocabularies is not None:
            return [len(v) for v in self.vocabularies]
        return [self.hash_buckets] * len(self.schema.field_names)

    @property
    def malformed_rows(self) -> int:
        return self.errors.count

    def chunks(self, part: str, chunk_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(labels, ids)`` of one part's rows, chunk by chunk, in file order.

        Two pairs of arrays are filled in turn (memory: two chunks, whatever the file's
        size): a chunk's arrays are overwritten two chunks later, so copy what you keep.

        Shapes:
            - labels: ``(rows,)`` float32; ids: ``(rows, fields)`` int64, ``rows <= chunk_rows``.
        """
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, got {part!r}")
        if self.ranges is not None:
            lines, parts = self.ranges[part], None
        else:
            lines, parts = self.lines, (part,)
        yield from iter_chunks(
            self.path,
            self.schema,
            self.vocabularies,
            self.hash_buckets,
            chunk_rows,
            errors=self.errors,
            lines=lines,
            parts=parts,
            reuse_buffers=True,
        )


def _header(path: Path, delimiter: str) -> list[str]:
    for _, text in iter_lines(path):
        if text is None:
            raise CTRFormatError(f"{path}, line 1: the header is not UTF-8 text")
        return text.split(delimiter)
    raise CTRFormatError(f"{path}: the file is empty; expected a header naming the columns")


def read_schema(config: CTRConfig) -> CTRSchema:
    """The layout of ``config.data.path``: Criteo's fixed columns, or the named ones of its header.

    Raises:
        CTRFormatError: an empty file, or a named column missing from the header.
    """
    spec = config.data
    if spec.format == "criteo":
        return CTRSchema.criteo()
    path = Path(spec.path)
    return CTRSchema.from_header(
        _header(path, spec.separator),
        label=spec.label_column,
        numeric=spec.numeric_columns,
        categorical=spec.categorical_columns,
        ignore=spec.ignore_columns or (),
        split=spec.split_column,
        delimiter=spec.separator,
        where=str(path),
    )


def _line_order_ranges(
    path: Path, schema: CTRSchema, fractions: tuple[float, ...], max_rows: int | None
) -> dict[str, range]:
    header = int(schema.header)
    data_lines = max(count_lines(path, None if max_rows is None else max_rows + header) - header, 0)
    cuts = [0, *(int(round(c * data_lines)) for c in np.cumsum(fractions)[:-1]), data_lines]
    return {part: range(cuts[i], cuts[i + 1]) for i, part in enumerate(PARTS)}


@dataclass
class ScanShare:
    """What one process's share of the scan found (picklable: the processes exchange it).

    Attributes:
        rows: Part -> valid rows.
        positives: Part -> rows labelled 1.
        counts: ``(field index, token) -> count`` over the training rows (empty when hashing).
        errors: The malformed rows, ``(line number, reason)``, in line order.
        failure: The message of the error that stopped this share (past the malformed-row
            limit), or None.
    """

    rows: dict[str, int]
    positives: dict[str, int]
    counts: Counter = field(default_factory=Counter)
    errors: list[tuple[int, str]] = field(default_factory=list)
    failure: str | None = None


def _share_of(lines: range, share: tuple[int, int]) -> range:
    """The ``share[0]``-th of ``share[1]`` contiguous, near-equal spans of ``lines``."""
    index, count = share
    size = len(lines)
    return range(lines.start + index * size // count, lines.start + (index + 1) * size // count)


def _scan(
    path: Path,
    schema: CTRSchema,
    errors: RowErrors,
    lines: range | None,
    cuts: list[int] | None,
    hashing: bool,
) -> ScanShare:
    offset = 2 if schema.header else 1
    found = ScanShare(dict.fromkeys(PARTS, 0), dict.fromkeys(PARTS, 0))
    rows, positives, counts = found.rows, found.positives, found.counts
    try:
        for number, part, label, tokens in iter_rows(path, schema, errors, lines=lines):
            if cuts is not None:
                part = PARTS[bisect.bisect_right(cuts, number - offset)]
            rows[part] += 1
            positives[part] += label == 1.0
            if part == "train" and not hashing:
                counts.update(enumerate(tokens))
    except CTRFormatError as error:  # past the limit: the other shares still need this share's answer
        found.failure = str(error)
    found.errors = list(errors.rows)
    return found


def _pool(shares: list[ScanShare], errors: RowErrors) -> ScanShare:
    """The shares' counts summed; their malformed rows counted in ``errors``, in line order.

    Raises:
        CTRFormatError: past ``errors.max_errors`` malformed rows in all, as one scan would.
    """
    pooled = ScanShare(dict.fromkeys(PARTS, 0), dict.fromkeys(PARTS, 0))
    logged, errors.logged = errors.logged, 0  # each share logged its own rows already
    try:
        for share in shares:
            for number, reason in share.errors:
                errors.add(number, reason)
    finally:
        errors.logged = logged
    for share in shares:
        if share.failure is not None:  # (the rows above raise first whenever the shares' failures add up)
            raise CTRFormatError(share.failure)
        for part in PARTS:
            pooled.rows[part] += share.rows[part]
            pooled.positives[part] += share.positives[part]
        pooled.counts.update(share.counts)
    return pooled


def open_ctr_file(
    config: CTRConfig,
    *,
    share: tuple[int, int] = (0, 1),
    gather: Callable[[ScanShare], list[ScanShare]] | None = None,
) -> CTRFile:
    """Scans ``config.data.path`` once: malformed rows, rows per part, vocabularies.

    Args:
        config: The run's settings; ``config.data`` names the file and its layout.
        share: ``(index, count)``: this process scans the ``index``-th of ``count``
            contiguous spans of the data lines (torchrun: ``(rank, world_size)``).
        gather: With ``count > 1``: hands this process's :class:`ScanShare` to the others
            and returns every share's, in share order (all processes call it together; e.g.
            :func:`torch.distributed.all_gather_object`). Every process then holds the
            same scan.

    Returns:
        The scanned file, ready for :meth:`CTRFile.chunks`.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: the file cannot be read.
        CTRFormatError: no valid row, more than ``max_malformed`` malformed rows, or a
            column missing from the header (the message names the file and the lines).
        InputError: a part without rows, or with a single class (AUC is undefined), or
            vocabularies that would leave every value out of vocabulary.
    """
    if not 0 <= share[0] < share[1]:
        raise ValueError(f"share must be (index, count) with 0 <= index < count, got {share}")
    if share[1] > 1 and gather is None:
        raise ValueError("a scan shared by several processes needs gather")
    spec = config.data
    path = Path(spec.path)
    schema = read_schema(config)
    errors = RowErrors(path, spec.max_malformed)
    ranges = None if schema.split is not None else _line_order_ranges(path, schema, config.fractions, config.max_rows)
    lines = None if config.max_rows is None else range(0, config.max_rows)
    if ranges is not None:
        lines = range(0, ranges["test"].stop)
    cuts = [ranges["valid"].start, ranges["test"].start] if ranges is not None else None
    hashing = spec.hash_buckets is not None
    if share[1] == 1:
        found = _scan(path, schema, errors, lines, cuts, hashing)
        if found.failure is not None:
            raise CTRFormatError(found.failure)
    else:  # (a split column and every line: the shares need the count of lines)
        span = lines if lines is not None else range(0, max(count_lines(path) - int(schema.header), 0))
        mine = _scan(path, schema, RowErrors(path, spec.max_malformed), _share_of(span, share), cuts, hashing)
        found = _pool(gather(mine), errors)
    rows, positives, counts = found.rows, found.positives, found.counts
    if sum(rows.values()) == 0:
        raise errors.no_valid_rows()
    for part in PARTS:
        where = f"split column {spec.split_column!r}"
        if ranges is not None:
            span = ranges[part]
            where = f"data lines {span.start + 1}..{span.stop}" if span else f"none of the {lines.stop} data lines"
        if rows[part] == 0:
            raise InputError(
                f"{path}: the {part} part ({where}) holds no valid row; "
                f"{'check --fractions and --max-rows' if ranges is not None else 'name every part'}"
            )
        if positives[part] in (0, rows[part]):
            raise InputError(
                f"{path}: the {part} part ({where}) has {rows[part]} rows with {positives[part]} "
                "positives: AUC needs both classes"
            )
    vocabularies = None
    if not hashing:
        vocabularies = vocabularies_from_counts(counts, schema.field_names, config.min_count)
        if all(len(v) == 1 for v in vocabularies):
            raise InputError(
                f"{path}: no value occurs --min-count {config.min_count} times in the "
                f"{rows['train']} training rows, so every id would be out of vocabulary; "
                "lower --min-count or use --hash-buckets"
            )
    if errors.count:
        log.warning("%s: %d malformed row(s) skipped (first: %s)", path, errors.count, errors.listing(3))
    log.info("%s: valid rows per part %s", path, rows)
    return CTRFile(path, schema, ranges, lines, rows, positives, vocabularies, spec.hash_buckets, errors)
