"""Graph dynamics over objects: an interaction network with gated ReLU MLPs (torch-geometric).

After Battaglia et al., "Interaction Networks for Learning about Objects, Relations and
Physics" (NeurIPS 2016), as used for multi-object scenes by Liu et al. (NeurIPS 2023,
sec. 3.1). Nodes are the pusher / objects (or rope segments) of a task's `GraphLayout`;
every ordered pair of distinct nodes is an edge. Per edge ``i <- j`` the edge MLP maps
``[(p_j - p_i) / position_scale, onehot(type_i), onehot(type_j)]`` to a message; messages
are summed per receiver; the node MLP maps ``[sum of messages, onehot(type_i), action if
i is actuated else 0]`` to the node's normalised change of position. The model uses only
relative positions, so it is translation invariant. Both MLPs are `GatedMLP`s and get a
ReLU budget each (`budget_groups`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from sparse_core.activation_gates import RELU, GatedMLP
from sparse_dynamics.tasks.base import GraphLayout

__all__ = ["GraphDynamics", "graph_inputs"]


class _Interaction(MessagePassing):
    """Sums edge-MLP messages per receiving node."""

    def __init__(self, edge_mlp: nn.Module) -> None:
        super().__init__(aggr="add", flow="source_to_target")
        self.edge_mlp = edge_mlp

    def forward(
        self,
        positions: Tensor,
        types: Tensor,
        scale: Tensor,
        edge_index: Tensor,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        return self.propagate(edge_index, positions=positions, types=types, scale=scale, generator=generator)

    def message(
        self,
        positions_i: Tensor,
        positions_j: Tensor,
        types_i: Tensor,
        types_j: Tensor,
        scale: Tensor,
        generator: torch.Generator | None,
    ) -> Tensor:
        return self.edge_mlp(torch.cat([(positions_j - positions_i) / scale, types_i, types_j], dim=-1), generator)


def graph_inputs(layout: GraphLayout) -> tuple[np.ndarray, np.ndarray]:
    """Fully connected edges ``(2, N (N - 1))`` (row 0 = sender j, row 1 = receiver i) and one-hot types ``(N, T)``."""
    senders, receivers = zip(*[(j, i) for i in range(layout.node_count) for j in range(layout.node_count) if i != j])
    return np.array([senders, receivers]), np.eye(layout.type_count)[list(layout.node_types)]


class GraphDynamics(nn.Module):
    """Interaction-network dynamics on a flat state of ``node_count * node_state_dim`` entries.

    Args:
        layout: The task's node structure.
        action_dim: Action size (the action drives ``layout.actuated_node``).
        hidden: Hidden widths of each MLP, e.g. ``(64, 64)``.
        message_dim: Size of edge messages.
        gated: If False, every hidden unit is a fixed ReLU.
        init_keep_probability, init_relu_probability: Initial gate probabilities.
        generator: Draws the initial weights (edge MLP, then node MLP); None = the global generator.

    Shapes:
        - state: ``(B, N * D)``, action: ``(B, A)``; output: ``(B, N * D)``
    """

    def __init__(
        self,
        layout: GraphLayout,
        action_dim: int,
        hidden: Sequence[int],
        *,
        message_dim: int = 16,
        gated: bool = False,
        init_keep_probability: float = 0.95,
        init_relu_probability: float = 0.95,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.layout, self.action_dim, self.hidden, self.message_dim = (
            layout,
            int(action_dim),
            tuple(hidden),
            message_dim,
        )
        dim, types = layout.node_state_dim, layout.type_count
        options = dict(
            init_keep_probability=init_keep_probability,
            init_relu_probability=init_relu_probability,
            generator=generator,
        )
        self.edge_mlp = GatedMLP([dim + 2 * types, *self.hidden, message_dim], **options)
        self.node_mlp = GatedMLP([message_dim + types + self.action_dim, *self.hidden, dim], **options)
        if not gated:
            for mlp in (self.edge_mlp, self.node_mlp):
                for activation in mlp.activations:
                    activation.harden(torch.full((activation.num_neurons,), RELU))
        self.interaction = _Interaction(self.edge_mlp)
        edges, onehot = graph_inputs(layout)
        self.register_buffer("edge_index", torch.as_tensor(edges, dtype=torch.long))
        self.register_buffer("node_types", torch.as_tensor(onehot, dtype=torch.float32))
        actuated = torch.zeros(layout.node_count, 1)
        actuated[layout.actuated_node] = 1.0
        self.register_buffer("actuated", actuated)
        self.register_buffer("position_scale", torch.ones(dim))
        self.register_buffer("action_scale", torch.ones(self.action_dim))
        self.register_buffer("delta_mean", torch.zeros(dim))
        self.register_buffer("delta_scale", torch.ones(dim))

    @torch.no_grad()
    def set_normalization(self, states: Tensor, actions: Tensor, next_states: Tensor) -> None:
        """Scales from training transitions ``(M, N D), (M, A), (M, N D)`` (pooled over nodes)."""
        dim = self.layout.node_state_dim
        nodes = states.reshape(len(states), -1, dim)
        relative = nodes[:, :, None] - nodes[:, None]
        self.position_scale.copy_(relative.reshape(-1, dim).std(0).clamp_min(1e-6))
        self.action_scale.copy_(actions.std(0).clamp_min(1e-6))
        deltas = (next_states - states).reshape(-1, dim)
        self.delta_mean.copy_(deltas.mean(0))
        self.delta_scale.copy_(deltas.std(0).clamp_min(1e-6))

    def forward(self, state: Tensor, action: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The next state; ``generator`` draws the noise of un-hardened gates in training mode."""
        batch, nodes, dim = state.shape[0], self.layout.node_count, self.layout.node_state_dim
        positions = state.reshape(batch * nodes, dim)
        offsets = (torch.arange(batch, device=state.device) * nodes).repeat_interleave(self.edge_index.shape[1])
        edge_index = self.edge_index.repeat(1, batch) + offsets
        types = self.node_types.to(state.dtype).repeat(batch, 1)
        messages = self.interaction(positions, types, self.position_scale, edge_index, generator)
        drive = (action / self.action_scale)[:, None, :] * self.actuated.to(state.dtype)
        node_input = torch.cat([messages, types, drive.reshape(batch * nodes, -1)], dim=-1)
        delta = self.node_mlp(node_input, generator) * self.delta_scale + self.delta_mean
        return state + delta.reshape(batch, nodes * dim)

    def budget_groups(self) -> list[nn.Module]:
        """The edge MLP and the node MLP, each with its own ReLU budget."""
        return [self.edge_mlp, self.node_mlp]

    @classmethod
    def gated_from(cls, dense: GraphDynamics, **gate_options) -> GraphDynamics:
        """A gated copy of ``dense`` with the same weights and normalisation."""
        gated = cls(
            dense.layout, dense.action_dim, dense.hidden, message_dim=dense.message_dim, gated=True, **gate_options
        )
        gated.edge_mlp.linears.load_state_dict(dense.edge_mlp.linears.state_dict())
        gated.node_mlp.linears.load_state_dict(dense.node_mlp.linears.state_dict())
        for name in ("position_scale", "action_scale", "delta_mean", "delta_scale"):
            getattr(gated, name).copy_(getattr(dense, name))
        return gated.to(dense.delta_scale.device)

    def architecture(self) -> dict:
        return {
            "kind": "graph",
            "action_dim": self.action_dim,
            "hidden": list(self.hidden),
            "message_dim": self.message_dim,
            "layout": {
                "node_count": self.layout.node_count,
                "node_state_dim": self.layout.node_state_dim,
                "node_types": list(self.layout.node_types),
                "type_count": self.layout.type_count,
                "actuated_node": self.layout.actuated_node,
            },
        }
