"""Iterative magnitude pruning (IMP) with weight rewinding: finding lottery tickets.

Frankle & Carbin (2019), "The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural
Networks" (ICLR), sec. 1 "Identifying winning tickets": train, prune a fraction ``p`` of the
remaining weights by magnitude, reset the survivors to their initial values, repeat.
Frankle, Dziugaite, Roy & Carbin (2020), "Linear Mode Connectivity and the Lottery Ticket
Hypothesis" (ICML), sec. 5: rewinding to the weights of an early training step ``k``
instead of to initialisation finds tickets in deeper networks. Pass the state at step
``k`` as ``rewind_state``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from sparse_core.masks import (
    Mask,
    apply_mask,
    default_prunable,
    effective_parameters,
    masked_parameters,
    zero_masked_,
)
from sparse_core.pruning import Include, keep_largest, magnitude_per_layer

__all__ = ["RoundResult", "imp", "imp_densities", "prune_survivors", "rewind"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundResult:
    """What one IMP round produced.

    Args:
        round_index: 0 for the dense run, ``r`` after ``r`` pruning steps.
        density: Fraction of prunable weights kept while training this round.
        nonzeros: Number of prunable weights kept.
        metrics: Whatever ``train_fn`` returned.
    """

    round_index: int
    density: float
    nonzeros: int
    metrics: Any


def imp_densities(
    rounds: int, prune_fraction_per_round: float | None = None, final_density: float | None = None
) -> list[float]:
    """The densities of IMP's rounds: ``(1 - p) ** r`` for ``r = 0..rounds``.

    Give exactly one of ``prune_fraction_per_round`` (``p``) and ``final_density`` (then
    ``p = 1 - final_density ** (1 / rounds)``).

    Returns:
        ``rounds + 1`` densities, starting at 1.0.
    """
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    if (prune_fraction_per_round is None) == (final_density is None):
        raise ValueError(
            "give exactly one of prune_fraction_per_round and final_density, "
            f"got {prune_fraction_per_round!r} and {final_density!r}"
        )
    if final_density is not None:
        if not 0.0 < final_density <= 1.0:
            raise ValueError(f"final_density must lie in (0, 1], got {final_density}")
        return [final_density ** (r / rounds) if rounds else 1.0 for r in range(rounds + 1)]
    if not 0.0 <= prune_fraction_per_round < 1.0:
        raise ValueError(f"prune_fraction_per_round must lie in [0, 1), got {prune_fraction_per_round}")
    return [(1.0 - prune_fraction_per_round) ** r for r in range(rounds + 1)]


_PARAMETRIZED_ORIGINAL = re.compile(r"^(?:(?P<module>.+)\.)?parametrizations\.(?P<attr>[^.]+)\.original$")
_PARAMETRIZATION_BUFFER = re.compile(r"(?:^|\.)parametrizations\.[^.]+\.\d+\.")


def _plain_state(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A state dict with unmasked names: masked originals renamed, mask buffers left out."""
    plain = {}
    for key, value in state_dict.items():
        match = _PARAMETRIZED_ORIGINAL.match(key)
        if match:
            plain[f"{match['module']}.{match['attr']}" if match["module"] else match["attr"]] = value
        elif not _PARAMETRIZATION_BUFFER.search(key):
            plain[key] = value
    return plain


def _state_key(name: str, masked_names: set[str]) -> str:
    """State-dict key of an unmasked parameter name in a (possibly) masked model."""
    if name not in masked_names:
        return name
    module_path, _, attr = name.rpartition(".")
    prefix = f"{module_path}." if module_path else ""
    return f"{prefix}parametrizations.{attr}.original"


def rewind(model: nn.Module, state_dict: Mapping[str, Tensor], mask: Mask) -> nn.Module:
    """Loads ``state_dict`` into ``model`` and applies ``mask``: the survivors get their saved values.

    Args:
        model: A masked or unmasked model of the architecture that produced ``state_dict``.
        state_dict: The state to rewind to, from the unmasked model (``"0.weight"``) or a
            masked one (``"0.parametrizations.weight.original"``; its mask buffers are
            ignored, ``mask`` decides); buffers such as BatchNorm statistics included.
        mask: The mask to train with; pruned entries become exactly zero.

    Returns:
        ``model``, rewound and masked.

    Raises:
        ValueError: If ``state_dict`` has keys the model lacks, or lacks some of its entries.
    """
    # Mask first, then load: applying a larger mask after loading would zero the rewound
    # values of the weights it grows back (masks zero every weight not active before and after).
    apply_mask(model, mask)
    masked_names = set(masked_parameters(model))
    translated = {_state_key(name, masked_names): value for name, value in _plain_state(state_dict).items()}
    result = model.load_state_dict(translated, strict=False)
    missing = [key for key in result.missing_keys if not _PARAMETRIZATION_BUFFER.search(key)]
    if result.unexpected_keys or missing:
        raise ValueError(
            f"rewind state does not fit the model: unexpected keys {result.unexpected_keys}, missing keys {missing}"
        )
    return zero_masked_(model)


def prune_survivors(model: nn.Module, density: float, current: Mask, scope: str = "global") -> Mask:
    """IMP's pruning step: keeps the ``round(density * numel)`` largest effective weights among ``current``.

    Pruned weights stay pruned (Frankle & Carbin 2019, sec. 1); ties go to the lower flat index.

    Args:
        model: A masked or unmasked model; its effective weights are ranked by magnitude.
        density: Fraction of the prunable weights to keep, counted against the full tensors
            (at most ``current``'s density).
        current: The mask so far; its names choose the tensors.
        scope: "global" (one threshold over all tensors of ``current``) or "per_layer".

    Returns:
        The new mask, a subset of ``current``.
    """
    if scope == "per_layer":
        return magnitude_per_layer(model, {name: density for name in current}, current=current)
    weights = effective_parameters(model)
    names = list(current)
    flat_scores = torch.cat([weights[name].abs().reshape(-1).cpu() for name in names])
    flat_current = Mask({"all": torch.cat([current[name].reshape(-1).cpu() for name in names])})
    keep = keep_largest({"all": flat_scores}, {"all": round(density * flat_scores.numel())}, flat_current)["all"]
    pieces = torch.split(keep, [current[name].numel() for name in names])
    return Mask(
        {name: piece.reshape(current[name].shape).to(current[name].device) for name, piece in zip(names, pieces)}
    )


def imp(
    make_model: Callable[[], nn.Module],
    train_fn: Callable[[nn.Module], Any],
    rounds: int,
    *,
    prune_fraction_per_round: float | None = None,
    final_density: float | None = None,
    rewind_state: Mapping[str, Tensor] | None = None,
    scope: Literal["global", "per_layer"] = "global",
    include: Include = default_prunable,
    progress: bool = False,
) -> tuple[Mask, list[RoundResult]]:
    """Iterative magnitude pruning with rewinding (Frankle & Carbin 2019; Frankle et al. 2020).

    Round 0 trains the dense model; round ``r`` trains the model rewound to
    ``rewind_state`` under a mask of density ``(1 - p) ** r``, obtained by pruning the
    smallest-magnitude survivors of round ``r - 1`` (pruned weights stay pruned). The
    number of kept weights is ``round(density * total)`` exactly, over all prunable
    weights (``scope="global"``) or in every tensor (``scope="per_layer"``).

    Args:
        make_model: Builds a fresh, unmasked model (called once per round).
        train_fn: ``train_fn(model) -> metrics``: trains the masked model in place, with its
            own optimizer, and returns anything worth keeping.
        rounds: Number of pruning rounds (``rounds + 1`` trainings).
        prune_fraction_per_round: ``p``, the fraction of surviving weights removed per round.
        final_density: Alternatively, the density after the last round.
        rewind_state: State to rewind to, e.g. ``model.state_dict()`` after ``k`` steps of
            training; by default the initial state of the first model built.
        scope: "global" (one threshold for all tensors) or "per_layer".
        include: ``include(name, param) -> bool``: the prunable parameters.
        progress: Show a progress bar over rounds.

    Returns:
        The mask of the last round and one `RoundResult` per round.
    """
    if scope not in ("global", "per_layer"):
        raise ValueError(f"scope must be 'global' or 'per_layer', got {scope!r}")
    densities = imp_densities(rounds, prune_fraction_per_round, final_density)
    model = make_model()
    if rewind_state is None:
        rewind_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    mask = Mask.ones_like(model, include)
    if not len(mask):
        raise ValueError("no prunable parameters: `include` selected none of the model's parameters")
    results: list[RoundResult] = []
    for round_index, density in enumerate(tqdm(densities, desc="IMP rounds", disable=not progress)):
        if round_index > 0:
            mask = prune_survivors(model, density, mask, scope)
            model = make_model()
        rewind(model, rewind_state, mask)
        metrics = train_fn(model)
        results.append(RoundResult(round_index, mask.density(), mask.nonzeros(), metrics))
        logger.info(
            "IMP round %d: density %.4f (%d weights), metrics %s", round_index, mask.density(), mask.nonzeros(), metrics
        )
    return mask, results
