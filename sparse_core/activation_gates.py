"""A per-neuron choice among ReLU, identity and off (Liu et al., NeurIPS 2023, sec. 3.2).

`ActivationChoice` uses two hard-concrete gates (:mod:`sparse_core.gates`) per neuron to
relax the three-way choice of Liu et al., "Model-Based Control with Sparse Neural
Dynamics": a neuron is removed, keeps its ReLU, or has its ReLU replaced by the identity.
Identity neurons need no binary variable in the mixed-integer program built from the
network, so a budget on the expected number of ReLUs (`relu_budget_penalty`, shrinking
along a `ReluBudgetSchedule`) trades accuracy for planning speed. `GatedMLP` is a ReLU
MLP whose hidden units are such choices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from sparse_core.gates import DEFAULT_STRETCH, DEFAULT_TEMPERATURE, HardConcreteGate, along_feature_dim, reset_linear
from sparse_core.schedules import cubic_sparsity

__all__ = [
    "ActivationChoice",
    "GatedMLP",
    "IDENTITY",
    "OFF",
    "RELU",
    "ReluBudgetSchedule",
    "expected_relu_count",
    "relu_budget_penalty",
]

OFF, IDENTITY, RELU = 0, 1, 2
"""Codes returned by `ActivationChoice.choices`."""


class ActivationChoice(nn.Module):
    """A relaxed per-neuron choice among {off, identity, ReLU} (Liu et al., NeurIPS 2023).

    Design: two independent hard-concrete gates per neuron (Louizos et al. 2018), a keep
    gate ``k`` and a ReLU gate ``r``, and ``output = k * (r * relu(x) + (1 - r) * x)``.
    At ``k = 0`` the neuron is off; at ``k = 1`` it is a ReLU for ``r = 1`` and the identity
    for ``r = 0``; in between it is a scaled leaky ReLU with negative slope ``1 - r``. The
    probabilities of the three choices are closed-form (eq. 12 for each gate):
    P(off) = 1 - P(k != 0), P(identity) = P(k != 0) P(r = 0), P(relu) = P(k != 0) P(r != 0),
    so `expected_relu_count` is differentiable without sampling.

    The hard decision (`choices`) is made from the test-time gates: off where the keep
    gate is 0, otherwise ReLU where the ReLU gate is non-zero, otherwise identity. After
    `harden` the forward pass uses these decisions exactly, in both modes:
    off -> 0, identity -> x, relu -> relu(x), so a compact export built from `choices`
    computes the same function. Hardening drops the fractional test-time gate values
    (e.g. a keep gate of 0.98 becomes 1); fine-tune the hardened network if that matters.

    Args:
        num_neurons: Number of neurons.
        init_keep_probability: Initial ``sigmoid(log_alpha)`` of the keep gates.
        init_relu_probability: Initial ``sigmoid(log_alpha)`` of the ReLU gates.
        temperature: Temperature of both gates.
        stretch: Stretch interval of both gates.
        feature_dim: Dimension of the input that indexes neurons.
        device: Device of the gate parameters.
        dtype: Dtype of the gate parameters.

    Shapes:
        - input: any shape with ``num_neurons`` entries along ``feature_dim``
        - output: same as input
    """

    def __init__(
        self,
        num_neurons: int,
        init_keep_probability: float = 0.9,
        init_relu_probability: float = 0.9,
        temperature: float = DEFAULT_TEMPERATURE,
        stretch: tuple[float, float] = DEFAULT_STRETCH,
        feature_dim: int = -1,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        options = dict(temperature=temperature, stretch=stretch, device=device, dtype=dtype)
        self.num_neurons = num_neurons
        self.feature_dim = feature_dim
        self.keep_gate = HardConcreteGate(num_neurons, init_keep_probability, **options)
        self.relu_gate = HardConcreteGate(num_neurons, init_relu_probability, **options)
        self.register_buffer("hard_choices", torch.full((num_neurons,), RELU, dtype=torch.long, device=device))
        self.register_buffer("hardened", torch.zeros((), dtype=torch.bool, device=device))

    @property
    def is_hardened(self) -> bool:
        """Whether `harden` was called (the state survives `state_dict` round trips)."""
        return bool(self.hardened)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.is_hardened:
            choices = along_feature_dim(self.hard_choices, x, self.feature_dim)
            return torch.where(choices == RELU, F.relu(x), torch.where(choices == IDENTITY, x, torch.zeros_like(x)))
        keep = along_feature_dim(self.keep_gate(generator), x, self.feature_dim)
        relu_share = along_feature_dim(self.relu_gate(generator), x, self.feature_dim)
        return keep * (relu_share * F.relu(x) + (1.0 - relu_share) * x)

    def probabilities(self) -> torch.Tensor:
        """Probabilities of (off, identity, relu) per neuron, differentiable.

        Returns:
            Tensor of shape (num_neurons, 3); after `harden`, one-hot rows of the choices.
        """
        if self.is_hardened:
            return F.one_hot(self.hard_choices, 3).to(self.keep_gate.log_alpha.dtype)
        keep = self.keep_gate.probability_nonzero()
        relu = self.relu_gate.probability_nonzero()
        return torch.stack([1.0 - keep, keep * (1.0 - relu), keep * relu], dim=-1)

    def expected_relu_count(self) -> torch.Tensor:
        """Expected number of ReLU neurons, sum of P(k != 0) P(r != 0) (a scalar)."""
        return self.probabilities()[:, RELU].sum()

    def expected_l0(self) -> torch.Tensor:
        """Expected number of kept (not off) neurons (a scalar)."""
        return self.probabilities()[:, OFF].neg().add(1.0).sum()

    def relu_budget_penalty(self, relu_budget: float) -> torch.Tensor:
        """Hinge ``max(0, expected_relu_count - relu_budget)``: zero once the budget is met."""
        return F.relu(self.expected_relu_count() - relu_budget)

    def choices(self) -> torch.Tensor:
        """The hard decision per neuron: 0 = off, 1 = identity, 2 = relu.

        Returns:
            LongTensor of shape (num_neurons,).
        """
        if self.is_hardened:
            return self.hard_choices.clone()
        keep = self.keep_gate.is_nonzero()
        relu = self.relu_gate.is_nonzero()
        code = lambda value: torch.full_like(self.hard_choices, value)  # noqa: E731
        return torch.where(keep, torch.where(relu, code(RELU), code(IDENTITY)), code(OFF))

    @torch.no_grad()
    def harden(self, choices: torch.Tensor | None = None) -> torch.Tensor:
        """Freezes the decisions; afterwards forward computes off -> 0, identity -> x, relu -> relu(x).

        Args:
            choices: Optional decisions to impose (values in {0, 1, 2}); by default `choices()`.

        Returns:
            The hardened choices, shape (num_neurons,).
        """
        decided = self.choices() if choices is None else torch.as_tensor(choices, device=self.hard_choices.device)
        if decided.shape != (self.num_neurons,):
            raise ValueError(f"expected {self.num_neurons} choices, got shape {tuple(decided.shape)}")
        if decided.numel() and (decided.min() < OFF or decided.max() > RELU):
            found = decided.unique().tolist()
            raise ValueError(f"choices must be 0 (off), 1 (identity) or 2 (relu), got values {found}")
        self.hard_choices.copy_(decided.long())
        self.hardened.fill_(True)
        return self.hard_choices.clone()

    def extra_repr(self) -> str:
        return f"num_neurons={self.num_neurons}, feature_dim={self.feature_dim}, hardened={self.is_hardened}"


class GatedMLP(nn.Module):
    """A ReLU MLP whose hidden ReLUs are `ActivationChoice` modules (Liu et al., NeurIPS 2023).

    ``sizes = [in, h1, ..., hL, out]`` builds ``Linear(in, h1) -> ActivationChoice(h1) -> ...
    -> Linear(hL, out)``. With the default initial probabilities the network starts close
    to a plain ReLU MLP.

    Args:
        sizes: Layer widths, at least two.
        init_keep_probability: Initial keep-gate probability, see `ActivationChoice`.
        init_relu_probability: Initial ReLU-gate probability, see `ActivationChoice`.
        temperature: Gate temperature.
        stretch: Gate stretch interval.
        bias: Whether the linear layers have biases.
        device: Device of all parameters.
        dtype: Dtype of all parameters.
        generator: Draws the initial weights of the linear layers (`sparse_core.gates.reset_linear`);
            None = the global generator. The gates start deterministic.

    Shapes:
        - input: (..., sizes[0])
        - output: (..., sizes[-1])
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        init_keep_probability: float = 0.9,
        init_relu_probability: float = 0.9,
        temperature: float = DEFAULT_TEMPERATURE,
        stretch: tuple[float, float] = DEFAULT_STRETCH,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if len(sizes) < 2 or any(int(size) < 1 for size in sizes):
            raise ValueError(f"sizes must hold at least two positive widths, got {list(sizes)}")
        self.sizes = [int(size) for size in sizes]
        self.linears = nn.ModuleList(
            reset_linear(nn.Linear(fan_in, fan_out, bias=bias, device=device, dtype=dtype), generator)
            for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:])
        )
        self.activations = nn.ModuleList(
            ActivationChoice(
                width, init_keep_probability, init_relu_probability, temperature, stretch, device=device, dtype=dtype
            )
            for width in self.sizes[1:-1]
        )

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for linear, activation in zip(self.linears[:-1], self.activations):
            x = activation(linear(x), generator)
        return self.linears[-1](x)

    def layer_choices(self) -> list[torch.Tensor]:
        """Per hidden layer, the LongTensor of choices (0 = off, 1 = identity, 2 = relu)."""
        return [activation.choices() for activation in self.activations]

    def harden(self) -> list[torch.Tensor]:
        """Hardens every hidden layer; returns the per-layer choices."""
        return [activation.harden() for activation in self.activations]


def _activation_choices(model: nn.Module) -> list[ActivationChoice]:
    found = [module for module in model.modules() if isinstance(module, ActivationChoice)]
    if not found:
        raise ValueError(f"expected at least one ActivationChoice in the model, found none in {type(model).__name__}")
    return found


def expected_relu_count(model: nn.Module) -> torch.Tensor:
    """Expected number of ReLU neurons over all `ActivationChoice` modules of ``model``."""
    return torch.stack([choice.expected_relu_count() for choice in _activation_choices(model)]).sum()


def relu_budget_penalty(model: nn.Module, relu_budget: float) -> torch.Tensor:
    """Hinge ``max(0, expected_relu_count(model) - relu_budget)`` over the whole model."""
    return F.relu(expected_relu_count(model) - relu_budget)


@dataclass(frozen=True)
class ReluBudgetSchedule:
    """A ReLU budget shrinking from ``initial_relus`` to ``target_relus`` during training.

    ``cubic`` follows the gradual-pruning ramp of Zhu & Gupta (2017, eq. 1), which removes
    quickly at first and slowly near the end; ``linear`` shrinks at a constant rate.

    Args:
        initial_relus: Budget at and before ``start_step`` (usually all hidden neurons).
        target_relus: Budget at and after ``end_step``.
        end_step: Step at which the target is reached.
        start_step: Step at which shrinking begins.
        shape: "cubic" or "linear".
    """

    initial_relus: float
    target_relus: float
    end_step: int
    start_step: int = 0
    shape: Literal["cubic", "linear"] = "cubic"

    def __post_init__(self) -> None:
        if not 0 <= self.target_relus <= self.initial_relus:
            raise ValueError(
                f"expected 0 <= target_relus <= initial_relus, got {self.target_relus} and {self.initial_relus}"
            )
        if self.end_step <= self.start_step:
            raise ValueError(f"end_step ({self.end_step}) must come after start_step ({self.start_step})")
        if self.shape not in ("cubic", "linear"):
            raise ValueError(f"shape must be 'cubic' or 'linear', got {self.shape!r}")

    def __call__(self, step: int) -> float:
        """The ReLU budget at ``step``."""
        if self.shape == "linear":
            progress = min(max((step - self.start_step) / (self.end_step - self.start_step), 0.0), 1.0)
            return self.initial_relus + (self.target_relus - self.initial_relus) * progress
        removed_fraction = cubic_sparsity(
            step,
            initial_sparsity=0.0,
            final_sparsity=1.0 - self.target_relus / self.initial_relus if self.initial_relus else 0.0,
            start_step=self.start_step,
            end_step=self.end_step,
        )
        return self.initial_relus * (1.0 - removed_fraction)
