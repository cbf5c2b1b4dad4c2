"""Drawing a task's scene (top view) into a PNG frame with matplotlib (written atomically)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["draw_scene"]


def draw_scene(
    path: Path | str,
    *,
    limits: tuple[float, float, float, float],
    polygons: Sequence[tuple[np.ndarray, str]] = (),
    circles: Sequence[tuple[np.ndarray, float, str]] = (),
    lines: Sequence[np.ndarray] = (),
    goal_polygons: Sequence[np.ndarray] = (),
    goal_circles: Sequence[tuple[np.ndarray, float]] = (),
    title: str = "",
    units: str = "cm",
    size_inches: float = 4.0,
) -> Path:
    """Writes one frame: filled shapes for the scene, dashed outlines for the goal.

    Args:
        path: PNG file to write (parent folders are created).
        limits: ``(xmin, xmax, ymin, ymax)`` of the view.
        polygons: ``(vertices (n, 2), colour)`` filled polygons.
        circles: ``(centre (2,), radius, colour)`` filled discs.
        lines: Polylines, each of shape ``(n, 2)``.
        goal_polygons: Goal outlines ``(n, 2)``.
        goal_circles: Goal outlines ``(centre, radius)``.
        title: Figure title.
        units: Axis unit label.
        size_inches: Figure size.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Polygon

    from sparse_core.infra.files import save_figure

    path = Path(path)
    figure, axes = plt.subplots(figsize=(size_inches, size_inches))
    for vertices in goal_polygons:
        axes.add_patch(Polygon(vertices, closed=True, fill=False, linestyle="--", edgecolor="tab:green", linewidth=1.5))
    for centre, radius in goal_circles:
        axes.add_patch(Circle(centre, radius, fill=False, linestyle="--", edgecolor="tab:green", linewidth=1.5))
    for line in lines:
        axes.plot(line[:, 0], line[:, 1], color="0.5", linewidth=1.0)
    for vertices, colour in polygons:
        axes.add_patch(Polygon(vertices, closed=True, facecolor=colour, edgecolor="black", linewidth=0.8))
    for centre, radius, colour in circles:
        axes.add_patch(Circle(centre, radius, facecolor=colour, edgecolor="black", linewidth=0.8))
    axes.set_xlim(limits[0], limits[1])
    axes.set_ylim(limits[2], limits[3])
    axes.set_aspect("equal")
    axes.set_xlabel(f"x ({units})")
    axes.set_ylabel(f"y ({units})")
    if title:
        axes.set_title(title, fontsize=9)
    figure.tight_layout()
    try:
        save_figure(figure, path, dpi=80)
    finally:
        plt.close(figure)
    return path
