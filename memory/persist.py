"""Saving and loading models without pickle: arrays in ``.npz``, configuration as JSON.

A model saved at ``path`` is two files: ``path.npz`` (weights as packed bits, counts) and
``path.json`` (the configuration and what kind of model it is). Loading rebuilds the
model from the JSON configuration and checks every array's shape against it; with
``expected`` given, a configuration that differs is refused, naming the fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sparse_core.infra.files import atomic_write
from sparse_core.infra.runtime import config_from_dict, config_to_dict

__all__ = ["config_differences", "load_arrays", "save_arrays"]


def _paths(path: Path | str) -> tuple[Path, Path]:
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".npz", ".json") else path
    return base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")


def config_differences(expected: dict[str, Any], found: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the fields whose values differ between two config dicts."""
    out = []
    for key in sorted(set(expected) | set(found)):
        a, b = expected.get(key), found.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} (expected {a!r}, found {b!r})")
    return out


def save_arrays(path: Path | str, kind: str, config: Any, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``path.npz`` and ``path.json`` (kind + configuration). Returns the .npz path."""
    npz_path, json_path = _paths(path)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(npz_path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    meta = {"kind": kind, "config_class": type(config).__name__, "config": config_to_dict(config)}
    with atomic_write(json_path, "w") as handle:
        json.dump(meta, handle, indent=2)
    return npz_path


def load_arrays(path: Path | str, kind: str, config_cls: type, expected: Any | None = None) -> tuple[Any, dict[str, np.ndarray]]:
    """Read what :func:`save_arrays` wrote; returns (configuration, arrays).

    Raises:
        FileNotFoundError: a missing ``.npz`` or ``.json`` file (both are named).
        ValueError: another kind of model, or a configuration that differs from
            ``expected`` (the differing fields are listed).
    """
    npz_path, json_path = _paths(path)
    for needed in (npz_path, json_path):
        if not needed.exists():
            raise FileNotFoundError(f"{needed}: expected a saved {kind} (both {npz_path.name} and {json_path.name}), file not found")
    meta = json.loads(json_path.read_text())
    if meta.get("kind") != kind:
        raise ValueError(f"{json_path}: expected a saved {kind!r}, found kind {meta.get('kind')!r}")
    config = config_from_dict(config_cls, meta["config"], where=str(json_path))
    if expected is not None:
        differences = config_differences(config_to_dict(expected), meta["config"])
        if differences:
            raise ValueError(f"{json_path}: the saved configuration does not match the expected one: " + "; ".join(differences))
    with np.load(npz_path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    return config, arrays
