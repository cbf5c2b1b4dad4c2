"""Layer-wise density distributions for a global parameter budget.

Every function takes the prunable tensors' shapes (name -> shape) and a global density and
returns name -> density such that ``sum(density_l * numel_l) == density * sum(numel_l)``.
Layers named in ``dense_layers`` are kept at density 1 and count toward the budget; the rest
of the budget is spread over the other layers. :func:`counts` turns densities into integer
nonzero counts whose total meets the budget exactly.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

__all__ = ["counts", "erk", "uniform"]

Shapes = Mapping[str, Sequence[int]]


def _numel(shape: Sequence[int]) -> int:
    return math.prod(int(s) for s in shape)


def _check(shapes: Shapes, density: float, dense_layers: Collection[str]) -> tuple[float, set[str]]:
    """Returns the budget (nonzeros) left for the non-dense layers, and the dense set."""
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"global density must lie in [0, 1], found {density}")
    unknown = [name for name in dense_layers if name not in shapes]
    if unknown:
        raise KeyError(f"dense_layers {unknown} are not among the shapes; valid names: {sorted(shapes)}")
    total = sum(_numel(s) for s in shapes.values())
    dense_total = sum(_numel(shapes[name]) for name in dense_layers)
    budget = density * total - dense_total
    if budget < -1e-9 * max(total, 1):
        raise ValueError(
            f"dense layers {sorted(dense_layers)} hold {dense_total} weights, more than the budget of "
            f"{density * total:.0f} ({density} of {total}); lower the dense layers or raise the density"
        )
    return max(budget, 0.0), set(dense_layers)


def uniform(shapes: Shapes, density: float, dense_layers: Collection[str] = ()) -> dict[str, float]:
    """The same density in every layer not listed in ``dense_layers`` (those get 1.0).

    With dense layers, the shared density is raised so the global density is still met
    (Gale et al. 2019, "The State of Sparsity", keep the first layer dense this way).

    Args:
        shapes: Layer name -> weight shape.
        density: Global fraction of weights kept, in [0, 1].
        dense_layers: Names kept dense.

    Returns:
        Layer name -> density.

    Raises:
        ValueError: If the density is outside [0, 1] or the dense layers exceed the budget.
    """
    budget, dense = _check(shapes, density, dense_layers)
    rest = sum(_numel(s) for name, s in shapes.items() if name not in dense)
    shared = min(budget / rest, 1.0) if rest else 1.0
    return {name: 1.0 if name in dense else shared for name in shapes}


def _raw_erk(shape: Sequence[int], kernel: bool, power_scale: float) -> float:
    dims = [int(s) for s in shape]
    if not kernel and len(dims) >= 2:
        dims = dims[:2]  # PyTorch layout (out, in, *kernel): Erdős–Rényi ignores the kernel
    return (sum(dims) / math.prod(dims)) ** power_scale


def erk(
    shapes: Shapes,
    density: float,
    dense_layers: Collection[str] = (),
    power_scale: float = 1.0,
    kernel: bool = True,
) -> dict[str, float]:
    """Erdős–Rényi(-Kernel) densities: ``density_l = eps * (sum(shape_l) / prod(shape_l)) ** power_scale``.

    Mocanu et al. 2018 (SET, Erdős–Rényi: ``(n_in + n_out) / (n_in * n_out)``) and Evci et al.
    2020 (RigL, Appendix: ERK adds the kernel dimensions). ``eps`` is chosen so the global
    density is met. Repair loop (as in RigL's ``sparse_utils``): while the layer(s) with the
    largest raw score would get a density above 1, make them dense and recompute ``eps``.

    Args:
        shapes: Layer name -> weight shape, PyTorch layout ``(out, in, *kernel)``.
        density: Global fraction of weights kept, in [0, 1].
        dense_layers: Names kept dense from the start.
        power_scale: Exponent on the raw score; 0 gives uniform densities.
        kernel: True for ERK (all dimensions), False for ER (the first two only).

    Returns:
        Layer name -> density in [0, 1].

    Raises:
        ValueError: If the density is outside [0, 1] or the dense layers exceed the budget.
    """
    budget, dense = _check(shapes, density, dense_layers)
    raw = {name: _raw_erk(s, kernel, power_scale) for name, s in shapes.items()}
    while True:
        sparse = [name for name in shapes if name not in dense]
        if not sparse:
            return {name: 1.0 for name in shapes}
        divisor = sum(raw[name] * _numel(shapes[name]) for name in sparse)
        eps = budget / divisor if divisor else 0.0
        largest = max(raw[name] for name in sparse)
        if eps * largest <= 1.0:
            break
        newly_dense = [name for name in sparse if raw[name] == largest]
        dense.update(newly_dense)
        budget -= sum(_numel(shapes[name]) for name in newly_dense)
    return {name: 1.0 if name in dense else eps * raw[name] for name in shapes}


def counts(shapes: Shapes, densities: Mapping[str, float], density: float | None = None) -> dict[str, int]:
    """Integer nonzero counts per layer whose total meets the budget exactly.

    Largest-remainder (Hamilton) rounding of ``densities[l] * numel_l``: floors first, then
    the layers with the largest fractional parts get one more, ties to the earlier layer.
    Each count differs from its exact share by less than one.

    Args:
        shapes: Layer name -> weight shape.
        densities: Layer name -> density (e.g. from :func:`erk`); same keys as ``shapes``.
        density: Optional global density; the total is then ``round(density * total)``,
            else ``round(sum(densities[l] * numel_l))``.

    Returns:
        Layer name -> number of weights to keep.

    Raises:
        ValueError: If keys differ, a density is outside [0, 1], or the total cannot be met.
    """
    if set(shapes) != set(densities):
        raise ValueError(f"shapes and densities name different layers: {sorted(set(shapes) ^ set(densities))}")
    exact = {}
    for name, shape in shapes.items():
        if not 0.0 <= densities[name] <= 1.0:
            raise ValueError(f"density of {name!r} must lie in [0, 1], found {densities[name]}")
        exact[name] = densities[name] * _numel(shape)
    total = sum(_numel(s) for s in shapes.values())
    target = round(density * total) if density is not None else round(sum(exact.values()))
    result = {name: min(math.floor(value), _numel(shapes[name])) for name, value in exact.items()}
    missing = target - sum(result.values())
    by_remainder = sorted(shapes, key=lambda name: -(exact[name] - math.floor(exact[name])))
    for name in by_remainder:
        if missing <= 0:
            break
        if result[name] < _numel(shapes[name]):
            result[name] += 1
            missing -= 1
    if missing != 0:
        raise ValueError(
            f"cannot meet a total of {target} nonzeros with densities summing to {sum(exact.values()):.3f}"
        )
    return result
