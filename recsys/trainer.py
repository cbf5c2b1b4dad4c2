"""One training loop for every recsys model: Adam steps, periodic validation, early stopping.

The loop reads top to bottom (docs/style.md, rule 6); what is model-specific comes in as
callables: ``batches(epoch)`` yields the epoch's mini-batches, ``loss(batch)`` returns the
scalar to minimise, ``evaluate()`` returns validation metrics, and ``after_step(step)``
runs after every optimizer step (a dynamic-sparse mask update, a mask broadcast across
processes).
The best state (by ``monitor``) is kept in memory, written to ``best.pt`` when a folder
is given, and restored at the end.

Files in the folder are written atomically (``sparse_core.infra.files.atomic_write``): a
killed run leaves each one complete or absent. A run does not resume: a rerun into the
same folder restarts from epoch 1, first removing what a killed run left there
(:func:`clean_partial_files`, and the earlier ``best.pt`` / ``metrics.json``, which
belong to the earlier run).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from recsys.config import TrainerConfig
from sparse_core.infra.files import atomic_write

__all__ = ["CHECKPOINT", "EarlyStopping", "FitResult", "TrainerConfig", "clean_partial_files", "fit"]

log = logging.getLogger(__name__)

#: The best state's file in a run folder (a ``state_dict`` saved with ``torch.save``).
CHECKPOINT = "best.pt"
HISTORY = "metrics.json"


def clean_partial_files(folder: Path | str) -> list[Path]:
    """Removes the temporary files that a killed atomic write left in ``folder``; returns them.

    Atomic writes go through ``.<name>.<random>.part`` (or ``.part.<suffix>``) beside the
    destination; the rename never happened for one that is still there.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted({*folder.glob(".*.part"), *folder.glob(".*.part.*")}):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        log.warning(
            "removed %d partial file(s) of an interrupted run from %s: %s",
            len(removed),
            folder,
            ", ".join(p.name for p in removed),
        )
    return removed


class EarlyStopping:
    """Tracks the best value of a metric and how many evaluations passed without improving.

    Args:
        patience: Evaluations without improvement after which :attr:`should_stop` is True.
        mode: ``"max"`` or ``"min"``.
        min_delta: Improvement needed to count as better.
    """

    def __init__(self, patience: int, mode: Literal["max", "min"] = "max", min_delta: float = 0.0):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', found {mode!r}")
        self.patience, self.mode, self.min_delta = patience, mode, min_delta
        self.best = -math.inf if mode == "max" else math.inf
        self.bad_evaluations = 0

    def update(self, value: float) -> bool:
        """Records one evaluation; returns True if it is the best so far."""
        better = value > self.best + self.min_delta if self.mode == "max" else value < self.best - self.min_delta
        if better:
            self.best, self.bad_evaluations = value, 0
        else:
            self.bad_evaluations += 1
        return better

    @property
    def should_stop(self) -> bool:
        return self.bad_evaluations >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_evaluations": self.bad_evaluations}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best, self.bad_evaluations = float(state["best"]), int(state["bad_evaluations"])


@dataclass
class FitResult:
    """What :func:`fit` learned about the run.

    Attributes:
        best_epoch: Epoch of the restored state.
        best_metrics: Validation metrics at that epoch.
        history: One dict per epoch: ``epoch``, ``loss``, ``train_seconds`` and, on evaluation
            epochs, the validation metrics.
        steps: Optimizer steps taken.
        train_seconds: Time spent in training steps (evaluation excluded).
        samples: Training samples processed.
    """

    best_epoch: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    train_seconds: float = 0.0
    samples: int = 0

    @property
    def epoch_seconds(self) -> float:
        """Mean training time per epoch."""
        return self.train_seconds / max(len(self.history), 1)

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.train_seconds if self.train_seconds > 0 else float("nan")


def _batch_size(batch: Any) -> int:
    first = batch[0] if isinstance(batch, (tuple, list)) else batch
    return int(first.shape[0]) if isinstance(first, Tensor) else 1


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Callable[[int], Iterable[Any]],
    loss: Callable[[Any], Tensor],
    evaluate: Callable[[], Mapping[str, float]],
    config: TrainerConfig,
    *,
    after_step: Callable[[int], Any] | None = None,
    folder: Path | None = None,
    progress: bool = False,
) -> FitResult:
    """Trains ``model`` with early stopping on a validation metric.

    Args:
        model: The module whose ``state_dict`` is checkpointed (the unwrapped one under DDP).
        optimizer: Its optimizer (Adam in every recsys task).
        batches: ``batches(epoch)`` -> iterable of mini-batches (epochs count from 1).
        loss: ``loss(batch)`` -> scalar loss tensor.
        evaluate: Validation metrics, including ``config.monitor``.
        config: Epochs, patience, monitored metric.
        after_step: Called with the 1-based step number after every ``optimizer.step()``.
        folder: If given, ``best.pt`` and a running ``metrics.json`` (per-epoch history) go here
            (an earlier run's are removed first).
        progress: Show a tqdm bar over epochs.

    Returns:
        The :class:`FitResult`; ``model`` holds the best state.

    Raises:
        KeyError: If ``evaluate()`` does not return ``config.monitor``.
        FloatingPointError: If the loss becomes NaN or infinite (names epoch and step).
    """
    result = FitResult()
    if folder is not None:  # a restart: what an earlier run left belongs to it, not to this one
        clean_partial_files(folder)
        for name in (CHECKPOINT, HISTORY):
            (Path(folder) / name).unlink(missing_ok=True)
    stopper = EarlyStopping(config.patience, config.mode, config.min_delta)
    best_state = copy.deepcopy(model.state_dict())
    bar = tqdm(range(1, config.epochs + 1), desc="epochs", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        started, total_loss, count = time.perf_counter(), 0.0, 0
        for batch in batches(epoch):
            value = loss(batch)
            if not torch.isfinite(value):
                raise FloatingPointError(f"loss is {value.item()} at epoch {epoch}, step {result.steps + 1}")
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            result.steps += 1
            if after_step is not None:
                after_step(result.steps)
            total_loss += float(value.detach())
            count += 1
            result.samples += _batch_size(batch)
        seconds = time.perf_counter() - started
        result.train_seconds += seconds
        record: dict[str, float] = {"epoch": epoch, "loss": total_loss / max(count, 1), "train_seconds": seconds}
        stop = False
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            model.eval()
            metrics = dict(evaluate())
            if config.monitor not in metrics:
                raise KeyError(f"evaluate() returned {sorted(metrics)}, which lacks the monitored {config.monitor!r}")
            record.update({f"valid_{k}": v for k, v in metrics.items()})
            if stopper.update(float(metrics[config.monitor])):
                best_state = copy.deepcopy(model.state_dict())
                result.best_epoch, result.best_metrics = epoch, metrics
                if folder is not None:
                    with atomic_write(Path(folder) / CHECKPOINT, "wb") as handle:
                        torch.save(best_state, handle)
            stop = stopper.should_stop
        result.history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.4f}", best=f"{stopper.best:.4f}")
        log.info("epoch %d: %s", epoch, record)
        if folder is not None:
            with atomic_write(Path(folder) / HISTORY, "w") as handle:
                json.dump({"epochs": result.history}, handle, indent=1)
        if stop:
            log.info(
                "early stop at epoch %d: no %s improvement in %d evaluations", epoch, config.monitor, config.patience
            )
            break
    model.load_state_dict(best_state)
    return result
