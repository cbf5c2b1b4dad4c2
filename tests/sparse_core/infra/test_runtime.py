"""sparse_core.infra.runtime: seeds, threads, devices, configuration round trips, run folders."""

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from sparse_core.infra import runtime


@dataclass(frozen=True)
class Inner:
    rate: float = 0.5
    sizes: tuple[int, ...] = (784, 300, 10)


@dataclass(frozen=True)
class Config:
    name: str = "demo"
    steps: int = 10
    out: Path | None = None
    data: Path = Path("data/x.csv")
    inner: Inner = field(default_factory=Inner)


def test_seed_everything_makes_python_numpy_and_torch_repeatable():
    runtime.seed_everything(7)
    first = (random.random(), np.random.rand(), torch.rand(3))
    runtime.seed_everything(7)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2])
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(-1)


def test_set_threads_defaults_to_all_cores_and_rejects_zero():
    previous = torch.get_num_threads()
    try:
        assert runtime.set_threads(1) == 1
        assert runtime.set_threads(None) == torch.get_num_threads()
        with pytest.raises(ValueError, match="threads"):
            runtime.set_threads(0)
    finally:
        torch.set_num_threads(previous)


def test_choose_device():
    assert runtime.choose_device("cpu").type == "cpu"
    assert runtime.choose_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        runtime.choose_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            runtime.choose_device("cuda")


def test_config_toml_round_trip_restores_types(tmp_path):
    config = Config(name="x", steps=3, data=Path("a/b.nc"), inner=Inner(rate=1, sizes=(3, 2)))
    path = runtime.save_config(config, tmp_path / "config.toml")
    loaded = runtime.load_config(Config, path)
    assert loaded == config
    assert isinstance(loaded.inner.sizes, tuple) and isinstance(loaded.inner.rate, float)
    assert isinstance(loaded.data, Path) and loaded.out is None


def test_config_errors_name_file_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\nstepz = 3\n')
    with pytest.raises(ValueError, match=r"bad\.toml.*stepz"):
        runtime.load_config(Config, path)


def test_config_hash_is_stable_and_content_addressed():
    assert runtime.config_hash(Config()) == runtime.config_hash(Config())
    assert runtime.config_hash(Config()) != runtime.config_hash(Config(steps=11))
    assert len(runtime.config_hash(Config())) == 12


def test_run_dir_default_name_and_explicit_out(tmp_path):
    first = runtime.make_run_dir("memory", "classify", root=tmp_path)
    second = runtime.make_run_dir("memory", "classify", root=tmp_path)
    assert first.name.startswith("memory-classify-") and first.name.endswith("Z") or "-" in first.name
    assert first != second and first.is_dir() and second.is_dir()
    explicit = runtime.make_run_dir("memory", "classify", out=tmp_path / "mine")
    assert explicit == tmp_path / "mine" and explicit.is_dir()


def test_write_metrics_turns_nan_into_null_and_numpy_scalars_into_numbers(tmp_path):
    path = runtime.write_metrics(tmp_path, {"loss": math.nan, "acc": np.float32(0.5), "n": np.int64(3)})
    assert json.loads(path.read_text()) == {"loss": None, "acc": 0.5, "n": 3}


def test_run_metadata_holds_versions_and_config_hash():
    metadata = runtime.run_metadata(Config(), seed=3)
    assert metadata["packages"]["torch"].startswith("2.")
    assert metadata["config_hash"] == runtime.config_hash(Config())
    assert metadata["seed"] == 3
