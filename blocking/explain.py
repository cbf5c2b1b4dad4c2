"""SHAP attributions of the blocking CNN: composites, maps with the land–sea outline, selected regions.

As in Zhang et al. (2024) and the authors' protocol: SHAP DeepExplainer on the logits
with 100 training samples as background, composites of the persistent logit's SHAP
values over the true positives (and here also the true negatives) per level, and
regions found by thresholding the true-positive composite at 200 hPa. DeepExplainer on
PyTorch often fails its additivity check (shap issues #3476, #3348, #3735, #3938), so the
check is not left to shap: the additivity error |Σ SHAP + E[f] − f(x)| is computed and
reported, and GradientExplainer (expected gradients) is offered as the usual workaround
(its attributions add up only approximately). ``shap`` is imported inside the functions
(it takes seconds to import).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from blocking.config import ExplainConfig
from blocking.dataset import BlockingDataset, load_dataset
from sparse_core.infra.errors import InputError, SparseWorksError

__all__ = [
    "additivity_error",
    "composites",
    "land_sea_outline",
    "plot_maps",
    "run_explain",
    "select_regions",
    "shap_values",
]

log = logging.getLogger(__name__)
PERSISTENT = 1


def shap_values(
    model: torch.nn.Module,
    background: torch.Tensor,
    samples: torch.Tensor,
    method: str = "deep",
    rng: np.random.Generator | None = None,
    gradient_samples: int = 200,
) -> tuple[np.ndarray, float]:
    """SHAP values of the persistent logit.

    Args:
        model: the network (in eval mode).
        background: reference samples, ``(background, level, lat, lon)``.
        samples: samples to explain, ``(sample, level, lat, lon)``.
        method: ``"deep"`` (DeepExplainer, DeepLIFT rescale rules) or ``"gradient"``
            (GradientExplainer, expected gradients with ``gradient_samples`` draws).
        rng: generator of GradientExplainer's draws (shap reseeds numpy's global generator
            from it; the global state is restored afterwards).

    Returns:
        ``(values (sample, level, lat, lon), expected_value)``: the SHAP values of logit 1
        and the mean logit over the background.
    """
    import shap

    model.eval()
    if method == "deep":
        explainer = shap.DeepExplainer(model, background)
        values = explainer.shap_values(samples, check_additivity=False)
        expected = float(np.atleast_1d(explainer.expected_value)[PERSISTENT])
    elif method == "gradient":
        rng = rng or np.random.default_rng(0)
        state = np.random.get_state()
        try:
            explainer = shap.GradientExplainer(model, background)
            values = explainer.shap_values(samples, nsamples=gradient_samples, rseed=int(rng.integers(2**31 - 1)))
        finally:
            np.random.set_state(state)
        with torch.no_grad():
            expected = float(model(background)[:, PERSISTENT].mean())
    else:
        raise ValueError(f"method must be 'deep' or 'gradient', got {method!r}")
    values = np.asarray(values[PERSISTENT] if isinstance(values, list) else values)
    if values.ndim == samples.ndim + 1:  # (sample, ..., output): shap >= 0.45
        values = values[..., PERSISTENT]
    return values.astype(np.float64), expected


def additivity_error(model: torch.nn.Module, samples: torch.Tensor, values: np.ndarray, expected: float) -> dict:
    """How far Σ SHAP + E[f] is from the logit f(x), absolutely and relative to |f(x) − E[f]|.

    Returns:
        ``{"max_abs", "mean_abs", "max_relative"}``.
    """
    with torch.no_grad():
        logit = model(samples)[:, PERSISTENT].double().cpu().numpy()
    error = np.abs(values.reshape(len(values), -1).sum(axis=1) + expected - logit)
    scale = np.maximum(np.abs(logit - expected), 1e-6)
    return {
        "max_abs": float(error.max()),
        "mean_abs": float(error.mean()),
        "max_relative": float((error / scale).max()),
    }


def composites(values: np.ndarray, groups: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mean SHAP map of each group of samples (e.g. true positives), ``(level, lat, lon)`` each."""
    return {name: values[chosen].mean(axis=0) for name, chosen in groups.items() if len(chosen)}


def _arc(lon_values: np.ndarray) -> tuple[float, float]:
    """The shortest west→east arc holding all the longitudes (degrees, in [0, 360))."""
    lons = np.unique(np.mod(lon_values, 360.0))
    if lons.size == 1:
        return float(lons[0]), float(lons[0])
    gaps = np.append(np.diff(lons), 360.0 - (lons[-1] - lons[0]))
    widest = int(np.argmax(gaps))
    return float(lons[(widest + 1) % lons.size]), float(lons[widest])


def select_regions(
    composite: np.ndarray, lat: np.ndarray, lon: np.ndarray, threshold: float = 0.5, count: int = 4
) -> list[dict]:
    """Regions where |composite| ≥ ``threshold`` · max |composite|, as boxes (largest first).

    Connected components (4-neighbour) of the thresholded map, joined across the
    0°/360° seam; each becomes the box of its grid points.

    Shapes:
        composite: ``(lat, lon)`` on a global longitude circle.

    Returns:
        ``[{"box": [south, north, west, east], "sign": ±1, "points", "mean_shap"}]``.
    """
    from scipy import ndimage

    strength = np.abs(composite)
    peak = strength.max()
    if not np.isfinite(peak) or peak == 0:
        return []
    labels, found = ndimage.label(strength >= threshold * peak)
    for row in range(labels.shape[0]):  # join components that meet across the seam
        a, b = labels[row, 0], labels[row, -1]
        if a and b and a != b:
            labels[labels == b] = a
    regions = []
    for label in np.unique(labels[labels > 0]):
        rows, cols = np.nonzero(labels == label)
        west, east = _arc(lon[cols])
        mean = float(composite[rows, cols].mean())
        regions.append(
            {
                "box": [float(lat[rows].min()), float(lat[rows].max()), west, east],
                "sign": int(np.sign(mean)),
                "points": int(rows.size),
                "mean_shap": mean,
            }
        )
    regions.sort(key=lambda r: (-r["points"], -abs(r["mean_shap"])))
    return regions[:count]


def land_sea_outline(lat: np.ndarray, lon: np.ndarray, grid_nlat: int = 32) -> np.ndarray:
    """The model's land–sea mask on the dataset's grid points (``blocking.qg3.inputs``).

    Returns:
        ``(lat, lon)`` fraction of land.

    Raises:
        InputError: the dataset's points are not on the model grid.
    """
    from blocking.qg3.grid import gaussian_grid
    from blocking.qg3.inputs import load_t63_inputs

    grid = gaussian_grid(grid_nlat)
    mask = load_t63_inputs(grid)["land_sea_mask"]
    rows = [np.flatnonzero(np.isclose(grid.lat, value, atol=1e-3)) for value in lat]
    cols = [np.flatnonzero(np.isclose(grid.lon, np.mod(value, 360.0), atol=1e-3)) for value in lon]
    if any(r.size == 0 for r in rows) or any(c.size == 0 for c in cols):
        raise InputError(f"the dataset's grid is not the {grid_nlat}-latitude model grid; no land-sea outline")
    return mask[np.ix_([int(r[0]) for r in rows], [int(c[0]) for c in cols])]


def plot_maps(
    maps: dict[str, np.ndarray],
    lat: np.ndarray,
    lon: np.ndarray,
    levels_hpa,
    path: Path,
    outline: np.ndarray | None = None,
    regions: list[dict] | None = None,
    region_level: float | None = None,
) -> Path:
    """One panel per composite and level: SHAP contours, land–sea outline, region boxes.

    Args:
        maps: ``{name: (level, lat, lon)}``.
        outline: land fraction ``(lat, lon)`` drawn as its 0.5 contour.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    centred = (np.asarray(lon) + 180.0) % 360.0 - 180.0
    order = np.argsort(centred)
    x, y = centred[order], np.asarray(lat)
    names = list(maps)
    figure, axes = plt.subplots(
        len(levels_hpa),
        len(names),
        figsize=(5.5 * len(names), 2.4 * len(levels_hpa)),
        squeeze=False,
        constrained_layout=True,
    )
    for column, name in enumerate(names):
        limit = float(np.abs(maps[name]).max()) or 1.0
        for row, level in enumerate(levels_hpa):
            axis = axes[row, column]
            field = maps[name][row][:, order]
            shading = axis.contourf(x, y, field, levels=np.linspace(-limit, limit, 17), cmap="RdBu_r", extend="both")
            if outline is not None:
                axis.contour(x, y, outline[:, order], levels=[0.5], colors="k", linewidths=0.8)
            if regions and region_level is not None and np.isclose(level, region_level) and column == 0:
                dlat = float(np.median(np.abs(np.diff(y)))) / 2 if y.size > 1 else 1.0
                dlon = float(np.median(np.diff(x))) / 2 if x.size > 1 else 1.0
                for region in regions:  # boxes drawn around their grid points' cells
                    south, north, west, east = region["box"]
                    west_c = (west + 180.0) % 360.0 - 180.0 - dlon
                    axis.add_patch(
                        Rectangle(
                            (west_c, south - dlat),
                            (east - west) % 360.0 + 2 * dlon,
                            north - south + 2 * dlat,
                            fill=False,
                            linewidth=1.5,
                            edgecolor="gold" if region["sign"] > 0 else "green",
                        )
                    )
            axis.set_title(f"{name.replace('_', ' ')}, {level:g} hPa")
            axis.set_xlabel("longitude (degrees east)")
            axis.set_ylabel("latitude (degrees north)")
        figure.colorbar(shading, ax=axes[:, column], label="SHAP value of the persistent logit")
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


def _pick(indices: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(indices, size=min(count, indices.size), replace=False)) if indices.size else indices


def run_explain(
    config: ExplainConfig, folder: Path, device: torch.device | str = "cpu", progress: bool = False
) -> dict:
    """``blocking explain``: SHAP of the test true positives and true negatives of a trained network.

    Writes ``shap_composites.nc`` (composites per group and level), ``shap_maps.png`` and
    ``regions.json`` (the boxes :mod:`blocking.sparse_model` reads) into ``folder``.

    Returns:
        Metrics: ``method``, ``explained`` (per group), ``background``, ``additivity``
        (max / mean absolute and max relative error), ``regions``, ``outline``.
    """
    from blocking.training import load_model

    folder = Path(folder)
    device = torch.device(device)
    dataset = load_dataset(config.dataset)
    model, payload = load_model(config.model, device)
    if tuple(payload["input_shape"]) != tuple(dataset.inputs.shape[1:]):
        raise InputError(
            f"{config.model}: the network takes inputs {tuple(payload['input_shape'])}, the dataset "
            f"{config.dataset} has {tuple(dataset.inputs.shape[1:])}"
        )
    days = payload.get("persistence_days")
    rng = np.random.default_rng(config.seed)
    groups = _groups(dataset, model, days, device, config.samples, rng)
    train = dataset.select("train", days)
    background = torch.as_tensor(dataset.inputs[_pick(train, config.background, rng)], device=device)
    chosen = np.concatenate(list(groups.values()))
    if chosen.size == 0:
        raise InputError(f"{config.dataset}: the network has no true positive or true negative on the test split")
    samples = torch.as_tensor(dataset.inputs[chosen], device=device)
    values, expected = shap_values(model, background, samples, config.method, rng)
    error = additivity_error(model, samples, values, expected)
    positions, start = {}, 0
    for name, members in groups.items():
        positions[name] = np.arange(start, start + members.size)
        start += members.size
    maps = composites(values, positions)
    level = int(np.flatnonzero(np.isclose(dataset.levels_hpa, config.region_level_hpa))[0])
    regions = (
        select_regions(maps["true_positive"][level], dataset.lat, dataset.lon, config.region_threshold, config.regions)
        if "true_positive" in maps
        else []
    )
    from sparse_core.infra.files import atomic_write

    with atomic_write(folder / "regions.json", "w") as handle:
        json.dump(
            {"level_hpa": config.region_level_hpa, "threshold": config.region_threshold, "regions": regions},
            handle,
            indent=2,
        )
    _write_composites(folder / "shap_composites.nc", maps, dataset, config.method, expected)
    outline, outline_note = None, "off"
    if config.outline:
        try:
            outline = land_sea_outline(dataset.lat, dataset.lon, int(dataset.attrs.get("grid_nlat", 32)))
            outline_note = "model land-sea mask (QG3 inputs)"
        except SparseWorksError as problem:
            log.warning("no land-sea outline on the SHAP maps: %s", problem)
            outline_note = f"unavailable: {problem}"
    plot_maps(
        maps,
        dataset.lat,
        dataset.lon,
        dataset.levels_hpa,
        folder / "shap_maps.png",
        outline,
        regions,
        config.region_level_hpa,
    )
    return {
        "method": config.method,
        "explained": {name: int(v.size) for name, v in groups.items()},
        "background": int(background.shape[0]),
        "expected_logit": expected,
        "additivity": error,
        "regions": regions,
        "outline": outline_note,
        "files": ["shap_composites.nc", "shap_maps.png", "regions.json"],
    }


def _groups(dataset: BlockingDataset, model, days, device, count: int, rng) -> dict[str, np.ndarray]:
    from blocking.training import predict_probability

    test = dataset.select("test", days)
    labels = dataset.labels(days)[test]
    decisions = predict_probability(model, torch.as_tensor(dataset.inputs[test], device=device)) >= 0.5
    return {
        "true_positive": _pick(test[(labels == 1) & decisions], count, rng),
        "true_negative": _pick(test[(labels == 0) & ~decisions], count, rng),
    }


def _write_composites(path: Path, maps: dict, dataset: BlockingDataset, method: str, expected: float) -> None:
    import xarray as xr

    data = xr.Dataset(
        {
            f"shap_{name}": (
                ("level", "lat", "lon"),
                values,
                {"units": "1", "long_name": f"mean SHAP value of the persistent logit, {name} samples"},
            )
            for name, values in maps.items()
        },
        coords={
            "level": ("level", dataset.levels_hpa, {"units": "hPa"}),
            "lat": ("lat", dataset.lat, {"units": "degrees_north"}),
            "lon": ("lon", dataset.lon, {"units": "degrees_east"}),
        },
        attrs={
            "Conventions": "CF-1.8",
            "title": "SHAP composites of the blocking CNN",
            "method": method,
            "expected_logit": expected,
        },
    )
    data.to_netcdf(path)
