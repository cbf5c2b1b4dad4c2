"""Sparse Model Soups: averaging runs that share one sparsity mask.

Zimmer, Spiegel & Pokutta (2024), "Sparse Model Soups: A Recipe for Improved Pruning via
Model Averaging" (ICLR), sec. 3: models retrained from the same pruned network with
different seeds or hyperparameters share its mask, so their uniform average (a "soup",
Wortsman et al. 2022) has the same sparsity. Averaging models with different masks would
densify the result; that is refused here.

`soup` averages once; `sparse_model_soups` is the paper's recipe (sec. 3, Algorithm 1):
every prune-retrain cycle of iterative magnitude pruning retrains ``m`` copies of the
current averaged model under the cycle's mask, averages them, and prunes that average for
the next cycle.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from sparse_core.lottery import imp_densities, prune_survivors
from sparse_core.masks import Mask, apply_mask, default_prunable, masked_parameters, zero_masked_
from sparse_core.pruning import Include

__all__ = ["CycleResult", "average_state_dicts", "soup", "sparse_model_soups"]

logger = logging.getLogger(__name__)


def _weight_key(name: str, state_dict: Mapping[str, Tensor]) -> str:
    """The key holding parameter ``name`` in a plain or a parametrized (masked) state dict."""
    if name in state_dict:
        return name
    module_path, _, attr = name.rpartition(".")
    key = f"{module_path}.parametrizations.{attr}.original" if module_path else f"parametrizations.{attr}.original"
    if key not in state_dict:
        raise KeyError(f"mask entry {name!r} has no weight in the state dicts (looked for {name!r} and {key!r})")
    return key


def _check_same_layout(state_dicts: Sequence[Mapping[str, Tensor]]) -> None:
    first = state_dicts[0]
    for index, state in enumerate(state_dicts[1:], start=1):
        if state.keys() != first.keys():
            differing = sorted(set(state) ^ set(first))
            raise ValueError(f"state dict {index} has different entries from state dict 0: {differing}")
        for key, value in state.items():
            if value.shape != first[key].shape or value.dtype != first[key].dtype:
                raise ValueError(
                    f"entry {key!r} is {value.dtype} {tuple(value.shape)} in state dict {index} "
                    f"but {first[key].dtype} {tuple(first[key].shape)} in state dict 0"
                )


def average_state_dicts(state_dicts: Sequence[Mapping[str, Tensor]], mask: Mask | None = None) -> dict[str, Tensor]:
    """The uniform average of state dicts of runs that share one mask (Zimmer et al. 2024, eq. 1).

    Floating-point entries are averaged (accumulated in float64). Bool entries, such as the
    mask buffers of masked models, must be equal in every state dict; other integer entries
    (e.g. BatchNorm's ``num_batches_tracked``) are taken from the first.

    Args:
        state_dicts: One state dict per run, all of the same architecture.
        mask: Optional shared mask (unmasked parameter names). Each run must be zero outside
            it (plain state dicts) or carry the same mask buffers (masked ones); the average
            is then exactly zero outside it.

    Returns:
        A new state dict with the averaged values.

    Raises:
        ValueError: If the state dicts differ in entries, shapes, dtypes or masks, or a run
            has non-zero weights outside ``mask``.
    """
    if not state_dicts:
        raise ValueError("average_state_dicts needs at least one state dict, got none")
    _check_same_layout(state_dicts)
    averaged: dict[str, Tensor] = {}
    for key, first in state_dicts[0].items():
        values = [state[key] for state in state_dicts]
        if first.is_floating_point() or first.is_complex():
            wide = torch.complex128 if first.is_complex() else torch.float64
            averaged[key] = torch.stack([value.detach().to(wide) for value in values]).mean(dim=0).to(first.dtype)
            continue
        if first.dtype == torch.bool:
            for index, value in enumerate(values[1:], start=1):
                if not torch.equal(value, first):
                    raise ValueError(
                        f"the runs do not share one mask: {key!r} differs between state dict 0 and state dict "
                        f"{index} in {int((value != first).sum())} entries; a soup needs runs with the same mask"
                    )
        averaged[key] = first.clone()
    if mask is not None:
        _apply_shared_mask(averaged, state_dicts, mask)
    return averaged


def _apply_shared_mask(averaged: dict[str, Tensor], state_dicts: Sequence[Mapping[str, Tensor]], mask: Mask) -> None:
    for name, keep in mask.items():
        key = _weight_key(name, averaged)
        if key == name:  # a plain state dict: each run must be zero outside the mask
            for index, state in enumerate(state_dicts):
                outside = int((state[key][~keep.to(state[key].device)] != 0).sum())
                if outside:
                    raise ValueError(
                        f"state dict {index} has {outside} non-zero weights of {name!r} outside the mask; "
                        "the runs were not trained with this mask"
                    )
        else:  # a masked state dict: its mask buffer must be the given mask
            prefix = key[: -len("original")]
            buffer_key = next((k for k in averaged if k.startswith(prefix) and k.endswith(".mask")), None)
            if buffer_key is not None and not torch.equal(averaged[buffer_key], keep.to(averaged[buffer_key].device)):
                raise ValueError(f"the runs' mask for {name!r} differs from the given mask")
        averaged[key] = averaged[key].masked_fill(~keep.to(averaged[key].device), 0)


def soup(models: Sequence[nn.Module], mask: Mask | None = None) -> nn.Module:
    """Averages models that share one mask into a new model with that mask (a sparse soup).

    Args:
        models: Runs of one architecture, masked through `sparse_core.masks.apply_mask`, or
            plain models that are zero outside ``mask``.
        mask: The shared mask; by default the mask of the (masked) models.

    Returns:
        A new model (a deep copy of ``models[0]`` holding the average) masked by the shared
        mask: masked positions are exactly zero.

    Raises:
        ValueError: If the models' masks differ from each other or from ``mask``.
    """
    if not models:
        raise ValueError("soup needs at least one model, got none")
    masks = [Mask.from_model(model) for model in models]
    for index, model_mask in enumerate(masks[1:], start=1):
        if model_mask != masks[0]:
            difference = _describe_difference(masks[0], model_mask)
            raise ValueError(f"model {index} has a different mask from model 0: {difference}")
    if mask is not None and len(masks[0]) and masks[0] != mask:
        raise ValueError(f"the models' mask differs from the given mask: {_describe_difference(mask, masks[0])}")
    shared = mask if mask is not None else masks[0]
    result = copy.deepcopy(models[0])
    result.load_state_dict(average_state_dicts([model.state_dict() for model in models], shared))
    if len(shared) and not masked_parameters(result):
        apply_mask(result, shared)
    zero_masked_(result)
    logger.info("souped %d models, density %.4f", len(models), shared.density() if len(shared) else 1.0)
    return result


def _describe_difference(expected: Mask, found: Mask) -> str:
    if expected.keys() != found.keys():
        return f"masked tensors {sorted(expected)} vs {sorted(found)}"
    for name in expected:
        if not torch.equal(expected[name].cpu(), found[name].cpu()):
            return f"{name!r} differs in {int((expected[name].cpu() != found[name].cpu()).sum())} entries"
    return "no difference"


@dataclass(frozen=True)
class CycleResult:
    """What one prune-retrain cycle of `sparse_model_soups` produced.

    Args:
        cycle_index: 1 for the first pruning of the pretrained model, ``t`` for the ``t``-th.
        density: Fraction of prunable weights kept in this cycle.
        nonzeros: Number of prunable weights kept.
        member_metrics: What ``train_fn`` returned for each of the ``soup_size`` retrains.
        soup_metrics: What ``evaluate`` returned for the cycle's average (None without ``evaluate``).
    """

    cycle_index: int
    density: float
    nonzeros: int
    member_metrics: list[Any]
    soup_metrics: Any = None


def sparse_model_soups(
    model: nn.Module,
    train_fn: Callable[[nn.Module, int, int], Any],
    cycles: int,
    soup_size: int,
    *,
    prune_fraction_per_cycle: float | None = None,
    final_density: float | None = None,
    scope: Literal["global", "per_layer"] = "global",
    include: Include = default_prunable,
    evaluate: Callable[[nn.Module], Any] | None = None,
    progress: bool = False,
) -> tuple[nn.Module, list[CycleResult]]:
    """Sparse Model Soups (Zimmer, Spiegel & Pokutta 2024, sec. 3, Algorithm 1).

    Starting from the pretrained ``model``, cycle ``t = 1..cycles`` prunes the current
    model by magnitude to density ``d_t`` (the schedule of `sparse_core.lottery.imp`, pruned
    weights staying pruned), retrains ``soup_size`` copies of it under that mask (each with
    its own data order, seed or hyperparameters, as ``train_fn`` decides; no rewinding) and
    replaces the current model by their uniform average (`soup`), which shares the mask.
    The average of the last cycle is returned. Buffers such as BatchNorm statistics are
    averaged too (the paper recomputes them on training data; do that afterwards if the
    model has any).

    Args:
        model: The pretrained model, dense (unmasked) or already masked; it is not changed.
        train_fn: ``train_fn(member_model, cycle_index, member_index) -> metrics``: trains the
            masked copy in place (its own optimizer; the mask must not change).
        cycles: Number of prune-retrain cycles (IMP's rounds after the dense one).
        soup_size: ``m``, retrains averaged per cycle (the paper: 3 to 5).
        prune_fraction_per_cycle: ``p``, fraction of the surviving weights pruned per cycle.
        final_density: Alternatively, the density after the last cycle.
        scope: "global" (one magnitude threshold over all tensors) or "per_layer".
        include: ``include(name, param) -> bool``: the prunable parameters of a dense ``model``.
        evaluate: Optional ``evaluate(average) -> metrics``, called on every cycle's average.
        progress: Show a progress bar over cycles.

    Returns:
        The final average (a new model, masked at the final density: exactly
        ``round(final_density * total)`` kept weights with ``scope="global"``) and one
        `CycleResult` per cycle.

    Raises:
        ValueError: If ``cycles`` or ``soup_size`` is below 1, both or neither of
            ``prune_fraction_per_cycle`` and ``final_density`` are given, ``scope`` is
            unknown, nothing is prunable, or a retrain changed its mask.
    """
    if cycles < 1 or soup_size < 1:
        raise ValueError(f"sparse_model_soups needs cycles >= 1 and soup_size >= 1, got {cycles} and {soup_size}")
    if scope not in ("global", "per_layer"):
        raise ValueError(f"scope must be 'global' or 'per_layer', got {scope!r}")
    densities = imp_densities(cycles, prune_fraction_per_cycle, final_density)[1:]
    average = copy.deepcopy(model)
    mask = Mask.from_model(average) if masked_parameters(average) else Mask.ones_like(average, include)
    if not len(mask):
        raise ValueError("no prunable parameters: `include` selected none of the model's parameters")
    results: list[CycleResult] = []
    for cycle_index, density in enumerate(tqdm(densities, desc="SMS cycles", disable=not progress), start=1):
        mask = prune_survivors(average, density, mask, scope)
        start = apply_mask(average, mask)  # the pruned average: every member starts here
        members, member_metrics = [], []
        for member_index in range(soup_size):
            member = copy.deepcopy(start)
            member_metrics.append(train_fn(member, cycle_index, member_index))
            members.append(member)
        average = soup(members, mask)
        soup_metrics = evaluate(average) if evaluate is not None else None
        results.append(CycleResult(cycle_index, mask.density(), mask.nonzeros(), member_metrics, soup_metrics))
        logger.info(
            "SMS cycle %d: density %.4f (%d weights), soup of %d, metrics %s",
            cycle_index,
            mask.density(),
            mask.nonzeros(),
            soup_size,
            soup_metrics,
        )
    return average, results
