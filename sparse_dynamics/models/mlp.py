"""Residual ReLU MLP dynamics: ``x_{t+1} = x_t + f([x_t, u_t])``.

``f`` is a `sparse_core.activation_gates.GatedMLP` whose hidden units are per-neuron choices among
ReLU, identity and removed (Liu et al., NeurIPS 2023, sec. 3.2). A *dense* model has
every choice hardened to ReLU, i.e. it is a plain ReLU MLP; a *gated* model starts from
a dense one's weights and learns its choices (`sparse_dynamics.sparsify`). Inputs and
outputs are normalised with fixed statistics of the training data, stored as buffers
and folded into the first and last linear maps on export (`sparse_dynamics.folding`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from sparse_core.activation_gates import RELU, ActivationChoice, GatedMLP

__all__ = ["MLPDynamics"]


class MLPDynamics(nn.Module):
    """Residual MLP dynamics over a flat state.

    Args:
        state_dim: State size S.
        action_dim: Action size A.
        hidden: Hidden widths, e.g. ``(128, 128)``.
        gated: If False, every hidden unit is a fixed ReLU (a plain MLP).
        init_keep_probability: Initial keep-gate probability (gated models).
        init_relu_probability: Initial ReLU-gate probability (gated models).
        generator: Draws the initial weights; None = the global generator.

    Shapes:
        - state: ``(..., S)``, action: ``(..., A)``
        - output: ``(..., S)``, the next state
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        hidden: Sequence[int],
        *,
        gated: bool = False,
        init_keep_probability: float = 0.95,
        init_relu_probability: float = 0.95,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.state_dim, self.action_dim, self.hidden = int(state_dim), int(action_dim), tuple(int(h) for h in hidden)
        self.net = GatedMLP(
            [self.state_dim + self.action_dim, *self.hidden, self.state_dim],
            init_keep_probability=init_keep_probability,
            init_relu_probability=init_relu_probability,
            generator=generator,
        )
        if not gated:
            for activation in self.net.activations:
                activation.harden(torch.full((activation.num_neurons,), RELU))
        self.register_buffer("input_mean", torch.zeros(self.state_dim + self.action_dim))
        self.register_buffer("input_scale", torch.ones(self.state_dim + self.action_dim))
        self.register_buffer("delta_mean", torch.zeros(self.state_dim))
        self.register_buffer("delta_scale", torch.ones(self.state_dim))

    @torch.no_grad()
    def set_normalization(self, states: Tensor, actions: Tensor, next_states: Tensor) -> None:
        """Sets input and output statistics from training transitions ``(N, S), (N, A), (N, S)``."""
        inputs = torch.cat([states, actions], dim=-1)
        deltas = next_states - states
        self.input_mean.copy_(inputs.mean(0))
        self.input_scale.copy_(inputs.std(0).clamp_min(1e-6))
        self.delta_mean.copy_(deltas.mean(0))
        self.delta_scale.copy_(deltas.std(0).clamp_min(1e-6))

    def delta(self, state: Tensor, action: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The predicted change of state ``f([x, u])`` (``generator``: noise of un-hardened gates in training mode)."""
        normalized = (torch.cat([state, action], dim=-1) - self.input_mean) / self.input_scale
        return self.net(normalized, generator) * self.delta_scale + self.delta_mean

    def forward(self, state: Tensor, action: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return state + self.delta(state, action, generator)

    @property
    def activations(self) -> list[ActivationChoice]:
        return list(self.net.activations)

    def budget_groups(self) -> list[nn.Module]:
        """Modules that each get their own ReLU budget (here: the one MLP)."""
        return [self.net]

    @classmethod
    def gated_from(cls, dense: MLPDynamics, **gate_options) -> MLPDynamics:
        """A gated copy of ``dense``: same weights and normalisation, learnable choices."""
        gated = cls(dense.state_dim, dense.action_dim, dense.hidden, gated=True, **gate_options)
        gated.net.linears.load_state_dict(dense.net.linears.state_dict())
        for name in ("input_mean", "input_scale", "delta_mean", "delta_scale"):
            getattr(gated, name).copy_(getattr(dense, name))
        return gated.to(dense.input_mean.device)

    def architecture(self) -> dict:
        """Constructor arguments, to rebuild the model from a saved state dict."""
        return {"kind": "mlp", "state_dim": self.state_dim, "action_dim": self.action_dim, "hidden": list(self.hidden)}
