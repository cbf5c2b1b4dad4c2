"""Property-based fuzzing of every reader of user files: the only error ever raised is InputError.

Malformed inputs are made by mutating valid files (truncating, flipping and inserting bytes,
special values such as inf / nan / 1e400, delimiters, line ends, NUL bytes, byte order
marks, gzip magic) and then storing them plain or compressed (gzip, bzip2, xz, damaged
gzip). A reader either returns well-formed results or raises
:class:`sparse_core.infra.errors.InputError` (its documented error type); any other
exception is a bug. The default suite tries a small sample; ``-m slow`` tries 1000 inputs
per reader.
"""

import bz2
import gzip
import logging
import lzma
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys.config import CTRConfig, CTRFileConfig
from recsys.data.atomic import read_atomic
from recsys.data.ctr_file import open_ctr_file
from recsys.data.ctr_reader import CTRSchema, fit_vocabularies, iter_chunks
from recsys.data.movielens import load_ctr_table, load_interactions, read_interactions
from sparse_core.infra.errors import InputError
from tests.recsys.conftest import criteo_lines, fake_ml100k_texts

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = pytest.mark.slow

SMALL = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LARGE = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SPECIAL = [
    b"inf",
    b"nan",
    b"-inf",
    b"Infinity",
    b"1e400",
    b"-1e400",
    b"1_0",
    b"0x10",
    b"",
    b"-0",
    b"\t",
    b",",
    b"\n",
    b"\r\n",
    b"\r",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\x1f\x8b",
    b"BZh",
    b"train",
    b"valid",
    b"test",
    b"2",
    b"0",
    b"1",
    b":token",
    b":float",
    b" ",
    b"\t\t\t",
    b"\n\n",
]
SCHEMA = CTRSchema(label=0, numeric=(1, 2), categorical=(3, 4))


@st.composite
def mutated(draw, base: bytes) -> bytes:
    """``base`` with a few random edits, then stored plain or compressed (possibly damaged)."""
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "special", "delete", "line"]))
        position = draw(st.integers(0, len(data)))
        if kind == "truncate":
            del data[position:]
        elif kind == "flip" and position < len(data):
            data[position] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "special":
            data[position:position] = draw(st.sampled_from(SPECIAL))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        elif kind == "line":
            cells = draw(st.lists(st.sampled_from(SPECIAL), min_size=0, max_size=8))
            data[position:position] = draw(st.sampled_from([b"\t", b","])).join(cells) + b"\n"
    data = bytes(data)
    packing = draw(
        st.sampled_from(["plain", "plain", "gzip", "gzip-truncated", "gzip-flipped", "bz2", "xz", "gzip-magic"])
    )
    if packing == "gzip":
        return gzip.compress(data)
    if packing == "gzip-truncated":
        packed = gzip.compress(data)
        return packed[: draw(st.integers(0, len(packed)))]
    if packing == "gzip-flipped":
        packed = bytearray(gzip.compress(data))
        packed[draw(st.integers(0, len(packed) - 1))] ^= draw(st.integers(1, 255))
        return bytes(packed)
    if packing == "bz2":
        return bz2.compress(data)
    if packing == "xz":
        return lzma.compress(data)
    if packing == "gzip-magic":
        return b"\x1f\x8b" + data
    return data


def ctr_base(rows=40, header=False) -> bytes:
    rng = np.random.default_rng(0)
    lines = ["label\tn1\tn2\tc1\tc2"] if header else []
    for r in range(rows):
        lines.append(
            "\t".join(
                [
                    str(r % 2),
                    "" if r % 7 == 0 else str(int(rng.integers(-3, 90))),
                    str(int(rng.integers(0, 5))),
                    f"a{r % 3}",
                    "" if r % 5 == 0 else f"b{r % 11}",
                ]
            )
        )
    return ("\n".join(lines) + "\n").encode()


def check_ctr_reader(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.txt"
        path.write_bytes(data)
        try:
            vocabularies = fit_vocabularies(path, SCHEMA, min_count=1, max_errors=5)
            rows = 0
            for labels, ids in iter_chunks(path, SCHEMA, vocabularies, chunk_rows=7, max_errors=5):
                assert ids.shape == (labels.shape[0], 4) and set(np.unique(labels)) <= {0.0, 1.0}
                assert (ids >= 0).all() and all((ids[:, j] < len(v)).all() for j, v in enumerate(vocabularies))
                rows += labels.shape[0]
            assert rows > 0
            for _, ids in iter_chunks(path, SCHEMA, hash_buckets=5, max_errors=5):
                assert ids.min() >= 1 and ids.max() <= 4
        except InputError:
            pass


def check_ctr_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clicks.csv"
        path.write_bytes(data)
        config = CTRConfig(
            data=CTRFileConfig(path=path, format="csv", delimiter="tab", numeric_columns=("n1", "n2"), max_malformed=5),
            min_count=1,
        )
        try:
            scanned = open_ctr_file(config)
            for part in ("train", "valid", "test"):
                rows = sum(labels.shape[0] for labels, _ in scanned.chunks(part, 5))
                assert rows == scanned.rows[part] > 0
        except InputError:
            pass


def ml100k_mutations():
    texts = {kind: text.encode() for kind, text in fake_ml100k_texts().items()}
    return st.sampled_from(sorted(texts)).flatmap(
        lambda kind: mutated(texts[kind]).map(lambda data: {**texts, kind: data})
    )


def check_ml100k(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for kind, data in files.items():
            (Path(folder) / f"ml-100k.{kind}").write_bytes(data)
        for load in (load_interactions, load_ctr_table):
            try:
                result = load(Path(folder))
                assert len(result) > 0
            except InputError:
                pass
        try:
            data = read_interactions(Path(folder) / "ml-100k.inter", min_rating=3, max_malformed=3)
            assert data.users.max() < data.num_users and data.items.max() < data.num_items
        except InputError:
            pass
        try:
            table = read_atomic(Path(folder) / "ml-100k.item", max_malformed=2)
            assert len(table) == len(table.lines)
        except InputError:
            pass


@pytest.fixture(autouse=True)
def quiet_reader_warnings():
    logging.getLogger("recsys.data").setLevel(logging.ERROR)
    yield
    logging.getLogger("recsys.data").setLevel(logging.NOTSET)


@SMALL
@given(mutated(ctr_base()))
def test_ctr_reader_raises_only_input_errors(data):
    check_ctr_reader(data)


@pytest.mark.slow
@LARGE
@given(mutated(ctr_base()))
def test_ctr_reader_raises_only_input_errors_1000(data):
    check_ctr_reader(data)


@SMALL
@given(mutated(ctr_base(header=True)))
def test_ctr_file_scan_raises_only_input_errors(data):
    check_ctr_file(data)


@pytest.mark.slow
@LARGE
@given(mutated(ctr_base(header=True)))
def test_ctr_file_scan_raises_only_input_errors_1000(data):
    check_ctr_file(data)


@SMALL
@given(ml100k_mutations())
def test_movielens_atomic_readers_raise_only_input_errors(files):
    check_ml100k(files)


@pytest.mark.slow
@LARGE
@given(ml100k_mutations())
def test_movielens_atomic_readers_raise_only_input_errors_1000(files):
    check_ml100k(files)


def test_the_base_files_are_valid():
    check_ctr_reader(ctr_base())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.txt"
        path.write_bytes(ctr_base())
        assert sum(labels.size for labels, _ in iter_chunks(path, SCHEMA, hash_buckets=4)) == 40
    assert len(criteo_lines(1)[0].split("\t")) == 40
