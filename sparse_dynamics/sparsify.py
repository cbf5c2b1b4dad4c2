"""Neuron sparsification with a shrinking ReLU budget (Liu et al., NeurIPS 2023, sec. 3.2).

Starting from a trained dense model, every hidden neuron gets an `ActivationChoice`
(two hard-concrete gates: keep, and ReLU-vs-identity; `sparse_core.activation_gates`).
The model and the gates are trained end to end on the prediction loss plus

    weight * sum_g max(0, E[#ReLU in group g] - budget(step))
    + l0_weight * E[#kept neurons] / #neurons

where ``budget(step)`` is a `ReluBudgetSchedule` shrinking from all neurons to the target
(cubic, Zhu & Gupta 2017). Then the choices are fixed (`harden`); if a group still holds
more ReLUs than the target, its ReLUs with the smallest P(ReLU) become identities. The
hardened model is fine-tuned with its choices frozen. A "group" is one MLP: the single
MLP of `MLPDynamics`, or each of the edge and node MLPs of a graph model.

`sparsify_to_budget` is the one recipe (`SparsifyRecipe`) that ``dynamics sparsify`` and
every budget of ``dynamics pareto`` follow.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

from sparse_core.activation_gates import IDENTITY, RELU, ActivationChoice, ReluBudgetSchedule, relu_budget_penalty
from sparse_core.gates import l0_penalty
from sparse_core.infra.errors import ConfigError
from sparse_dynamics.config import BudgetPenalty, SparsifyConfig, SparsifyRecipe
from sparse_dynamics.data import TransitionData
from sparse_dynamics.training import fit, seeded_generator

__all__ = [
    "BudgetPenalty",
    "SparsifyConfig",
    "SparsifyRecipe",
    "enforce_budget",
    "relu_counts",
    "sparsify",
    "sparsify_to_budget",
]

SPARSIFICATION = 2
"""Stream of `sparse_dynamics.training.seeded_generator` that `sparsify_to_budget` draws from."""

logger = logging.getLogger(__name__)


def _choices(group: nn.Module) -> list[ActivationChoice]:
    return [m for m in group.modules() if isinstance(m, ActivationChoice)]


def relu_counts(model: nn.Module) -> list[int]:
    """Hard ReLU count of each budget group of ``model`` (after or before hardening)."""
    return [sum(int((a.choices() == RELU).sum()) for a in _choices(group)) for group in model.budget_groups()]


@torch.no_grad()
def enforce_budget(group: nn.Module, relu_budget: int) -> list[Tensor]:
    """Hardens the choices of ``group``, turning its least likely ReLUs into identities if over budget.

    Returns:
        The hardened choices, one LongTensor per `ActivationChoice`.
    """
    activations = _choices(group)
    choices = [a.choices() for a in activations]
    candidates = [
        (float(a.relu_gate.probability_nonzero()[j]), i, j)
        for i, (a, c) in enumerate(zip(activations, choices))
        for j in torch.nonzero(c == RELU).flatten().tolist()
    ]
    excess = len(candidates) - relu_budget
    if excess > 0:
        logger.info(
            "hard ReLU count %d exceeds the budget %d; converting %d to identity", len(candidates), relu_budget, excess
        )
        for _, i, j in sorted(candidates)[:excess]:
            choices[i][j] = IDENTITY
    return [a.harden(c) for a, c in zip(activations, choices)]


def sparsify(
    gated: nn.Module,
    train: TransitionData,
    config: SparsifyConfig,
    generator: torch.Generator,
    *,
    progress: bool = False,
) -> dict:
    """Trains the gates of ``gated`` to the ReLU budget, hardens and fine-tunes it (in place).

    Args:
        gated: A model with un-hardened `ActivationChoice` units and a ``budget_groups()``
            method (e.g. `MLPDynamics.gated_from(dense)`).
        train: Training episodes.
        config: Budget, schedule and optimisation.
        generator: A CPU generator: draws training windows and the gates' noise.
        progress: Show progress bars.

    Returns:
        ``{"relu_counts": [...], "kept_neurons": [...], "expected_relus_end": [...], "loss": last loss}``.

    Raises:
        ConfigError: If the budget is larger than a group's number of hidden neurons.
    """
    groups = gated.budget_groups()
    sizes = [sum(a.num_neurons for a in _choices(group)) for group in groups]
    for group_index, size in enumerate(sizes):
        if config.relu_budget > size:
            raise ConfigError(
                f"relu budget {config.relu_budget} is larger than the network: MLP {group_index} has only "
                f"{size} hidden neurons; choose a budget of at most {size}",
                field="relu_budget",
            )
    penalty = config.penalty
    end_step = max(1, round(penalty.end_fraction * config.train.steps))
    schedules = [
        ReluBudgetSchedule(size, config.relu_budget, end_step=end_step, shape=penalty.schedule_shape) for size in sizes
    ]
    total_neurons = sum(sizes)

    def regularizer(step: int) -> Tensor:
        budget = sum(relu_budget_penalty(group, schedule(step)) for group, schedule in zip(groups, schedules))
        return penalty.weight * budget + penalty.l0_weight * l0_penalty(gated) / total_neurons

    fit(gated, train, config.train, generator, regularizer=regularizer, progress=progress, description="sparsify")
    with torch.no_grad():
        expected = [float(sum(a.expected_relu_count() for a in _choices(group))) for group in groups]
    for group in groups:
        enforce_budget(group, config.relu_budget)
    history = fit(gated, train, config.finetune, generator, progress=progress, description="fine-tune")
    kept = [sum(int((a.choices() != 0).sum()) for a in _choices(group)) for group in groups]
    return {
        "relu_counts": relu_counts(gated),
        "kept_neurons": kept,
        "expected_relus_end": expected,
        "loss": history[-1] if history else None,
    }


def sparsify_to_budget(
    dense: nn.Module,
    train: TransitionData,
    relu_budget: int,
    recipe: SparsifyRecipe,
    *,
    seed: int,
    rollout_steps: int = 1,
    progress: bool = False,
) -> tuple[nn.Module, dict]:
    """A sparsified copy of ``dense`` with at most ``relu_budget`` ReLUs per MLP, by ``recipe``.

    The one procedure behind ``dynamics sparsify`` and each budget of ``dynamics pareto``:
    the same dense model, training episodes, budget, recipe, rollout loss and seed give
    the same network. ``dense`` is left unchanged.

    Args:
        dense: A trained dense model (`MLPDynamics` or `GraphDynamics`).
        train: Training episodes.
        relu_budget: ReLUs to keep per MLP.
        recipe: Steps, learning rates, batch size and budget penalty.
        seed: Seeds the generator of training windows and gate noise (stream `SPARSIFICATION`).
        rollout_steps: K of the rollout loss in both phases.
        progress: Show progress bars.

    Returns:
        ``(gated, info)``: the hardened, fine-tuned model and `sparsify`'s summary.
    """
    gated = type(dense).gated_from(dense)
    config = recipe.for_budget(relu_budget, rollout_steps)
    info = sparsify(gated, train, config, seeded_generator(seed, SPARSIFICATION), progress=progress)
    return gated, info
