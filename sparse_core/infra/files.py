"""Files the suite writes and reads: atomic writes (never a half-written file) and digests."""

from __future__ import annotations

import contextlib
import hashlib
import io as _io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write", "save_figure", "sha256_file"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: Path | str, mode: str = "wb") -> Iterator[_io.IOBase]:
    """Write a file so that readers see the old file or the whole new one, never a part.

    The data goes to a temporary file in the same folder, is flushed and fsynced, and
    is renamed over ``path``. If the block raises (or the process is interrupted by an
    exception such as KeyboardInterrupt) the temporary file is removed and ``path`` is
    left as it was.

    Args:
        path: the destination; its folder is created when missing.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(descriptor, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the user's umask
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path beside ``path`` for writers that want a file name (NetCDF, zarr, numpy).

    The block writes the file at the yielded path; on success it is renamed over ``path``
    (with the user's umask), on an exception it is removed and ``path`` is left as it was::

        with atomic_path(folder / "output.nc") as temporary:
            dataset.to_netcdf(temporary)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    _fsync_dir(path.parent)


def save_figure(figure, path: Path | str, **savefig_kwargs) -> Path:
    """Save a matplotlib figure as PNG atomically (never a half-written image)."""
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format=savefig_kwargs.pop("format", "png"), **savefig_kwargs)
    return path


def sha256_file(path: Path | str, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
