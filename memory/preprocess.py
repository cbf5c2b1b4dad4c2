"""Image preprocessing before the memory: deskew, resize, binarise, edges, skeleton.

All functions take and return stacks of images (n, rows, cols) and are vectorised over
the stack. :func:`tile_channels` lays several preprocessings of the same images (filled,
edges, skeleton) side by side in one frame, so that a level of macs on a (1, channels)
grid gives each channel its own mac. Rinkus (2017) resizes MNIST to 16 × 24, binarises and skeletonises it; the
skeleton here is Zhang & Suen's (1984, CACM 27(3):236) two-subiteration thinning.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from memory.config import PreprocessConfig

__all__ = ["PreprocessConfig", "binarise", "deskew", "edges", "preprocess", "resize", "skeleton", "tile_channels"]


def _check(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"images: expected a non-empty stack of shape (n, rows, cols), found shape {images.shape}")
    return images.astype(np.float64)


def deskew(images: np.ndarray) -> np.ndarray:
    """Shear each image so that its principal axis is vertical (moment deskewing)."""
    images = _check(images)
    n, rows, cols = images.shape
    r, c = np.mgrid[:rows, :cols].astype(np.float64)
    mass = images.sum(axis=(1, 2)) + 1e-12
    mean_r = (images * r).sum(axis=(1, 2)) / mass
    mean_c = (images * c).sum(axis=(1, 2)) / mass
    var_r = (images * (r - mean_r[:, None, None]) ** 2).sum(axis=(1, 2)) / mass
    cov = (images * (r - mean_r[:, None, None]) * (c - mean_c[:, None, None])).sum(axis=(1, 2)) / mass
    alpha = cov / np.maximum(var_r, 1e-12)
    out = np.empty_like(images)
    centre_r, centre_c = (rows - 1) / 2, (cols - 1) / 2
    for i in range(n):
        # input = M (output - image centre) + centre of mass: shear about the centre of mass
        matrix = np.array([[1.0, 0.0], [alpha[i], 1.0]])
        offset = np.array([mean_r[i], mean_c[i]]) - matrix @ np.array([centre_r, centre_c])
        out[i] = ndimage.affine_transform(images[i], matrix, offset=offset, order=1)
    return out


def resize(images: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resizing of every image to ``shape`` (rows, cols)."""
    images = _check(images)
    factors = (1.0, shape[0] / images.shape[1], shape[1] / images.shape[2])
    return ndimage.zoom(images, factors, order=1, grid_mode=True, mode="nearest")


def binarise(images: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Pixels at or above ``threshold`` × the image's maximum are on. Returns bool."""
    images = _check(images)
    top = images.max(axis=(1, 2), keepdims=True)
    return (images >= threshold * np.maximum(top, 1e-12)) & (images > 0)


def edges(binary: np.ndarray) -> np.ndarray:
    """Boundary pixels: on pixels with at least one off 4-neighbour."""
    binary = np.asarray(binary, dtype=bool)
    eroded = ndimage.binary_erosion(
        binary, structure=np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], bool), border_value=0
    )
    return binary & ~eroded


def skeleton(binary: np.ndarray, max_iterations: int = 50) -> np.ndarray:
    """Zhang-Suen thinning of every image to one-pixel-wide strokes. Returns bool."""
    image = np.pad(np.asarray(binary, dtype=bool), ((0, 0), (1, 1), (1, 1)))
    for _ in range(max_iterations):
        changed = False
        for first in (True, False):
            p = image.astype(np.uint8)
            n_ = p[:, :-2, 1:-1]
            ne = p[:, :-2, 2:]
            e = p[:, 1:-1, 2:]
            se = p[:, 2:, 2:]
            s = p[:, 2:, 1:-1]
            sw = p[:, 2:, :-2]
            w = p[:, 1:-1, :-2]
            nw = p[:, :-2, :-2]
            ring = [n_, ne, e, se, s, sw, w, nw, n_]
            neighbours = sum(ring[:8])
            transitions = sum(((ring[i] == 0) & (ring[i + 1] == 1)).astype(np.uint8) for i in range(8))
            if first:
                cond = (n_ * e * s == 0) & (e * s * w == 0)
            else:
                cond = (n_ * e * w == 0) & (n_ * s * w == 0)
            remove = image[:, 1:-1, 1:-1] & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & cond
            if remove.any():
                image[:, 1:-1, 1:-1] &= ~remove
                changed = True
        if not changed:
            break
    return image[:, 1:-1, 1:-1]


def preprocess(images: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Apply the pipeline of :class:`PreprocessConfig`: grey images → binary frames (bool)."""
    images = _check(images)
    if config.deskew:
        images = deskew(images)
    if config.shape != (0, 0) and tuple(config.shape) != images.shape[1:]:
        images = resize(images, config.shape)
    binary = binarise(images, config.threshold)
    if config.filter == "edges":
        binary = edges(binary)
    elif config.filter == "skeleton":
        binary = skeleton(binary)
    if config.dilate:
        binary = ndimage.binary_dilation(binary, structure=np.ones((1, 3, 3), bool), iterations=config.dilate)
    return binary


def tile_channels(
    images: np.ndarray, channels: tuple[PreprocessConfig, ...], tile: tuple[int, int] | None = None
) -> np.ndarray:
    """Preprocess the images once per channel and lay the channels side by side.

    Each channel's binary frame is centred in a tile of ``tile`` pixels (default: the
    largest channel's shape), padded with off pixels; tile ``c`` occupies columns
    ``c·tile_cols`` to ``(c+1)·tile_cols``. A level whose grid is (1, channels) and whose
    RF is the tile then has one mac per channel.

    Args:
        images: grey images.
        channels: one preprocessing per channel.
        tile: (rows, cols) of a tile; every channel must fit.

    Returns:
        Binary frames, bool.

    Shapes:
        images: (n, rows, cols) → (n, tile_rows, channels · tile_cols).
    """
    if not channels:
        raise ValueError("channels: expected at least one PreprocessConfig, found none")
    frames = [preprocess(images, channel) for channel in channels]
    if tile is None:
        tile = (max(f.shape[1] for f in frames), max(f.shape[2] for f in frames))
    out = np.zeros((frames[0].shape[0], tile[0], tile[1] * len(frames)), dtype=bool)
    for number, frame in enumerate(frames):
        rows, cols = frame.shape[1:]
        if rows > tile[0] or cols > tile[1]:
            raise ValueError(
                f"channels[{number}]: expected frames within the {tile[0]}x{tile[1]} tile, found {rows}x{cols}"
            )
        top, left = (tile[0] - rows) // 2, number * tile[1] + (tile[1] - cols) // 2
        out[:, top : top + rows, left : left + cols] = frame
    return out
