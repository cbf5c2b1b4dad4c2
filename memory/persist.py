"""Saving and loading models without pickle: arrays in ``.npz``, configuration as JSON.

A model saved at ``path`` is two files: ``path.npz`` (weights as packed bits, counts) and
``path.json`` (the configuration and what kind of model it is). Both are written
atomically (:mod:`sparse_core.infra.files`): a killed save leaves the previous files or
none, never half of one. Loading rebuilds the configuration from the JSON, checks every
field's type and bounds, and refuses a configuration that differs from ``expected``,
naming the fields; a file that cannot be decoded is an
:class:`~sparse_core.infra.errors.InputError` naming it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
import typing
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from sparse_core.infra.errors import InputError
from sparse_core.infra.files import atomic_write
from sparse_core.infra.runtime import config_from_dict, config_to_dict

__all__ = ["config_differences", "load_arrays", "model_paths", "read_npz", "remove_partial_files", "save_arrays"]


def remove_partial_files(folder: Path | str | None) -> list[Path]:
    """Remove the temporary files a killed atomic write left in ``folder`` (``.NAME.XXXX.part[.ext]``).

    Called when a run starts writing into a folder, so that a rerun into the folder of a
    killed run leaves no half-written file behind. Returns the removed paths.
    """
    if folder is None or not Path(folder).is_dir():
        return []
    removed = []
    for path in Path(folder).glob(".*.part*"):
        if path.is_file() and (path.name.endswith(".part") or ".part." in path.name):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def model_paths(path: Path | str) -> tuple[Path, Path]:
    """The ``.npz`` and ``.json`` files of a model saved at ``path`` (with or without a suffix)."""
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
    """Write ``path.npz`` and ``path.json`` (kind + configuration), each atomically. Returns the .npz path."""
    npz_path, json_path = model_paths(path)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(npz_path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    meta = {"kind": kind, "config_class": type(config).__name__, "config": config_to_dict(config)}
    with atomic_write(json_path, "w") as handle:
        json.dump(meta, handle, indent=2)
    return npz_path


def load_arrays(
    path: Path | str, kind: str, config_cls: type, expected: Any | None = None
) -> tuple[Any, dict[str, np.ndarray]]:
    """Read what :func:`save_arrays` wrote; returns (configuration, arrays).

    Raises:
        FileNotFoundError: a missing ``.npz`` or ``.json`` file (both are named).
        InputError: a file that is not valid JSON / npz (named), another kind of model,
            a configuration with unknown keys, values of the wrong type or out of bounds,
            or one that differs from ``expected`` (the differing fields are listed).
    """
    npz_path, json_path = model_paths(path)
    for needed in (npz_path, json_path):
        if not needed.is_file():
            raise FileNotFoundError(
                f"{needed}: expected a saved {kind} (both {npz_path.name} and {json_path.name}), file not found"
            )
    try:
        meta = json.loads(json_path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InputError(f"{json_path}: not a JSON model description ({error})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise InputError(
            f"{json_path}: expected an object with 'kind' and a 'config' table, found {type(meta).__name__}"
        )
    if meta.get("kind") != kind:
        raise InputError(f"{json_path}: expected a saved {kind!r}, found kind {meta.get('kind')!r}")
    try:
        config = config_from_dict(config_cls, meta["config"], where=str(json_path))
        _check_types(config, str(json_path))
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as error:
        raise InputError(f"{json_path}: not a valid {config_cls.__name__}: {error}") from None
    if expected is not None:
        differences = config_differences(config_to_dict(expected), config_to_dict(config))
        if differences:
            raise InputError(
                f"{json_path}: the saved configuration does not match the expected one: " + "; ".join(differences)
            )
    return config, read_npz(npz_path)


_NPZ_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    TypeError,
    SyntaxError,
    OverflowError,
    MemoryError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
)


def read_npz(path: Path | str) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive, without pickle, refusing headers that claim more data than stored.

    Each member's ``.npy`` header is read first: an array whose shape and type need more
    bytes than the member holds is refused before anything is allocated.

    Raises:
        InputError: a file that is not a zip of ``.npy`` arrays, a damaged member, an
            object (pickled) array, or a header that does not fit its data (names the file).
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if not member.filename.endswith(".npy"):
                    raise ValueError(f"member {member.filename!r} is not an .npy array")
                with archive.open(member) as handle:
                    version = np.lib.format.read_magic(handle)
                    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                    if version not in readers:
                        raise ValueError(f"member {member.filename!r}: .npy format version {version} is not supported")
                    shape, _, dtype = readers[version](handle, max_header_size=10000)
                    if dtype.hasobject:
                        raise ValueError(f"member {member.filename!r} holds Python objects (pickle), refused")
                    needed = math.prod(shape) * dtype.itemsize
                    if needed > member.file_size:
                        raise ValueError(
                            f"member {member.filename!r} claims {needed:,} bytes of data but holds {member.file_size:,}"
                        )
                with archive.open(member) as handle:
                    arrays[member.filename[: -len(".npy")]] = np.lib.format.read_array(handle, allow_pickle=False)
    except _NPZ_ERRORS as error:
        raise InputError(f"{path}: not a readable npz archive of arrays ({type(error).__name__}: {error})") from None
    return arrays


_SCALARS = {int: (int,), float: (int, float), str: (str,), bool: (bool,)}


def _check_types(value: Any, where: str) -> None:
    """Every field of a (nested) dataclass has the type its annotation names.

    Raises:
        TypeError: naming the field, the expected and the found type.
    """
    hints = typing.get_type_hints(type(value))
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        name = f"{where}.{f.name}"
        hint = hints[f.name]
        if dataclasses.is_dataclass(item):
            _check_types(item, name)
            continue
        if typing.get_origin(hint) is tuple:
            if not isinstance(item, tuple):
                raise TypeError(f"{name}: expected a list, found {type(item).__name__}")
            args = [a for a in typing.get_args(hint) if a is not Ellipsis]
            for position, element in enumerate(item):
                kind = args[min(position, len(args) - 1)] if args else None
                if dataclasses.is_dataclass(kind):
                    if not isinstance(element, kind):
                        raise TypeError(f"{name}[{position}]: expected a {kind.__name__} table")
                    _check_types(element, f"{name}[{position}]")
                elif kind in _SCALARS and (
                    isinstance(element, bool) and kind is not bool or not isinstance(element, _SCALARS[kind])
                ):
                    raise TypeError(f"{name}[{position}]: expected {kind.__name__}, found {element!r}")
        elif hint in _SCALARS and (
            (isinstance(item, bool) and hint is not bool) or not isinstance(item, _SCALARS[hint])
        ):
            raise TypeError(f"{name}: expected {hint.__name__}, found {item!r}")
