"""The compact network and the planning cost in torch, batched over candidate action sequences.

The sampling and gradient planners evaluate exactly the network the MIP encodes (the
`CompactNetwork` arrays, float64 by default) and exactly `ControlProblem.trajectory_cost`,
plus ``box_penalty`` times the state-box violation (their constraints are soft).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sparse_dynamics.compact import INPUT, CompactNetwork
from sparse_dynamics.mpc.problem import ControlProblem

__all__ = ["TorchNetwork", "project_actions", "trajectory_cost"]


class TorchNetwork:
    """A `CompactNetwork` evaluated in torch (differentiable, batched).

    Args:
        network: The compact network.
        dtype: Torch dtype of the arrays.

    Shapes:
        - __call__: ``(..., input_dim) -> (..., output_dim)``
        - rollout: state ``(S,)``, actions ``(B, H, A)`` -> ``(B, H + 1, S)``
    """

    def __init__(self, network: CompactNetwork, dtype: torch.dtype = torch.float64) -> None:
        self.dtype, self.residual = dtype, bool(network.metadata.get("residual"))
        convert = lambda array: torch.as_tensor(np.asarray(array), dtype=dtype)  # noqa: E731
        self.layers = [
            (layer.name, {s: convert(w) for s, w in layer.weights.items()}, convert(layer.bias))
            for layer in [*network.layers, network.output]
        ]

    def __call__(self, inputs: Tensor) -> Tensor:
        sources = {INPUT: inputs}
        for index, (name, weights, bias) in enumerate(self.layers):
            total = bias.expand(*inputs.shape[:-1], bias.shape[0])
            for source, weight in weights.items():
                total = total + sources[source] @ weight.T
            if index == len(self.layers) - 1:
                return total
            sources[name] = torch.relu(total)
        raise AssertionError("unreachable: the output block is last")

    def rollout(self, state: Tensor, actions: Tensor) -> Tensor:
        states = [state.to(self.dtype).expand(actions.shape[0], -1)]
        for t in range(actions.shape[1]):
            change = self(torch.cat([states[-1], actions[:, t]], dim=-1))
            states.append(states[-1] + change if self.residual else change)
        return torch.stack(states, dim=1)


def _tensor(array: np.ndarray, like: Tensor) -> Tensor:
    return torch.as_tensor(np.asarray(array), dtype=like.dtype, device=like.device)


def trajectory_cost(problem: ControlProblem, states: Tensor, actions: Tensor, target: np.ndarray) -> Tensor:
    """`ControlProblem.trajectory_cost` plus ``box_penalty`` times `ControlProblem.box_violation`.

    Shapes:
        - states: ``(B, H + 1, S)``; actions: ``(B, H, A)``; target ``(K,)``
        - output: ``(B,)``
    """
    error = states[:, 1:] @ _tensor(problem.goal_matrix, states).T - _tensor(target, states)
    power = 1 if problem.cost == "l1" else 2
    state_cost = (error.abs() ** power * _tensor(problem.goal_weights, states)).sum(-1)
    cost = (state_cost * _tensor(problem.step_weights, states)).sum(-1)
    cost = cost + problem.action_weight * (actions.abs() ** power).sum((-1, -2))
    if problem.box_penalty > 0:
        low, high = _tensor(problem.state_low, states), _tensor(problem.state_high, states)
        violation = torch.relu(states[:, 1:] - high) + torch.relu(low - states[:, 1:])
        cost = cost + problem.box_penalty * violation.sum((-1, -2))
    return cost


def project_actions(problem: ControlProblem, actions: Tensor, previous_action: np.ndarray | None) -> Tensor:
    """Actions clipped into the box and, step by step, into the rate limit of the step before.

    Shapes:
        - actions: ``(B, H, A)``; previous_action ``(A,)`` or None; output ``(B, H, A)``
    """
    low, high = _tensor(problem.action_low, actions), _tensor(problem.action_high, actions)
    clipped = torch.minimum(torch.maximum(actions, low), high)
    if problem.rate_limit is None:
        return clipped
    rate = _tensor(problem.rate_limit, actions)
    steps, before = [], None if previous_action is None else _tensor(previous_action, actions)
    for t in range(actions.shape[1]):
        step = clipped[:, t]
        if before is not None:
            step = torch.minimum(torch.maximum(step, before - rate), before + rate)
        steps.append(step)
        before = step
    return torch.stack(steps, dim=1)
