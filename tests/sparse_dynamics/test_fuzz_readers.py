"""Property-based fuzzing of every reader of user files in sparse_dynamics.

The readers are `load_dataset` (dataset.npz + dataset.json), `load_model` (model.pt) and
`CompactNetwork.load` (compact_*.npz + .json). Each is given malformed files made by
mutating valid ones: bytes truncated, flipped, inserted or replaced, files emptied or
gzipped, JSON fields replaced by other JSON values (NaN, huge numbers, nested lists ...)
or removed, arrays replaced by NaN / inf / wrong shapes / strings / complex / pickled
objects, tensors of a model's state dict replaced or removed. Whatever they are given,
the only exception a reader may raise is `InputError` (it may also succeed, when a
mutation happens to leave a valid file). The default suite runs a small sample, the
same every run; the ``slow`` tests run 1000 new inputs per reader each time.
"""

import copy
import gzip
import io
import json
import warnings
from functools import cache

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparse_core.activation_gates import RELU
from sparse_core.infra.errors import InputError
from sparse_dynamics.compact import CompactNetwork
from sparse_dynamics.config import CollectConfig
from sparse_dynamics.data import collect, load_dataset, save_dataset
from sparse_dynamics.export import export_model
from sparse_dynamics.models import load_model, make_model, save_model
from sparse_dynamics.tasks import make_task

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = pytest.mark.slow

CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large]
FEW = settings(max_examples=50, deadline=None, suppress_health_check=CHECKS, database=None, derandomize=True)
MANY = settings(max_examples=1000, deadline=None, suppress_health_check=CHECKS, database=None)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


# --------------------------------------------------------------------------- valid files


WORK = {}


@pytest.fixture(scope="module", autouse=True)
def _work_folder(tmp_path_factory):
    WORK["folder"] = tmp_path_factory.mktemp("fuzz-readers")


def _folder():
    return WORK["folder"]


@cache
def dataset_files() -> tuple[bytes, bytes]:
    data = collect(make_task("pwa"), CollectConfig(episodes=5, steps=3, seed=1))
    path = save_dataset(data, _folder() / "valid" / "dataset.npz")
    return path.read_bytes(), path.with_suffix(".json").read_bytes()


@cache
def model_files() -> tuple[bytes, ...]:
    files = []
    for task, hidden in (("pwa", (4, 3)), ("sort", (3,))):
        model = make_model(make_task(task), hidden, generator=torch.Generator().manual_seed(0))
        files.append(save_model(model, _folder() / "valid" / f"{task}.pt", task=task).read_bytes())
    return tuple(files)


@cache
def compact_files() -> tuple[tuple[bytes, bytes], ...]:
    files = []
    for task, hidden in (("pwa", (5, 4)), ("sort", (3,))):
        gated = make_model(make_task(task), hidden, gated=True, generator=torch.Generator().manual_seed(1))
        for group in gated.budget_groups():
            for number, activation in enumerate(group.activations):
                activation.harden(torch.tensor([(number + j) % 3 for j in range(activation.num_neurons)]))
        for part, network in export_model(gated).items():
            path = network.save(_folder() / "valid" / f"{task}_{part}.npz")
            files.append((path.read_bytes(), path.with_suffix(".json").read_bytes()))
    return tuple(files)


def test_the_valid_files_load():
    npz, description = dataset_files()
    folder = _folder() / "check"
    _write(folder / "d.npz", npz)
    _write(folder / "d.json", description)
    assert load_dataset(folder / "d.npz").episodes == 5
    for number, model in enumerate(model_files()):
        _write(folder / f"m{number}.pt", model)
        loaded = load_model(folder / f"m{number}.pt")
        assert all(bool((a.choices() == RELU).all()) for g in loaded.budget_groups() for a in g.activations)
    for number, (arrays, structure) in enumerate(compact_files()):
        _write(folder / f"c{number}.npz", arrays)
        _write(folder / f"c{number}.json", structure)
        assert CompactNetwork.load(folder / f"c{number}.npz").output_dim > 0


# --------------------------------------------------------------------------- mutations


def _write(path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def mutate_bytes(draw, data: bytes) -> bytes:
    """One to three byte-level mutations of ``data``."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "replace", "empty", "gzip", "garbage", "duplicate"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            data = data[:position]
        elif kind == "flip" and data:
            data = data[:position] + bytes([data[position] ^ draw(st.integers(1, 255))]) + data[position + 1 :]
        elif kind == "insert":
            data = data[:position] + draw(st.binary(min_size=1, max_size=16)) + data[position:]
        elif kind == "replace":
            chunk = draw(st.binary(min_size=1, max_size=64))
            data = data[:position] + chunk + data[position + len(chunk) :]
        elif kind == "empty":
            data = b""
        elif kind == "gzip":
            data = gzip.compress(data)
        elif kind == "garbage":
            data = draw(st.sampled_from([b"\x1f\x8b", b"PK\x03\x04", b"\x93NUMPY", b""])) + draw(st.binary(max_size=64))
        elif kind == "duplicate":
            data = data + data
    return data


def _paths(value, prefix=()):
    """Every (path, value) inside a JSON-like value."""
    yield prefix, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def mutate_tree(draw, tree, leaves=JSON_VALUES):
    """A deep copy of a JSON-like tree with one to three values replaced, removed or added."""
    tree = copy.deepcopy(tree)
    for _ in range(draw(st.integers(1, 3))):
        paths = [path for path, _ in _paths(tree)]
        path = draw(st.sampled_from(paths))
        if not path:
            tree = draw(leaves) if draw(st.booleans()) else tree
            continue
        parent = tree
        for key in path[:-1]:
            parent = parent[key]
        kind = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if kind == "replace":
            parent[path[-1]] = draw(leaves)
        elif kind == "remove":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = draw(leaves)
        else:
            parent.append(draw(leaves))
    return tree


def mutate_json(draw, data: bytes) -> bytes:
    if draw(st.booleans()):
        return mutate_bytes(draw, data)
    return json.dumps(mutate_tree(draw, json.loads(data))).encode()  # NaN / Infinity become literals


BAD_ARRAYS = [
    lambda a: np.full_like(a, np.nan),
    lambda a: np.where(np.arange(a.size).reshape(a.shape) == 0, np.inf, a),
    lambda a: a.reshape(-1),
    lambda a: a[..., :-1] if a.ndim and a.shape[-1] else a[None],
    lambda a: np.concatenate([a, a]) if a.ndim else a[None],
    lambda a: a[None],
    lambda a: a.astype(np.float32),
    lambda a: a.astype(np.int64),
    lambda a: a.astype(np.complex128),
    lambda a: a.astype(str),
    lambda a: a.astype(bool),
    lambda a: np.array([{"pickled": 1}], dtype=object),
    lambda a: np.zeros((0,) + a.shape[1:]),
    lambda a: np.full_like(a, 1e300),
    lambda a: np.zeros_like(a),
    lambda a: np.array(3.0),
]


def _savez(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # object arrays are pickled into the archive
    return buffer.getvalue()


def mutate_npz(draw, data: bytes) -> bytes:
    if draw(st.booleans()):
        return mutate_bytes(draw, data)
    with np.load(io.BytesIO(data)) as archive:
        original = {name: archive[name] for name in archive.files}
    arrays = dict(original)
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(sorted(arrays)))
        kind = draw(st.sampled_from(["bad", "bad", "remove", "rename", "add"]))
        if kind == "bad":
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                arrays[name] = draw(st.sampled_from(BAD_ARRAYS))(original.get(name, np.zeros((2, 3))))
        elif kind == "remove" and len(arrays) > 1:
            del arrays[name]
        elif kind == "rename":
            arrays[name + "x"] = arrays.pop(name)
        else:
            arrays[draw(st.text("abc.", min_size=1, max_size=5))] = np.zeros(2)
    out = _savez(arrays)
    return mutate_bytes(draw, out) if draw(st.integers(0, 4)) == 0 else out


BAD_TENSORS = [
    lambda t: torch.full_like(t, float("nan")) if t.is_floating_point() else t.float(),
    lambda t: t.reshape(-1)[:-1] if t.numel() else t[None],
    lambda t: t[None],
    lambda t: t.double() if t.is_floating_point() else t.int(),
    lambda t: t.to(torch.complex64),
    lambda t: t.bool(),
    lambda t: t.long() * 7,
    lambda t: torch.zeros_like(t),
    lambda t: -torch.ones(t.shape),
    lambda t: t.to_sparse() if t.ndim else t,
    lambda t: [1, 2],
    lambda t: "tensor",
    lambda t: None,
]


def mutate_model(draw, data: bytes) -> bytes:
    if draw(st.integers(0, 2)) == 0:
        return mutate_bytes(draw, data)
    saved = torch.load(io.BytesIO(data), weights_only=True)
    kind = draw(st.sampled_from(["architecture", "state", "state", "top"]))
    if kind == "architecture":
        saved["architecture"] = mutate_tree(draw, saved["architecture"])
    elif kind == "state":
        original = saved["state_dict"]
        state = dict(original)
        for _ in range(draw(st.integers(1, 2))):
            name = draw(st.sampled_from(sorted(state)))
            action = draw(st.sampled_from(["bad", "bad", "remove", "add"]))
            if action == "bad":
                state[name] = draw(st.sampled_from(BAD_TENSORS))(original.get(name, torch.zeros(2, 3)))
            elif action == "remove":
                del state[name]
            else:
                state[name + ".extra"] = torch.zeros(2)
        saved["state_dict"] = state
    else:
        choice = draw(st.sampled_from(["format", "task", "gated", "drop", "replace"]))
        if choice == "drop":
            del saved[draw(st.sampled_from(sorted(saved)))]
        elif choice == "replace":
            saved = draw(st.sampled_from([[1, 2], None, torch.zeros(3), {"architecture": {}}, "model"]))
        else:
            saved[choice] = draw(JSON_VALUES)
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    out = buffer.getvalue()
    return mutate_bytes(draw, out) if draw(st.integers(0, 4)) == 0 else out


# --------------------------------------------------------------------------- the properties


def _only_input_error(read, *args) -> None:
    try:
        read(*args)
    except InputError:
        pass


def fuzz_dataset(data) -> None:
    npz, description = dataset_files()
    which = data.draw(st.sampled_from(["npz", "json", "both"]))
    if which in ("npz", "both"):
        npz = mutate_npz(data.draw, npz)
    if which in ("json", "both"):
        description = mutate_json(data.draw, description)
    folder = _folder() / "dataset"
    _write(folder / "d.npz", npz)
    _write(folder / "d.json", description)
    _only_input_error(load_dataset, folder / "d.npz")


def fuzz_model(data) -> None:
    original = data.draw(st.sampled_from(model_files()))
    path = _folder() / "model" / "model.pt"
    _write(path, mutate_model(data.draw, original))
    _only_input_error(load_model, path)


def fuzz_compact(data) -> None:
    arrays, structure = data.draw(st.sampled_from(compact_files()))
    which = data.draw(st.sampled_from(["npz", "json", "both"]))
    if which in ("npz", "both"):
        arrays = mutate_npz(data.draw, arrays)
    if which in ("json", "both"):
        structure = mutate_json(data.draw, structure)
    folder = _folder() / "compact"
    _write(folder / "c.npz", arrays)
    _write(folder / "c.json", structure)
    _only_input_error(CompactNetwork.load, folder / "c.npz")


@FEW
@given(st.data())
def test_dataset_reader_raises_only_input_error(data):
    fuzz_dataset(data)


@FEW
@given(st.data())
def test_model_loader_raises_only_input_error(data):
    fuzz_model(data)


@FEW
@given(st.data())
def test_compact_loader_raises_only_input_error(data):
    fuzz_compact(data)


@pytest.mark.slow
@MANY
@given(st.data())
def test_dataset_reader_raises_only_input_error_on_1000_inputs(data):
    fuzz_dataset(data)


@pytest.mark.slow
@MANY
@given(st.data())
def test_model_loader_raises_only_input_error_on_1000_inputs(data):
    fuzz_model(data)


@pytest.mark.slow
@MANY
@given(st.data())
def test_compact_loader_raises_only_input_error_on_1000_inputs(data):
    fuzz_compact(data)
