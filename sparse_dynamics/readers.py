"""Reading the files a user gives (datasets, compact networks, model files): bytes, JSON and npz, checked.

Every malformed file raises `InputError` naming the file and what is wrong; a missing or
unreadable one raises the OS error (the command line reports both as ``error: ...``,
docs/architecture.md, "Errors"). Compressed files are read transparently: a file that
starts with the gzip magic bytes is decompressed, whatever its name. An npz archive is
read member by member with numpy's header parser: each array's header must describe
exactly the bytes stored (so a damaged header cannot make numpy allocate more than the
file holds), its data must pass the archive's CRC, and only real numbers are accepted
(no pickled objects, strings or complex values). numpy and the standard library only:
`sparse_dynamics.compact` reads its files through this module without torch.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from sparse_core.infra.errors import InputError

__all__ = [
    "GZIP_MAGIC",
    "MAX_DECOMPRESSED_BYTES",
    "MODEL_FILE",
    "read_bytes",
    "read_json",
    "read_model_bytes",
    "read_npz",
    "verified_zip_members",
    "zip_member_names",
]

GZIP_MAGIC = b"\x1f\x8b"
"""First two bytes of a gzip stream."""
MAX_DECOMPRESSED_BYTES = 4 << 30
"""Largest file (after gunzip) or npz member these readers accept: 4 GiB."""

MODEL_FILE = "a model saved by `sparseworks dynamics train`"
"""What a model file is, in messages."""

_NUMERIC_KINDS = "fiu"  # float, signed and unsigned integer
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    OSError,
    ValueError,
    KeyError,
    OverflowError,
    RuntimeError,
)


def read_bytes(path: Path | str, what: str) -> bytes:
    """The contents of ``path``, gunzipped when it starts with the gzip magic bytes.

    Args:
        path: The file.
        what: What the file should be, for messages (``"a dataset .npz"``).

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: If the file cannot be read.
        InputError: If it is empty, or a gzip stream that does not decompress.
    """
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(GZIP_MAGIC):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                data = stream.read(MAX_DECOMPRESSED_BYTES + 1)
        except (OSError, EOFError, zlib.error) as error:
            raise InputError(
                f"{path}: a gzip-compressed file that does not decompress ({error}); expected {what}"
            ) from None
        if len(data) > MAX_DECOMPRESSED_BYTES:
            raise InputError(f"{path}: decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes; expected {what}")
    if not data:
        raise InputError(f"{path}: the file is empty; expected {what}")
    return data


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows a float")
    return value


def read_json(path: Path | str, what: str) -> dict:
    """The JSON object in ``path`` (gzip allowed); NaN, Infinity and overflowing numbers are refused.

    Raises:
        InputError: If the file is not UTF-8 JSON holding an object.
    """
    path = Path(path)
    data = read_bytes(path, what)
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file; expected {what} (JSON)") from None
    except (ValueError, RecursionError) as error:  # json.JSONDecodeError is a ValueError
        raise InputError(f"{path}: not valid JSON ({error}); expected {what}") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected {what} (a JSON object), found a JSON {type(value).__name__}")
    return value


def _archive(data: bytes, path: Path, what: str) -> zipfile.ZipFile:
    if not data.startswith(b"PK"):
        raise InputError(f"{path}: not a zip archive (it starts with {data[:8]!r}); expected {what}")
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as error:
        raise InputError(f"{path}: a damaged zip archive ({type(error).__name__}: {error}); expected {what}") from None


def zip_member_names(path: Path | str, data: bytes) -> list[str] | None:
    """Member names of ``data`` if it is a readable zip archive, else None (to tell file kinds apart)."""
    try:
        with _archive(data, Path(path), "") as archive:
            return archive.namelist()
    except InputError:
        return None


def verified_zip_members(path: Path | str, data: bytes, what: str) -> list[str]:
    """Member names of the zip archive ``data``, after reading every member and checking its CRC.

    Raises:
        InputError: If ``data`` is not a zip archive, or a member is damaged.
    """
    path = Path(path)
    with _archive(data, path, what) as archive:
        try:
            damaged = archive.testzip()
        except _ZIP_ERRORS as error:
            raise InputError(
                f"{path}: a damaged zip archive ({type(error).__name__}: {error}); expected {what}"
            ) from None
        if damaged is not None:
            raise InputError(f"{path}: member {damaged!r} is damaged (its checksum does not match); expected {what}")
        return archive.namelist()


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, key: str) -> np.ndarray:
    where = f"{path}: array {key!r}"
    if info.file_size > MAX_DECOMPRESSED_BYTES:
        raise InputError(f"{where}: {info.file_size} bytes, more than {MAX_DECOMPRESSED_BYTES}")
    raw = archive.read(info)  # checks the member's CRC
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version in ((2, 0), (3, 0)):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise InputError(f"{where}: unsupported .npy format version {version}")
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise InputError(f"{where}: expected real numbers, found dtype {dtype}")
    count = math.prod(shape)
    stored = len(raw) - stream.tell()
    if count * dtype.itemsize != stored:
        raise InputError(
            f"{where}: its header promises shape {shape} of {dtype} ({count * dtype.itemsize} bytes), "
            f"but {stored} bytes are stored (a truncated or damaged file)"
        )
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=stream.tell())
    return array.reshape(shape, order="F" if fortran_order else "C").astype(np.float64)


def read_npz(path: Path | str, what: str, data: bytes | None = None) -> dict[str, np.ndarray]:
    """Every array of the npz archive ``path`` (gzip allowed), as float64.

    Args:
        path: The archive.
        what: What it should be, for messages.
        data: Its contents, when already read (`read_bytes`).

    Returns:
        Array name (the member name without ``.npy``) -> float64 array.

    Raises:
        InputError: If the file is not an npz archive, a member is damaged or truncated, or
            an array holds anything but real numbers.
    """
    path = Path(path)
    data = read_bytes(path, what) if data is None else data
    arrays = {}
    with _archive(data, path, what) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            key = info.filename[: -len(".npy")] if info.filename.endswith(".npy") else info.filename
            try:
                arrays[key] = _read_member(archive, info, path, key)
            except InputError:
                raise
            except (*_ZIP_ERRORS, SyntaxError, TypeError, MemoryError) as error:
                raise InputError(
                    f"{path}: array {key!r} cannot be read ({type(error).__name__}: {error}); expected {what}"
                ) from None
    if not arrays:
        raise InputError(f"{path}: an archive holding no arrays; expected {what}")
    return arrays


def read_model_bytes(path: Path | str) -> bytes:
    """The bytes of a model file (gzip allowed), checked as far as is possible without torch.

    The file must be a zip archive whose members all pass their CRC and that holds a
    pickled ``data.pkl`` (what ``torch.save`` writes); `sparse_dynamics.models.load_model`
    reads the rest. A dataset or compact network (.npz) given instead is named as such.

    Raises:
        FileNotFoundError: If the file is missing.
        InputError: If it is empty, not a zip archive, damaged, or a numpy archive.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} not found (write one with `sparseworks dynamics train`)")
    data = read_bytes(path, MODEL_FILE)
    members = verified_zip_members(path, data, MODEL_FILE)
    if members and all(name.endswith(".npy") for name in members):
        raise InputError(
            f"{path}: a numpy archive (a dataset or compact network .npz), not a model file; give "
            f"--model the model.pt written by `sparseworks dynamics train`"
        )
    if not any(name.endswith("/data.pkl") for name in members):
        raise InputError(
            f"{path}: a zip archive without torch tensors (no data.pkl), not a model file; expected {MODEL_FILE}"
        )
    return data
