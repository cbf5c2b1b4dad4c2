"""How a run executes and what it records: seeds, threads, device, metadata, run folders.

Configuration flows one way (docs/style.md, rule 4): TOML -> frozen dataclass -> function arguments.
:func:`save_config` / :func:`load_config` are the two ends of that flow, and
:func:`config_hash` names a configuration by its content.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import hashlib
import importlib.metadata
import json
import logging
import math
import os
import platform
import random
import subprocess
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sparse_core.infra.files import atomic_write

__all__ = [
    "choose_device",
    "config_from_dict",
    "config_hash",
    "config_to_dict",
    "git_revision",
    "is_main_process",
    "load_config",
    "make_run_dir",
    "package_versions",
    "run_metadata",
    "save_config",
    "seed_everything",
    "set_threads",
    "write_metrics",
]

log = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT")

DEFAULT_PACKAGES = (
    "sparseworks",
    "torch",
    "numpy",
    "scipy",
    "torch-geometric",
    "pyomo",
    "highspy",
    "xarray",
    "netCDF4",
    "zarr",
    "shap",
    "scikit-learn",
    "pymunk",
    "typer",
)
_REPO_ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- execution


def seed_everything(seed: int, torch: bool = True) -> None:
    """Seed Python's ``random``, NumPy's global generator and (with ``torch``) torch's.

    Library code should still take explicit generators; this makes the remaining global
    randomness (weight initialisation, dropout) reproducible. ``torch=False`` is for
    commands that never use torch (it is not imported then).
    """
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    if torch:
        import torch as _torch

        _torch.manual_seed(seed)


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count; ``None`` means every core. Returns the count.

    Only CLIs and benchmarks call this (docs/style.md, rule 8): library code never sets threads.
    """
    import torch

    available = os.cpu_count() or 1
    if threads is None:
        threads = available
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    return torch.get_num_threads()


def native_threads(threads: int | None):
    """A context limiting the native thread pools (OpenBLAS / MKL behind numpy and scipy, OpenMP).

    torch's own count is set by `set_threads`; numpy-only work (the QG3 model, the memory)
    would otherwise start one BLAS thread per core, which on a busy machine makes it many
    times slower rather than faster. ``None`` or 0 leaves the pools as they are. Only CLIs
    and benchmarks use it (docs/style.md, rule 8).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads) if threads and threads > 0 else contextlib.nullcontext()


def is_main_process() -> bool:
    """False on the processes of rank > 0 under ``torchrun`` (environment variable RANK).

    Only the main process makes the run folder and writes results.
    """
    return int(os.environ.get("RANK", "0") or 0) == 0


def choose_device(name: str = "auto"):
    """``"cpu"``, ``"cuda"`` (an error when no GPU is visible) or ``"auto"`` -> torch.device."""
    import torch

    name = name.lower()
    if name == "auto":
        return choose_device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but torch sees no CUDA GPU; use --device cpu or auto")
        if name == "cuda" and "LOCAL_RANK" in os.environ:  # one GPU per process under torchrun
            return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        return torch.device(name)
    raise ValueError(f"unknown device {name!r}; expected 'cpu', 'cuda' or 'auto'")


# --------------------------------------------------------------------------- configuration


def config_to_dict(config: Any) -> dict[str, Any]:
    """A (nested) dataclass as a TOML-ready dict: Paths -> str, tuples -> lists, enums -> values.

    ``None`` fields are left out (TOML has no null); :func:`config_from_dict` restores them
    from the dataclass defaults, so a field whose value is None must default to None.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance, got {type(config).__name__}")
    return {
        f.name: _plain(getattr(config, f.name))
        for f in dataclasses.fields(config)
        if getattr(config, f.name) is not None
    }


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_to_dict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"configuration value {value} cannot be stored in TOML")
    return value


def config_from_dict(cls: type[ConfigT], values: Mapping[str, Any], where: str = "config") -> ConfigT:
    """Build dataclass ``cls`` from a dict, converting lists back to tuples and Paths.

    Raises:
        ValueError: a key that ``cls`` has no field for (named, with the valid keys).
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; {cls.__name__} takes {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values = dict(values)
    for key, value in values.items():
        default = _default_instance(fields[key])
        if isinstance(value, Mapping) and dataclasses.is_dataclass(default):
            values[key] = _deep_merge(config_to_dict(default), value)  # a partial table keeps the field's defaults
    return cls(**{k: _typed(hints[k], v, f"{where}.{k}") for k, v in values.items()})


def _deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _default_instance(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _typed(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _typed(options[0], value, where) if len(options) == 1 else value
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return config_from_dict(hint, value, where)
    if hint is Path or (isinstance(hint, type) and issubclass(hint, Path)):
        return Path(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return tuple(_typed(inner, v, where) for v in value) if inner is not Ellipsis else tuple(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def config_hash(config: Any, length: int = 12) -> str:
    """A short sha256 of the configuration's canonical JSON: equal configs, equal hashes.

    ``config`` is a dataclass or an already plain mapping (a run's config.toml document).
    """
    plain = _plain(config) if isinstance(config, Mapping) else config_to_dict(config)
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def save_config(config: Any, path: Path | str) -> Path:
    """Write a dataclass configuration as TOML (atomically)."""
    import tomli_w

    path = Path(path)
    with atomic_write(path, "wb") as handle:
        tomli_w.dump(config_to_dict(config), handle)
    return path


def load_config(cls: type[ConfigT], path: Path | str) -> ConfigT:
    """Read a TOML file into dataclass ``cls``; errors name the file and the key."""
    path = Path(path)
    with open(path, "rb") as handle:
        try:
            values = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML: {error}") from error
    return config_from_dict(cls, values, where=str(path))


# --------------------------------------------------------------------------- metadata


def package_versions(names: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str | None]:
    """Installed versions by distribution name (None when not installed); never imports them."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision(root: Path = _REPO_ROOT) -> str | None:
    """The checkout's commit (with ``-dirty`` when it has changes), or None outside git."""
    try:
        revision = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        if revision.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return revision.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def run_metadata(config: Any | None = None, **extra: Any) -> dict[str, Any]:
    """Everything needed to tell two runs apart: versions, git revision, host, config hash."""
    metadata = {
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "git_revision": git_revision(),
        "packages": {k: v for k, v in package_versions().items() if v is not None},
    }
    if config is not None:
        metadata["config_hash"] = config_hash(config)
    metadata.update(extra)
    return metadata


# --------------------------------------------------------------------------- run folders


def make_run_dir(app: str, command: str, out: Path | str | None = None, root: Path | str = "runs") -> Path:
    """Create and return the run folder: ``out`` if given, else ``runs/<app>-<command>-<UTC>``.

    A timestamp clash (two runs in the same second) gets a numeric suffix rather than
    sharing a folder.
    """
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path(root) / f"{app}-{command}-{stamp}"
    folder, suffix = base, 1
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=False)
            return folder
        except FileExistsError:
            suffix += 1
            folder = base.with_name(f"{base.name}-{suffix}")


def write_metrics(folder: Path | str, metrics: Mapping[str, Any], name: str = "metrics.json") -> Path:
    """Write metrics as JSON (atomically); NaN and infinities become null."""
    path = Path(folder) / name
    with atomic_write(path, "w") as handle:
        json.dump(_json_safe(metrics), handle, indent=2, sort_keys=False)
        handle.write("\n")
    return path


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()  # numpy / torch scalars
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
