"""Exporting a hardened dynamics model as compact ReLU networks (`sparse_dynamics.compact`).

An `MLPDynamics` becomes one `CompactNetwork` computing the state change from
``[state, action]`` (normalisation folded in, ``metadata["residual"] = True``). A
`GraphDynamics` becomes two: the edge MLP (input ``[p_j - p_i, onehot(type_i),
onehot(type_j)]``, position scale folded in) and the node MLP (input ``[sum of
messages, onehot(type_i), action or 0]``, action scale and output scale folded in),
plus the graph structure in their metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from sparse_dynamics.compact import CompactNetwork, graph_step
from sparse_dynamics.data import TransitionData
from sparse_dynamics.folding import fold_gated_mlp
from sparse_dynamics.training import evaluation_step

__all__ = ["compact_difference", "export_model", "save_export"]


def export_model(model: nn.Module, *, state_names=None, action_names=None) -> dict[str, CompactNetwork]:
    """Compact networks of a hardened model: ``{"dynamics": ...}`` or ``{"edge": ..., "node": ...}``."""
    architecture = model.architecture()
    if architecture["kind"] == "mlp":
        metadata = {
            "model": "mlp_dynamics",
            "residual": True,
            "state_dim": model.state_dim,
            "action_dim": model.action_dim,
            "input_names": [*(state_names or []), *(action_names or [])],
            "output_names": [f"d_{n}" for n in (state_names or [])],
            "equation": "next_state = state + network(concat(state, action))",
        }
        return {
            "dynamics": fold_gated_mlp(
                model.net,
                input_mean=model.input_mean,
                input_scale=model.input_scale,
                output_scale=model.delta_scale,
                output_mean=model.delta_mean,
                metadata=metadata,
            )
        }
    types = model.layout.type_count
    graph = {
        "model": "graph_dynamics",
        **architecture,
        "equation": "delta_i = node([sum_{j != i} edge([p_j - p_i, onehot(type_i), onehot(type_j)]), "
        "onehot(type_i), action * (i == actuated_node)]); next p_i = p_i + delta_i",
    }
    ones = lambda n: torch.ones(n, dtype=model.delta_scale.dtype)  # noqa: E731
    edge_scale = torch.cat([model.position_scale, ones(2 * types)])
    node_scale = torch.cat([ones(model.message_dim + types), model.action_scale])
    return {
        "edge": fold_gated_mlp(model.edge_mlp, input_scale=edge_scale, metadata={**graph, "part": "edge"}),
        "node": fold_gated_mlp(
            model.node_mlp,
            input_scale=node_scale,
            output_scale=model.delta_scale,
            output_mean=model.delta_mean,
            metadata={**graph, "part": "node"},
        ),
    }


def save_export(networks: dict[str, CompactNetwork], folder: Path | str) -> dict[str, str]:
    """Writes ``<folder>/compact_<part>.npz/.json`` for each network; returns part -> npz path."""
    folder = Path(folder)
    return {part: str(network.save(folder / f"compact_{part}.npz")) for part, network in networks.items()}


def compact_difference(model: nn.Module, networks: dict[str, CompactNetwork], data: TransitionData) -> float:
    """Largest |exported - gated| next-state difference over the first 512 states of ``data`` (float64)."""
    states = data.states[:, :-1].reshape(-1, data.states.shape[-1])[:512]
    actions = data.actions.reshape(-1, data.actions.shape[-1])[:512]
    reference = evaluation_step(model)(torch.as_tensor(states), torch.as_tensor(actions)).numpy()
    if "dynamics" in networks:
        exported = networks["dynamics"].step(states, actions)
    else:
        exported = graph_step(networks["edge"], networks["node"], states, actions)
    return float(np.abs(exported - reference).max())
