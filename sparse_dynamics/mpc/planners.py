"""Sampling and gradient planners on the same learned network and cost as the MIP.

- `MPPIPlanner`: model-predictive path integral control (Williams et al., "Aggressive
  driving with model predictive path integral control", ICRA 2016): Gaussian
  perturbations of the mean plan, exponentially weighted by their cost.
- `CEMPlanner`: the cross-entropy method (Rubinstein 1999; as MPC planner e.g. Chua et
  al., NeurIPS 2018): refit a Gaussian to the lowest-cost elites, with momentum; returns
  the best sequence it evaluated.
- `GradientPlanner`: shooting by gradient descent, Adam on several action sequences
  through the torch model, projected into the action box and rate limit after every step.

All are batched in torch (`sparse_dynamics.mpc.torch_model`), start from the previous plan
shifted by one step, draw randomness from their own ``torch.Generator`` seeded by their
config (docs/style.md, rule 8), and run either a fixed number of iterations or, when
``time_budget_seconds > 0``, as many as fit in that wall-clock budget (at least one), so
that planners can be compared at equal time per step. The state box is soft for them
(``ControlProblem.box_penalty``).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from sparse_dynamics.compact import CompactNetwork
from sparse_dynamics.mpc.base import Planner, plan_info
from sparse_dynamics.mpc.config import CEMConfig, GradientConfig, MIPConfig, MPPIConfig
from sparse_dynamics.mpc.problem import ControlProblem, check_network
from sparse_dynamics.mpc.torch_model import TorchNetwork, project_actions, trajectory_cost

__all__ = ["CEMPlanner", "GradientPlanner", "MPPIPlanner", "make_planner"]


class _TorchPlanner(Planner):
    """What the torch planners share: the model, the cost, the budget loop and the result."""

    def __init__(self, network: CompactNetwork, problem: ControlProblem, config) -> None:
        super().__init__(problem)
        check_network(network, problem)
        self.network, self.config = network, config
        self.model = TorchNetwork(network)
        self.generator = torch.Generator().manual_seed(int(config.seed))
        self._range = torch.as_tensor(problem.action_high - problem.action_low, dtype=self.model.dtype)

    def _cost(self, state: torch.Tensor, actions: torch.Tensor, target: np.ndarray) -> torch.Tensor:
        return trajectory_cost(self.problem, self.model.rollout(state, actions), actions, target)

    def _project(self, actions: torch.Tensor) -> torch.Tensor:
        return project_actions(self.problem, actions, self._previous_action)

    def _iterations(self):
        """Iteration numbers: ``config.iterations`` of them, or as many as the budget allows."""
        budget = self.config.time_budget_seconds
        started = time.perf_counter()
        iteration = 0
        while (budget > 0 and (iteration == 0 or time.perf_counter() - started < budget)) or (
            budget <= 0 and iteration < self.config.iterations
        ):
            yield iteration
            iteration += 1

    def _finish(self, state: np.ndarray, actions: torch.Tensor, target, started: float, iterations: int):
        actions = self._project(actions.detach()[None])[0]
        with torch.no_grad():
            states = self.model.rollout(torch.as_tensor(state, dtype=self.model.dtype), actions[None])[0].numpy()
        plan = actions.numpy().astype(np.float64)
        self._remember(plan)
        objective = float(self.problem.trajectory_cost(states, plan, target))
        violation = float(self.problem.box_violation(states))
        return plan, plan_info(
            "ok", objective, time.perf_counter() - started, states, iterations=iterations, box_violation=violation
        )

    def _start(self, state: np.ndarray, goal: np.ndarray):
        state = np.asarray(state, dtype=np.float64)
        target = self.problem.target(goal, state)
        guess = self._project(torch.as_tensor(self._initial_guess(), dtype=self.model.dtype)[None])[0]
        return state, torch.as_tensor(state, dtype=self.model.dtype), target, guess


class MPPIPlanner(_TorchPlanner):
    """MPPI on the compact network (module docstring).

    Args:
        network: The learned dynamics.
        problem: Horizon, boxes, rate limit and cost.
        config: Samples, iterations, temperature, noise, budget, seed.
    """

    def __init__(self, network: CompactNetwork, problem: ControlProblem, config: MPPIConfig | None = None) -> None:
        super().__init__(network, problem, config or MPPIConfig())

    @torch.no_grad()
    def plan(self, state: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, dict]:
        """Weighted averages of perturbed plans; the mean plan is always one of the samples."""
        started = time.perf_counter()
        state, state_t, target, mean = self._start(state, goal)
        config, count = self.config, 0
        for count in self._iterations():  # noqa: B007 - the count is reported
            noise = torch.randn((config.samples, *mean.shape), generator=self.generator, dtype=mean.dtype)
            noise = noise * config.noise_std * self._range
            noise[0] = 0.0
            candidates = self._project(mean + noise)
            costs = self._cost(state_t, candidates, target)
            weights = torch.softmax(-(costs - costs.min()) / config.temperature, dim=0)
            mean = (weights[:, None, None] * candidates).sum(0)
        return self._finish(state, mean, target, started, count + 1)


class CEMPlanner(_TorchPlanner):
    """The cross-entropy method on the compact network (module docstring).

    Args:
        network: The learned dynamics.
        problem: Horizon, boxes, rate limit and cost.
        config: Samples, elites, iterations, momentum, standard deviations, budget, seed.
    """

    def __init__(self, network: CompactNetwork, problem: ControlProblem, config: CEMConfig | None = None) -> None:
        super().__init__(network, problem, config or CEMConfig())

    @torch.no_grad()
    def plan(self, state: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, dict]:
        """Refits of a Gaussian to the elites; returns the lowest-cost sequence evaluated."""
        started = time.perf_counter()
        state, state_t, target, mean = self._start(state, goal)
        config, count = self.config, 0
        std = torch.ones_like(mean) * config.initial_std * self._range
        best, best_cost = mean, float("inf")
        for count in self._iterations():  # noqa: B007 - the count is reported
            noise = torch.randn((config.samples, *mean.shape), generator=self.generator, dtype=mean.dtype)
            noise[0] = 0.0
            candidates = self._project(mean + std * noise)
            costs = self._cost(state_t, candidates, target)
            order = torch.argsort(costs)
            if float(costs[order[0]]) < best_cost:
                best, best_cost = candidates[order[0]], float(costs[order[0]])
            elites = candidates[order[: config.elites]]
            mean = config.momentum * mean + (1 - config.momentum) * elites.mean(0)
            spread = elites.std(0, unbiased=False) if config.elites > 1 else torch.zeros_like(std)
            std = torch.maximum(config.momentum * std + (1 - config.momentum) * spread, config.min_std * self._range)
        return self._finish(state, best, target, started, count + 1)


class GradientPlanner(_TorchPlanner):
    """Gradient shooting on the compact network (module docstring).

    Args:
        network: The learned dynamics.
        problem: Horizon, boxes, rate limit and cost.
        config: Restarts, iterations, learning rate, budget, seed.
    """

    def __init__(self, network: CompactNetwork, problem: ControlProblem, config: GradientConfig | None = None) -> None:
        super().__init__(network, problem, config or GradientConfig())

    def plan(self, state: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, dict]:
        """Adam on ``restarts`` sequences (the shifted plan and uniform random ones); returns the best."""
        started = time.perf_counter()
        state, state_t, target, guess = self._start(state, goal)
        config, count = self.config, 0
        low = torch.as_tensor(self.problem.action_low, dtype=guess.dtype)
        uniform = torch.rand((config.restarts - 1, *guess.shape), generator=self.generator, dtype=guess.dtype)
        starts = torch.cat([guess[None], self._project(low + uniform * self._range)])
        # optimise actions in units of the action range, so one learning rate fits every entry
        scaled = ((starts - low) / self._range).clone().requires_grad_(True)
        optimizer = torch.optim.Adam([scaled], lr=config.learning_rate)
        best, best_cost = guess, float("inf")
        for count in self._iterations():  # noqa: B007 - the count is reported
            actions = low + scaled * self._range
            costs = self._cost(state_t, actions, target)
            index = int(torch.argmin(costs.detach()))
            if float(costs[index].detach()) < best_cost:
                best, best_cost = actions[index].detach().clone(), float(costs[index].detach())
            optimizer.zero_grad(set_to_none=True)
            costs.sum().backward()
            optimizer.step()
            with torch.no_grad():
                scaled.copy_((self._project(low + scaled * self._range) - low) / self._range)
        with torch.no_grad():
            final = self._project(low + scaled * self._range)
            costs = self._cost(state_t, final, target)
            index = int(torch.argmin(costs))
            if float(costs[index]) < best_cost:
                best = final[index]
        return self._finish(state, best, target, started, count + 1)


def make_planner(name: str, network: CompactNetwork, problem: ControlProblem, config=None) -> Planner:
    """The planner called ``name`` (``mip``, ``mppi``, ``cem``, ``gd``) with ``config`` (or its defaults)."""
    if name == "mip":
        from sparse_dynamics.mpc.controller import MIPController

        return MIPController(network, problem, config or MIPConfig())
    planners = {"mppi": MPPIPlanner, "cem": CEMPlanner, "gd": GradientPlanner}
    if name not in planners:
        raise ValueError(f"unknown planner {name!r}; expected mip, mppi, cem or gd")
    return planners[name](network, problem, config)
