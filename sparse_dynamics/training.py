"""Training dynamics models on episodes, and measuring one-step and rollout errors.

The loss is the multi-step rollout loss of learned-dynamics MPC work (e.g. Liu et al.,
NeurIPS 2023, sec. 3.1): from a true state, roll the model forward with the recorded
actions for K steps and average the squared errors, each state entry divided by the
standard deviation of its one-step change in the training data. K = 1 is the plain
one-step loss. What happens besides the prediction loss (a ReLU-budget penalty) is a
callable passed in (docs/style.md, rule 6).

Randomness comes from explicit generators (docs/style.md, rule 8): `seeded_generator`
gives each use of a run's seed (initial weights, training windows, sparsification) its
own stream.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from sparse_core.infra.errors import ConfigError
from sparse_dynamics.config import ROLLOUT_HORIZON, TrainConfig
from sparse_dynamics.data import TransitionData

__all__ = [
    "TrainConfig",
    "evaluate",
    "evaluation_step",
    "fit",
    "rollout_error",
    "seeded_generator",
    "state_scale",
    "train_dense",
]

MODEL_INIT, DENSE_WINDOWS = 0, 1
"""Streams of `seeded_generator` used by `train_dense`: initial weights, training windows."""


def seeded_generator(seed: int, stream: int = 0) -> torch.Generator:
    """A CPU generator for one use of ``seed``: the same (seed, stream), the same draws.

    Different streams are statistically independent (`numpy.random.SeedSequence`), so
    e.g. the initial weights and the order of training windows are not correlated.
    """
    (state,) = np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state))


def _tensors(data: TransitionData, device: torch.device | str) -> tuple[Tensor, Tensor]:
    return (
        torch.as_tensor(data.states, dtype=torch.float32, device=device),
        torch.as_tensor(data.actions, dtype=torch.float32, device=device),
    )


def delta_scale(data: TransitionData) -> np.ndarray:
    """Per-entry standard deviation of one-step state changes, ``(state_dim,)`` (floored at 1e-6)."""
    return np.maximum(np.diff(data.states, axis=1).reshape(-1, data.states.shape[-1]).std(0), 1e-6)


def state_scale(data: TransitionData) -> np.ndarray:
    """Per-entry standard deviation of states, ``(state_dim,)`` (floored at 1e-6)."""
    return np.maximum(data.states.reshape(-1, data.states.shape[-1]).std(0), 1e-6)


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    gates = [p for n, p in model.named_parameters() if n.endswith("log_alpha")]
    weights = [p for n, p in model.named_parameters() if not n.endswith("log_alpha")]
    groups = [{"params": weights, "lr": config.learning_rate, "weight_decay": config.weight_decay}]
    if gates:
        groups.append({"params": gates, "lr": config.gate_learning_rate, "weight_decay": 0.0})
    return torch.optim.Adam(groups)


def fit(
    model: nn.Module,
    train: TransitionData,
    config: TrainConfig,
    generator: torch.Generator,
    *,
    regularizer: Callable[[int], Tensor] | None = None,
    progress: bool = False,
    description: str = "train",
) -> list[float]:
    """Trains ``model(state, action) -> next_state`` on random windows of the training episodes.

    Args:
        model: Any module mapping ``(B, S), (B, A) -> (B, S)`` that takes a ``generator=``
            keyword for the noise of its gates (`MLPDynamics`, `GraphDynamics`).
        train: Training episodes.
        config: Optimisation settings.
        generator: A CPU generator; draws the windows and seeds the gates' noise (same
            generator state, same run).
        regularizer: Called with the step number; its value is added to the loss.
        progress: Show a progress bar.
        description: Progress-bar label.

    Returns:
        The prediction loss per step.

    Raises:
        ConfigError: If the rollout is longer than the episodes, or the loss stops being
            finite (training diverged: a result would be meaningless).
    """
    device = next(model.parameters()).device
    states, actions = _tensors(train, device)
    if config.rollout_steps > train.steps:
        raise ConfigError(
            f"TrainConfig.rollout_steps: {config.rollout_steps} exceeds the episode length ({train.steps} steps)",
            field="rollout_steps",
        )
    noise = torch.Generator(device).manual_seed(int(torch.randint(2**62, (), generator=generator)))
    scale = torch.as_tensor(delta_scale(train), dtype=torch.float32, device=device)
    optimizer = _optimizer(model, config)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(step / max(config.steps, 1), 1.0)))
    )
    starts = train.steps - config.rollout_steps + 1
    history = []
    model.train()
    for step in tqdm(range(config.steps), desc=description, disable=not progress, leave=False):
        episode = torch.randint(train.episodes, (config.batch_size,), generator=generator).to(device)
        start = torch.randint(starts, (config.batch_size,), generator=generator).to(device)
        state = states[episode, start]
        loss = torch.zeros((), device=device)
        for k in range(config.rollout_steps):
            state = model(state, actions[episode, start + k], generator=noise)
            loss = loss + (((state - states[episode, start + k + 1]) / scale) ** 2).mean()
        loss = loss / config.rollout_steps
        total = loss if regularizer is None else loss + regularizer(step)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        schedule.step()
        history.append(float(loss.detach()))
        if not math.isfinite(history[-1]) or not math.isfinite(float(total.detach())):
            raise ConfigError(
                f"{description}: training diverged (the loss is {history[-1]} at step {step + 1} of {config.steps}, "
                f"learning rate {config.learning_rate:g}); lower the learning rate or the rollout steps",
                field="learning_rate",
            )
    model.eval()
    return history


@torch.no_grad()
def rollout_error(
    step_fn: Callable[[Tensor, Tensor], Tensor],
    data: TransitionData,
    horizon: int,
    scale: np.ndarray,
) -> float:
    """Mean squared error after ``horizon`` open-loop steps, each entry divided by ``scale``.

    Every window of ``horizon`` steps of every episode is used: from the true state at
    ``t``, the model is stepped with the recorded actions to ``t + horizon`` and compared
    with the true state there.

    Args:
        step_fn: ``(B, S), (B, A) -> (B, S)``, the model in evaluation mode.
        data: Held-out episodes.
        horizon: Rollout length (1 = one-step error).
        scale: Per-entry scale ``(S,)``, e.g. `state_scale` of the training data.

    Returns:
        ``mean(((x_hat - x) / scale)^2)`` over windows and state entries.
    """
    if horizon > data.steps:
        raise ValueError(f"horizon {horizon} exceeds the episode length {data.steps}")
    states, actions = _tensors(data, "cpu")
    states, actions = states.double(), actions.double()
    starts = data.steps - horizon + 1
    state = states[:, :starts].reshape(-1, data.states.shape[-1])
    for k in range(horizon):
        state = step_fn(state, actions[:, k : k + starts].reshape(-1, data.actions.shape[-1]))
    target = states[:, horizon : horizon + starts].reshape(-1, data.states.shape[-1])
    return float((((state - target) / torch.as_tensor(scale)) ** 2).mean())


def evaluation_step(model: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
    """A float64, eval-mode copy of ``model`` as a ``(state, action) -> next_state`` function."""
    import copy

    frozen = copy.deepcopy(model).double().eval()

    @torch.no_grad()
    def step(state: Tensor, action: Tensor) -> Tensor:
        return frozen(state.double(), action.double())

    return step


def evaluate(model: nn.Module, test: TransitionData, scale: np.ndarray, horizon: int = ROLLOUT_HORIZON) -> dict:
    """One-step and ``horizon``-step errors of ``model`` on ``test`` (see `rollout_error`).

    Returns:
        ``{"one_step_error": ..., "rollout<horizon>_error": ...}``.
    """
    step = evaluation_step(model)
    return {
        "one_step_error": rollout_error(step, test, 1, scale),
        f"rollout{horizon}_error": rollout_error(step, test, horizon, scale),
    }


def _flat(data: TransitionData) -> tuple[Tensor, ...]:
    states = torch.as_tensor(data.states[:, :-1].reshape(-1, data.states.shape[-1]), dtype=torch.float32)
    actions = torch.as_tensor(data.actions.reshape(-1, data.actions.shape[-1]), dtype=torch.float32)
    next_states = torch.as_tensor(data.states[:, 1:].reshape(-1, data.states.shape[-1]), dtype=torch.float32)
    return states, actions, next_states


def train_dense(
    train: TransitionData, hidden: Sequence[int], config: TrainConfig, seed: int, *, progress: bool = False
) -> nn.Module:
    """A dense dynamics model for ``train``'s task, normalised on and trained with ``train``.

    The initial weights and the training windows come from their own streams of ``seed``
    (`seeded_generator`); the global random generators are not used.
    """
    from sparse_dynamics.models import make_model

    model = make_model(train.make_task(), hidden, generator=seeded_generator(seed, MODEL_INIT))
    model.set_normalization(*_flat(train))
    fit(
        model,
        train,
        config,
        seeded_generator(seed, DENSE_WINDOWS),
        progress=progress,
        description=f"dense {tuple(hidden)}",
    )
    return model
