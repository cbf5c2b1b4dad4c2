"""Hard-concrete (L0) gates over neurons (Louizos, Welling & Kingma, ICLR 2018).

A hard-concrete gate (Louizos et al., "Learning Sparse Neural Networks through L0
Regularization", sec. 2.2) is a random variable in [0, 1] that is exactly 0 or exactly 1
with positive probability, and whose parameter ``log_alpha`` can be trained by the
reparameterisation trick. Multiplying a neuron's output by a gate and penalising the
expected number of non-zero gates (`l0_penalty`) trains the network to remove neurons.

The per-neuron choice among ReLU, identity and off of Liu et al. (NeurIPS 2023), built
from two such gates per neuron, lives in :mod:`sparse_core.activation_gates`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

__all__ = [
    "DEFAULT_STRETCH",
    "DEFAULT_TEMPERATURE",
    "GatedLinear",
    "HardConcreteGate",
    "NeuronGates",
    "along_feature_dim",
    "l0_penalty",
    "reset_linear",
]

DEFAULT_STRETCH = (-0.1, 1.1)
"""Stretch interval (gamma, zeta) of Louizos et al. (2018), sec. 2.2."""
DEFAULT_TEMPERATURE = 2.0 / 3.0
"""Temperature beta of Louizos et al. (2018), sec. 2.2."""
UNIFORM_EPSILON = 1e-6
"""Uniform noise is drawn from [eps, 1 - eps] so that log u and log(1 - u) stay finite."""


def reset_linear(linear: nn.Linear, generator: torch.Generator | None = None) -> nn.Linear:
    """Draws ``linear``'s weights and bias as `torch.nn.Linear` does, from ``generator``.

    Kaiming-uniform weights with ``a = sqrt(5)`` and a bias uniform in
    ``(-1 / sqrt(fan_in), 1 / sqrt(fan_in))``, PyTorch's default initialisation; with a
    generator the draw touches no global random state. Without one, the layer is left as
    it is (already drawn from the global generator by its constructor).

    Returns:
        ``linear``, initialised in place.
    """
    if generator is None:
        return linear
    with torch.no_grad():
        nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5), generator=generator)
        if linear.bias is not None:
            fan_in = linear.weight.shape[1]
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            nn.init.uniform_(linear.bias, -bound, bound, generator=generator)
    return linear


def _check_probability(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")


def along_feature_dim(gate_values: torch.Tensor, x: torch.Tensor, feature_dim: int) -> torch.Tensor:
    """Per-feature gate values reshaped to broadcast against ``x`` along ``feature_dim``.

    Shapes:
        - gate_values: (features,)
        - x: any shape with ``features`` entries along ``feature_dim``
        - output: ``x.dim()`` dimensions, size 1 except ``features`` along ``feature_dim``

    Raises:
        ValueError: If ``x`` has another number of features along ``feature_dim``.
    """
    if x.dim() == 0 or x.shape[feature_dim] != gate_values.numel():
        raise ValueError(
            f"expected an input with {gate_values.numel()} features along dim {feature_dim}, got shape {tuple(x.shape)}"
        )
    shape = [1] * x.dim()
    shape[feature_dim] = -1
    return gate_values.view(shape)


class HardConcreteGate(nn.Module):
    """A vector of hard-concrete gates (Louizos et al. 2018, sec. 2.2).

    In training mode `forward` samples
    ``u ~ U(0, 1)``, ``s = sigmoid((log u - log(1 - u) + log_alpha) / beta)``,
    ``s_bar = s (zeta - gamma) + gamma``, ``z = clamp(s_bar, 0, 1)``; in eval mode it returns
    the paper's deterministic test-time estimate
    ``z = clamp(sigmoid(log_alpha) (zeta - gamma) + gamma, 0, 1)``.

    Args:
        num_gates: Number of independent gates.
        init_keep_probability: Sets ``log_alpha = logit(init_keep_probability)`` for every gate,
            as in the reference initialisation (one minus the initial drop rate).
        temperature: beta, the temperature of the concrete distribution.
        stretch: (gamma, zeta), the interval the concrete variable is stretched to before
            clamping; gamma < 0 and zeta > 1.
        device: Device of ``log_alpha``.
        dtype: Floating dtype of ``log_alpha``.

    Shapes:
        - log_alpha: (num_gates,)
        - output of `forward`: (num_gates,)
    """

    def __init__(
        self,
        num_gates: int,
        init_keep_probability: float = 0.9,
        temperature: float = DEFAULT_TEMPERATURE,
        stretch: tuple[float, float] = DEFAULT_STRETCH,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if num_gates < 1:
            raise ValueError(f"num_gates must be at least 1, got {num_gates}")
        _check_probability("init_keep_probability", init_keep_probability)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        gamma, zeta = stretch
        if not (gamma < 0.0 and zeta > 1.0):
            raise ValueError(f"stretch (gamma, zeta) must have gamma < 0 < 1 < zeta, got {stretch}")
        self.num_gates = num_gates
        self.temperature = float(temperature)
        self.stretch = (float(gamma), float(zeta))
        initial_log_alpha = math.log(init_keep_probability) - math.log1p(-init_keep_probability)
        self.log_alpha = nn.Parameter(torch.full((num_gates,), initial_log_alpha, device=device, dtype=dtype))

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draws one stochastic gate vector, differentiable in ``log_alpha`` (reparameterisation).

        Args:
            generator: Optional random generator on the device of ``log_alpha``.

        Returns:
            Gate values in [0, 1], shape (num_gates,).
        """
        gamma, zeta = self.stretch
        uniform = torch.rand(
            self.num_gates, generator=generator, device=self.log_alpha.device, dtype=self.log_alpha.dtype
        ).clamp_(UNIFORM_EPSILON, 1.0 - UNIFORM_EPSILON)
        logistic_noise = torch.log(uniform) - torch.log1p(-uniform)
        concrete = torch.sigmoid((logistic_noise + self.log_alpha) / self.temperature)
        return (concrete * (zeta - gamma) + gamma).clamp(0.0, 1.0)

    def deterministic(self) -> torch.Tensor:
        """The test-time gate values ``clamp(sigmoid(log_alpha) (zeta - gamma) + gamma, 0, 1)``.

        Returns:
            Gate values in [0, 1], shape (num_gates,).
        """
        gamma, zeta = self.stretch
        return (torch.sigmoid(self.log_alpha) * (zeta - gamma) + gamma).clamp(0.0, 1.0)

    def forward(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Samples gates in training mode; returns the deterministic gates in eval mode.

        Args:
            generator: Optional random generator (training mode only).

        Returns:
            Gate values, shape (num_gates,).
        """
        return self.sample(generator) if self.training else self.deterministic()

    def probability_nonzero(self) -> torch.Tensor:
        """P(z != 0) = sigmoid(log_alpha - beta log(-gamma / zeta)), Louizos et al. eq. 12.

        Returns:
            Differentiable probabilities, shape (num_gates,).
        """
        gamma, zeta = self.stretch
        return torch.sigmoid(self.log_alpha - self.temperature * math.log(-gamma / zeta))

    def expected_l0(self) -> torch.Tensor:
        """The expected number of non-zero gates, the L0 penalty of eq. 12 (a scalar)."""
        return self.probability_nonzero().sum()

    def is_nonzero(self) -> torch.Tensor:
        """Which gates are non-zero at test time, as a bool tensor of shape (num_gates,)."""
        with torch.no_grad():
            return self.deterministic() > 0

    def extra_repr(self) -> str:
        return f"num_gates={self.num_gates}, temperature={self.temperature:.4g}, stretch={self.stretch}"


class NeuronGates(nn.Module):
    """Hard-concrete gates that multiply the activations of a layer's neurons.

    Args:
        num_neurons: Number of neurons (features) to gate.
        feature_dim: Dimension of the input that indexes neurons (-1 for linear layers,
            1 for channels of a convolution).
        **gate_options: Passed on to `HardConcreteGate` (``init_keep_probability``,
            ``temperature``, ``stretch``, ``device``, ``dtype``).

    Shapes:
        - input: any shape with ``num_neurons`` entries along ``feature_dim``
        - output: same as input
    """

    def __init__(self, num_neurons: int, feature_dim: int = -1, **gate_options) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.gate = HardConcreteGate(num_neurons, **gate_options)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return x * along_feature_dim(self.gate(generator), x, self.feature_dim)

    def expected_l0(self) -> torch.Tensor:
        """Expected number of kept neurons (a differentiable scalar)."""
        return self.gate.expected_l0()

    def kept_neurons(self) -> torch.Tensor:
        """Bool tensor of shape (num_neurons,): which neurons survive at test time."""
        return self.gate.is_nonzero()


class GatedLinear(nn.Module):
    """A linear layer whose output neurons are multiplied by hard-concrete gates.

    Args:
        in_features: Input size.
        out_features: Output size, one gate per output neuron.
        bias: Whether the linear layer has a bias.
        generator: Draws the initial weights (`reset_linear`); None = the global generator.
        **gate_options: Passed on to `HardConcreteGate`.

    Shapes:
        - input: (..., in_features)
        - output: (..., out_features)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        generator: torch.Generator | None = None,
        **gate_options,
    ) -> None:
        super().__init__()
        factory = {key: gate_options[key] for key in ("device", "dtype") if key in gate_options}
        self.linear = reset_linear(nn.Linear(in_features, out_features, bias=bias, **factory), generator)
        self.gates = NeuronGates(out_features, feature_dim=-1, **gate_options)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.gates(self.linear(x), generator)


def l0_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of expected L0 norms (Louizos et al. 2018, eq. 12) of the neuron gates of ``model``.

    Every module that reports its own expected L0 norm (an ``expected_l0()`` method:
    `HardConcreteGate`, `NeuronGates`, `sparse_core.activation_gates.ActivationChoice`) is
    counted once, as a whole: the modules inside it are not counted again. So an
    `ActivationChoice` counts its kept neurons (its keep gate; after hardening, the exact
    count), not its ReLU gates, which count ReLUs rather than neurons
    (`sparse_core.activation_gates.relu_budget_penalty` penalises those).

    Args:
        model: A module containing hard-concrete gates.

    Returns:
        A differentiable scalar, the expected number of kept neurons.

    Raises:
        ValueError: If ``model`` holds no gates.
    """
    terms = list(_expected_l0_terms(model, set()))
    if not terms:
        raise ValueError(f"expected hard-concrete neuron gates in the model, found none in {type(model).__name__}")
    return torch.stack(terms).sum()


def _expected_l0_terms(module: nn.Module, seen: set[int]) -> Iterator[torch.Tensor]:
    """The expected L0 norm of each outermost gate-owning module under ``module`` (shared ones once)."""
    if id(module) in seen:
        return
    seen.add(id(module))
    if callable(getattr(module, "expected_l0", None)):
        yield module.expected_l0()
        return
    for child in module.children():
        yield from _expected_l0_terms(child, seen)
