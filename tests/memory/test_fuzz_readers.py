"""Property-based fuzzing of the readers of user files: the only error they may raise is InputError.

Each reader gets valid files mutated by hypothesis (truncated, bytes flipped, garbage
inserted, fields replaced by non-numbers / inf / nan, columns dropped or added, emptied,
gzip-compressed and then damaged). A small sample runs with the default suite; the
``slow`` tests try 1,000 inputs per reader.
"""

import gzip
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory.config import CSAConfig, HierarchyConfig, LevelConfig
from memory.data import read_mnist_csv, read_ts
from memory.model import ClassifierConfig, MemoryClassifier
from sparse_core.infra.errors import InputError

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = pytest.mark.slow

FIELDS = [
    "nan",
    "inf",
    "-inf",
    "-1",
    "256",
    "1e999",
    "x",
    "",
    " ",
    "3.5",
    "1e308",
    "0x10",
    "99999999999999999999",
    "1,2",
    ":",
    "\x00",
    "é",
    "١",
    "²",
    "@data",
    "-0",
    "1_0",
]


def _valid_csv(rows=3) -> str:
    rng = np.random.default_rng(0)
    table = np.c_[rng.integers(0, 256, (rows, 784)), np.arange(rows) % 2]
    return "\n".join(",".join(str(v) for v in row) for row in table) + "\n"


VALID_TS = (
    "#comment\n@problemName X\n@univariate false\n@classLabel true a b\n@data\n"
    "1.0,2.0,3.0:4.0,5.0,6.0:a\n7.5,8.0,9.0:1.0,1.0,1.0:b\n-1,0,1:2,3,4:a\n"
)

operation = st.tuples(
    st.sampled_from(["truncate", "flip", "insert", "field", "drop_column", "add_column", "empty", "duplicate_line"]),
    st.integers(min_value=0, max_value=10**6),
    st.binary(min_size=1, max_size=6),
    st.sampled_from(FIELDS),
)
mutations = st.tuples(st.lists(operation, min_size=1, max_size=4), st.sampled_from(["plain", "gzip", "gzip_damaged"]))


def _mutate(data: bytes, plan) -> bytes:
    operations, wrapping = plan
    for kind, position, garbage, field in operations:
        at = position % (len(data) + 1)
        if kind == "truncate":
            data = data[:at]
        elif kind == "flip" and data:
            i = position % len(data)
            data = data[:i] + bytes([data[i] ^ (1 + position % 255)]) + data[i + 1 :]
        elif kind == "insert":
            data = data[:at] + garbage + data[at:]
        elif kind == "empty":
            data = b""
        else:
            lines = data.split(b"\n")
            line = position % len(lines)
            separator = b":" if b":" in lines[line] else b","
            parts = lines[line].split(separator)
            if kind == "field":
                parts[position % len(parts)] = field.encode()
            elif kind == "drop_column" and len(parts) > 1:
                del parts[position % len(parts)]
            elif kind == "add_column":
                parts.insert(position % (len(parts) + 1), field.encode())
            elif kind == "duplicate_line":
                lines.insert(line, lines[line])
            lines[line] = separator.join(parts)
            data = b"\n".join(lines)
    if wrapping != "plain":
        data = gzip.compress(data)
        if wrapping == "gzip_damaged":
            data = data[: max(2, len(data) // 2)]
    return data


def _only_input_error(reader, path):
    try:
        reader(path)
    except InputError:
        pass


# --------------------------------------------------------------------------- MNIST-format CSV

CSV = _valid_csv().encode()


def _fuzz_csv(tmp_path_factory, plan):
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_bytes(_mutate(CSV, plan))
    _only_input_error(read_mnist_csv, path)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=mutations)
def test_csv_reader_raises_only_input_error(tmp_path_factory, plan):
    _fuzz_csv(tmp_path_factory, plan)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=mutations)
def test_csv_reader_raises_only_input_error_1000(tmp_path_factory, plan):
    _fuzz_csv(tmp_path_factory, plan)


# --------------------------------------------------------------------------- .ts


def _fuzz_ts(tmp_path_factory, plan):
    path = tmp_path_factory.mktemp("ts") / "data.ts"
    path.write_bytes(_mutate(VALID_TS.encode(), plan))
    _only_input_error(read_ts, path)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=mutations)
def test_ts_reader_raises_only_input_error(tmp_path_factory, plan):
    _fuzz_ts(tmp_path_factory, plan)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=mutations)
def test_ts_reader_raises_only_input_error_1000(tmp_path_factory, plan):
    _fuzz_ts(tmp_path_factory, plan)


# --------------------------------------------------------------------------- saved models


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    csa = CSAConfig(cms=4, cells_per_cm=12)
    levels = (LevelConfig(grid=(1, 2), rf=(6, 3), h_radius=0, csa=csa), LevelConfig(grid=(1, 1), rf=(1, 2), csa=csa))
    config = ClassifierConfig(HierarchyConfig(input_shape=(6, 6), levels=levels), n_classes=2, readout_levels=(0, 1))
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("model")
    MemoryClassifier(config, seed=0).fit(rng.random((6, 6, 6)) < 0.3, np.arange(6) % 2).save(folder / "m")
    return (folder / "m.npz").read_bytes(), (folder / "m.json").read_bytes()


json_values = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
    st.lists(st.integers(min_value=-3, max_value=10**6), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
model_mutations = st.tuples(
    st.sampled_from(["npz", "json", "both", "json_value"]),
    mutations,
    st.integers(min_value=0, max_value=10**6),
    json_values,
)


def _replace_a_json_value(document, position, value):
    """Replace the ``position``-th leaf value (depth first) of a JSON document."""
    leaves = []

    def walk(node, parent, key):
        if isinstance(node, dict):
            for k in node:
                walk(node[k], node, k)
        elif isinstance(node, list):
            for i in range(len(node)):
                walk(node[i], node, i)
        else:
            leaves.append((parent, key))

    walk(document, None, None)
    parent, key = leaves[position % len(leaves)]
    parent[key] = value
    return document


def _fuzz_model(tmp_path_factory, saved_model, plan):
    npz, meta = saved_model
    target, mutation, position, value = plan
    if target in ("npz", "both"):
        npz = _mutate(npz, mutation)
    if target in ("json", "both"):
        meta = _mutate(meta, mutation)
    if target == "json_value":
        meta = json.dumps(_replace_a_json_value(json.loads(meta), position, value)).encode()
    folder = tmp_path_factory.mktemp("fuzzed")
    (folder / "m.npz").write_bytes(npz)
    (folder / "m.json").write_bytes(meta)
    _only_input_error(MemoryClassifier.load, folder / "m")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=model_mutations)
def test_model_reader_raises_only_input_error(tmp_path_factory, saved_model, plan):
    _fuzz_model(tmp_path_factory, saved_model, plan)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=model_mutations)
def test_model_reader_raises_only_input_error_1000(tmp_path_factory, saved_model, plan):
    _fuzz_model(tmp_path_factory, saved_model, plan)


def test_an_unmutated_model_file_loads(tmp_path, saved_model):
    (tmp_path / "m.npz").write_bytes(saved_model[0])
    (tmp_path / "m.json").write_bytes(saved_model[1])
    assert MemoryClassifier.load(tmp_path / "m").readout_.n_classes == 2
