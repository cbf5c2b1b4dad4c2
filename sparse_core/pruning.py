"""Pruning criteria: pure functions from weights (or a model) to a :class:`~sparse_core.masks.Mask`.

Nothing here changes a model; apply the result with :func:`sparse_core.masks.apply_mask`.
Masked models are read through their effective weights, so masked entries score zero.
Every count is exact and every tie is broken deterministically: among equal scores the
entry with the lower flat index (row-major) wins. Selections use a partial selection
(``torch.topk``) plus a pass over the ties at the cut, never a full sort
(:func:`largest_indices`, :func:`smallest_indices`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from sparse_core.masks import Mask, default_prunable, effective_parameters

__all__ = [
    "Include",
    "keep_largest",
    "largest_indices",
    "magnitude_global",
    "magnitude_per_layer",
    "n_m",
    "random_mask",
    "smallest_indices",
    "structured",
]

Include = Callable[[str, Tensor], bool]


def _weights(model_or_params: nn.Module | Mapping[str, Tensor]) -> dict[str, Tensor]:
    if isinstance(model_or_params, nn.Module):
        return effective_parameters(model_or_params)
    return {name: tensor.detach() for name, tensor in model_or_params.items()}


def _check_density(density: float, where: str) -> None:
    if not 0.0 <= float(density) <= 1.0:
        raise ValueError(f"density for {where} must lie in [0, 1], found {density}")


def _select(
    weights: Mapping[str, Tensor], density: float | Mapping[str, float] | None, include: Include
) -> dict[str, Tensor]:
    """The tensors to prune: the keys of a density mapping, else those ``include`` accepts."""
    if isinstance(density, Mapping):
        unknown = [name for name in density if name not in weights]
        if unknown:
            raise KeyError(f"densities given for {unknown}, which are not parameters; valid names: {sorted(weights)}")
        return {name: weights[name] for name in density}
    return {name: w for name, w in weights.items() if include(name, w)}


def _counts(selected: Mapping[str, Tensor], density: float | Mapping[str, float]) -> dict[str, int]:
    counts = {}
    for name, tensor in selected.items():
        layer_density = density[name] if isinstance(density, Mapping) else density
        _check_density(layer_density, repr(name))
        counts[name] = round(layer_density * tensor.numel())
    return counts


def _selectable(values: Tensor) -> Tensor:
    """A 1-d view of ``values`` in a dtype ``torch.topk`` orders exactly (bool and half widened)."""
    flat = values.reshape(-1)
    if flat.dtype in (torch.float32, torch.float64) or (not flat.is_floating_point() and flat.dtype != torch.bool):
        return flat
    return flat.to(torch.float64)


def largest_indices(values: Tensor, count: int) -> Tensor:
    """Flat positions of the ``count`` largest entries of ``values``; ties go to the lower position.

    The same set as the first ``count`` entries of a stable descending sort, found with one
    ``torch.topk`` (a partial selection, ``O(n)`` rather than a sort's ``O(n log n)``) and,
    only when equal values straddle the cut, one pass that resolves the ties by position.

    Args:
        values: Scores of any shape (read flattened, row-major); NaN is not allowed.
        count: How many to select, ``0 <= count <= values.numel()``.

    Returns:
        ``count`` int64 positions into ``values.reshape(-1)``, in no particular order.

    Raises:
        ValueError: If ``count`` is out of range.
    """
    return _extreme_indices(_selectable(values), count, largest=True)


def smallest_indices(values: Tensor, count: int) -> Tensor:
    """Flat positions of the ``count`` smallest entries of ``values``; ties go to the higher position.

    Exactly the positions that ``largest_indices(values, values.numel() - count)`` leaves
    out, so dropping them keeps what :func:`keep_largest` would keep. Costs one
    ``torch.topk`` over ``values`` (see :func:`largest_indices`).

    Args:
        values: Scores of any shape (read flattened, row-major); NaN is not allowed.
        count: How many to select, ``0 <= count <= values.numel()``.

    Returns:
        ``count`` int64 positions into ``values.reshape(-1)``, in no particular order.

    Raises:
        ValueError: If ``count`` is out of range.
    """
    return _extreme_indices(_selectable(values), count, largest=False)


def _extreme_indices(flat: Tensor, count: int, largest: bool) -> Tensor:
    total = flat.numel()
    if not 0 <= count <= total:
        raise ValueError(f"cannot select {count} of {total} entries")
    if count == 0:
        return torch.zeros(0, dtype=torch.long, device=flat.device)
    if count == total:
        return torch.arange(total, device=flat.device)
    chosen, positions = torch.topk(flat, count, largest=largest, sorted=False)
    threshold = chosen.min() if largest else chosen.max()
    beyond = flat > threshold if largest else flat < threshold
    ties = flat == threshold
    beyond_count, tie_count = int(beyond.sum()), int(ties.sum())
    if beyond_count + tie_count == count:  # no tie straddles the cut: topk's set is the answer
        return positions
    tied = ties.nonzero().squeeze(1)
    needed = count - beyond_count
    tied = tied[:needed] if largest else tied[tie_count - needed :]
    return torch.cat([beyond.nonzero().squeeze(1), tied])


def _top_flat(scores: Tensor, count: int, eligible: Tensor | None = None) -> Tensor:
    """Flat bool mask keeping the ``count`` largest eligible scores; ties go to lower indices."""
    flat = scores.reshape(-1)
    keep = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    if eligible is None:
        keep[largest_indices(flat, count)] = True
        return keep
    candidates = eligible.reshape(-1).to(flat.device).nonzero().squeeze(1)
    keep[candidates[largest_indices(flat[candidates], count)]] = True
    return keep


def keep_largest(scores: Mapping[str, Tensor], counts: Mapping[str, int], eligible: Mask | None = None) -> Mask:
    """Keeps, per tensor, exactly ``counts[name]`` entries with the largest score.

    The building block of the magnitude criteria, also usable with gradient scores for
    regrowth. Pair it with :func:`sparse_core.distributions.counts` for a global budget met
    exactly.

    Args:
        scores: Name -> score tensor (higher = more worth keeping). NaN is not allowed.
        counts: Name -> number of entries to keep; its keys choose the tensors.
        eligible: Optional mask; only its True entries may be kept.

    Returns:
        A Mask over the keys of ``counts``.

    Raises:
        ValueError: If a count is negative or larger than the eligible entries, or a score is NaN.
    """
    out = {}
    for name, count in counts.items():
        score = scores[name].detach()
        if torch.isnan(score).any():
            raise ValueError(f"scores for {name!r} contain NaN")
        available = score.numel() if eligible is None else int(eligible[name].sum())
        if not 0 <= count <= available:
            raise ValueError(f"cannot keep {count} entries of {name!r}: {available} are eligible")
        allowed = None if eligible is None else eligible[name]
        out[name] = _top_flat(score, count, allowed).reshape(score.shape)
    return Mask(out)


def magnitude_per_layer(
    model_or_params: nn.Module | Mapping[str, Tensor],
    density: float | Mapping[str, float],
    include: Include = default_prunable,
    current: Mask | None = None,
) -> Mask:
    """Keeps the ``round(density * numel)`` largest-magnitude entries of every tensor.

    Args:
        model_or_params: A (possibly masked) model, or name -> weight tensor.
        density: One density for every included tensor, or name -> density (the mapping's
            keys then choose the tensors and ``include`` is not used).
        include: ``include(name, param) -> bool`` choosing tensors when ``density`` is a float.
        current: Optional current mask; pruned entries stay pruned (densities still count
            against the full tensor, so they must not exceed the current density).

    Returns:
        A Mask over the chosen tensors.
    """
    weights = _weights(model_or_params)
    selected = _select(weights, density, include)
    return keep_largest({k: w.abs() for k, w in selected.items()}, _counts(selected, density), current)


def magnitude_global(
    model_or_params: nn.Module | Mapping[str, Tensor], density: float, include: Include = default_prunable
) -> Mask:
    """Keeps the ``round(density * total)`` largest-magnitude entries over all included tensors.

    One threshold for the whole model (e.g. Frankle & Carbin 2019, global pruning). Ties are
    broken by tensor order, then flat index.

    Returns:
        A Mask over the included tensors.
    """
    _check_density(density, "the whole model")
    selected = _select(_weights(model_or_params), density, include)
    if not selected:
        return Mask({})
    flat = torch.cat([w.abs().reshape(-1).to(torch.float64).cpu() for w in selected.values()])
    if torch.isnan(flat).any():
        raise ValueError("weights contain NaN; magnitude pruning needs finite weights")
    keep = _top_flat(flat, round(density * flat.numel()))
    out, start = {}, 0
    for name, w in selected.items():
        out[name] = keep[start : start + w.numel()].reshape(w.shape).to(w.device)
        start += w.numel()
    return Mask(out)


def random_mask(
    model_or_params: nn.Module | Mapping[str, Tensor],
    density: float | Mapping[str, float],
    generator: torch.Generator,
    include: Include = default_prunable,
) -> Mask:
    """Keeps exactly ``round(density * numel)`` entries of every tensor, chosen uniformly at random.

    The random initial topology of SET (Mocanu et al. 2018) and RigL (Evci et al. 2020).

    Args:
        generator: A CPU ``torch.Generator``; the same seed gives the same mask.
    """
    selected = _select(_weights(model_or_params), density, include)
    out = {}
    for name, count in _counts(selected, density).items():
        w = selected[name]
        keep = torch.zeros(w.numel(), dtype=torch.bool)
        keep[torch.randperm(w.numel(), generator=generator)[:count]] = True
        out[name] = keep.reshape(w.shape).to(w.device)
    return Mask(out)


def n_m(
    model_or_params: nn.Module | Mapping[str, Tensor],
    n: int,
    m: int,
    dim: int = -1,
    include: Include = default_prunable,
) -> Mask:
    """N:M semi-structured sparsity: keeps the ``n`` largest ``|w|`` in each group of ``m``.

    Groups are ``m`` consecutive entries along ``dim`` (Mishra et al. 2021, "Accelerating
    Sparse Deep Neural Networks": 2:4 along the input dimension, ``dim=-1`` for Linear).

    Raises:
        ValueError: If ``0 <= n <= m`` fails or the size along ``dim`` is not divisible by ``m``.
    """
    if m < 1 or not 0 <= n <= m:
        raise ValueError(f"N:M sparsity needs m >= 1 and 0 <= n <= m, found n={n}, m={m}")
    out = {}
    for name, w in _select(_weights(model_or_params), None, include).items():
        if w.shape[dim] % m:
            raise ValueError(
                f"{name!r} has size {w.shape[dim]} along dim {dim} (shape {tuple(w.shape)}), not divisible by m={m}"
            )
        moved = w.abs().movedim(dim, -1)
        groups = moved.reshape(*moved.shape[:-1], -1, m).to(torch.float64)
        order = torch.sort(groups, dim=-1, descending=True, stable=True).indices
        keep = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, order[..., :n], True)
        out[name] = keep.reshape(moved.shape).movedim(-1, dim)
    return Mask(out)


def structured(
    model_or_params: nn.Module | Mapping[str, Tensor],
    layer: str,
    fraction_or_count: float | int,
    score: str | Tensor = "l1",
    dim: int = 0,
) -> Mask:
    """Removes whole slices (output neurons / channels for ``dim=0``) with the lowest score.

    As in Li et al. 2017, "Pruning Filters for Efficient ConvNets" (L1 norm of each filter).
    Like ``torch.nn.utils.prune.ln_structured``, a float is the fraction of slices removed
    and an int the number removed.

    Args:
        model_or_params: A (possibly masked) model, or name -> weight tensor.
        layer: Name of the weight, e.g. ``"0.weight"``.
        fraction_or_count: Fraction in [0, 1] (float) or number (int) of slices to remove.
        score: ``"l1"`` or ``"l2"`` norm of each slice, or a tensor of per-slice scores
            (higher = more important).
        dim: The dimension indexing the slices.

    Returns:
        A Mask over ``layer`` only; removed slices are all False.

    Shapes:
        - score (tensor): ``(weight.shape[dim],)``.
    """
    weights = _weights(model_or_params)
    if layer not in weights:
        raise KeyError(f"{layer!r} is not a parameter; valid names: {sorted(weights)}")
    w = weights[layer]
    slices = w.shape[dim]
    if isinstance(fraction_or_count, bool) or not isinstance(fraction_or_count, (int, float)):
        raise TypeError(f"fraction_or_count must be a float fraction or an int count, found {fraction_or_count!r}")
    if isinstance(fraction_or_count, float):
        _check_density(fraction_or_count, f"the removed fraction of {layer!r}")
        removed = round(fraction_or_count * slices)
    else:
        removed = fraction_or_count
    if not 0 <= removed <= slices:
        raise ValueError(f"cannot remove {removed} slices of {layer!r}: it has {slices} along dim {dim}")
    moved = w.movedim(dim, 0).reshape(slices, -1).to(torch.float64)
    if isinstance(score, Tensor):
        if score.shape != (slices,):
            raise ValueError(f"score for {layer!r} must have shape ({slices},), found {tuple(score.shape)}")
        slice_scores = score.detach().to(torch.float64)
    elif score in ("l1", "l2"):
        slice_scores = torch.linalg.vector_norm(moved, ord=1 if score == "l1" else 2, dim=1)
    else:
        raise ValueError(f"score must be 'l1', 'l2' or a tensor, found {score!r}")
    keep_slices = _top_flat(slice_scores.cpu(), slices - removed).to(w.device)
    shape = [1] * w.ndim
    shape[dim] = slices
    return Mask({layer: keep_slices.reshape(shape).expand(w.shape).clone()})
