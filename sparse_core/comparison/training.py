"""A small, readable supervised training loop for classifiers, shared by the core's demos.

The loop reads top to bottom (docs/style.md, rule 6): what happens after each optimizer step (a
dynamic-sparse update, re-zeroing masked weights) is a callable passed in, not a branch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

__all__ = ["TrainConfig", "accuracy", "mlp", "train_classifier"]


@dataclass(frozen=True)
class TrainConfig:
    """Mini-batch training with Adam.

    Attributes:
        epochs: passes over the training set.
        batch_size: samples per step.
        learning_rate: Adam's step size.
        weight_decay: Adam's L2 coefficient.
    """

    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.0


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """A ReLU MLP, e.g. ``mlp([784, 300, 100, 10])`` for LeNet-300-100 (LeCun et al. 1998)."""
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if index < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def train_classifier(
    model: nn.Module,
    inputs: Tensor,
    labels: Tensor,
    config: TrainConfig,
    generator: torch.Generator,
    *,
    after_step: Callable[[int], object] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    progress: bool = False,
    description: str = "train",
) -> torch.optim.Optimizer:
    """Train ``model`` with cross-entropy; returns the optimizer (its state is still useful).

    Args:
        model: the classifier (masked or not).
        inputs, labels: the training set, already on the model's device.
        config: epochs, batch size, learning rate, weight decay.
        generator: orders the mini-batches (same generator state, same run).
        after_step: called with the 1-based step number after every optimizer step.
        optimizer: continue with this optimizer instead of a new Adam.
        progress: show a progress bar over epochs.

    Shapes:
        inputs: ``(n, features)``; labels: ``(n,)`` int64.
    """
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    samples = len(inputs)
    step = 0
    model.train()
    for _ in tqdm(range(config.epochs), desc=description, disable=not progress, leave=False):
        order = torch.randperm(samples, generator=generator).to(inputs.device)
        for start in range(0, samples, config.batch_size):
            batch = order[start : start + config.batch_size]
            loss = loss_fn(model(inputs[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            step += 1
            if after_step is not None:
                after_step(step)
            optimizer.zero_grad(set_to_none=True)
    model.eval()
    return optimizer


@torch.no_grad()
def accuracy(model: nn.Module, inputs: Tensor, labels: Tensor, batch_size: int = 1000) -> float:
    """Fraction of samples whose arg-max prediction equals the label."""
    model.eval()
    correct = 0
    for start in range(0, len(inputs), batch_size):
        correct += (
            (model(inputs[start : start + batch_size]).argmax(dim=1) == labels[start : start + batch_size]).sum().item()
        )
    return correct / len(inputs)
