"""One training loop for every recsys model: Adam steps, periodic validation, early stopping.

The loop reads top to bottom (docs/style.md, rule 6); what is model-specific comes in as
callables: ``batches(epoch)`` yields the epoch's mini-batches, ``loss(batch)`` returns the
scalar to minimise, ``evaluate()`` returns validation metrics, and ``after_step(step)``
runs after every optimizer step (a dynamic-sparse mask update, a mask broadcast across
processes); ``after_backward()``, if given, runs between the backward pass and the step
(averaging gradients across processes where DDP does not).
:func:`make_optimizer` builds the optimizer of a task: Adam, with the embedding tables on
``torch.optim.SparseAdam`` when their gradients are row-sparse.
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from recsys.config import TrainerConfig
from sparse_core.infra.files import atomic_write

__all__ = [
    "CHECKPOINT",
    "EarlyStopping",
    "FitResult",
    "OptimizerChain",
    "TrainerConfig",
    "clean_partial_files",
    "fit",
    "make_optimizer",
]

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


class OptimizerChain:
    """Several optimizers over disjoint parameters, stepped as one (Adam and SparseAdam).

    ``state`` is one mapping parameter -> per-parameter state over all of them (the same
    state dicts, so editing a moment in place edits the optimizer's), which is what a
    dynamic sparse updater and :func:`recsys.distributed.broadcast_masks` read.

    Args:
        optimizers: The optimizers, each with its own parameters.
    """

    def __init__(self, *optimizers: torch.optim.Optimizer):
        self.optimizers = list(optimizers)

    @property
    def state(self) -> dict[Tensor, dict[str, Any]]:
        return {param: state for optimizer in self.optimizers for param, state in optimizer.state.items()}

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [group for optimizer in self.optimizers for group in optimizer.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return {"optimizers": [optimizer.state_dict() for optimizer in self.optimizers]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for optimizer, saved in zip(self.optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(saved)


def make_optimizer(
    parameters: Iterable[nn.Parameter],
    learning_rate: float,
    *,
    sparse: Sequence[Tensor] = (),
    weight_decay: float = 0.0,
    device: torch.device | str = "cpu",
) -> torch.optim.Optimizer | OptimizerChain:
    """Adam on ``parameters``, except the tables in ``sparse`` (row-sparse gradients): ``SparseAdam``.

    ``torch.optim.SparseAdam`` is Adam's rule applied to the rows a step touches ("lazy" Adam:
    the moments of a row move only when the row is looked up, Kingma & Ba 2015, Alg. 1 on
    those rows); it keeps the learning rates the tasks' Adam settings were tuned for, where
    sparse Adagrad (exactly the dense rule, but without momentum) would need new ones. The
    dense parameters keep the fused Adam kernel (one pass per parameter on CPU and CUDA).

    Args:
        parameters: Every trained parameter.
        learning_rate: Step size of both optimizers.
        sparse: The parameters whose gradients are sparse COO tensors.
        weight_decay: Adam's L2 penalty (SparseAdam has none: raises if set with ``sparse``).
        device: Where the parameters live (chooses the fused kernel).

    Returns:
        ``Adam``, ``SparseAdam`` alone if every parameter is in ``sparse``, or an
        :class:`OptimizerChain` of both.

    Raises:
        ValueError: ``weight_decay`` with sparse tables.
    """
    sparse_ids = {id(t) for t in sparse}
    dense = [p for p in parameters if id(p) not in sparse_ids]
    tables = list(sparse)
    if tables and weight_decay:
        raise ValueError("SparseAdam has no weight decay; use an L2 penalty on the looked-up rows instead")
    fused = torch.device(device).type in ("cpu", "cuda")
    optimizers: list[torch.optim.Optimizer] = []
    if dense:
        optimizers.append(torch.optim.Adam(dense, lr=learning_rate, weight_decay=weight_decay, fused=fused))
    if tables:
        optimizers.append(torch.optim.SparseAdam(tables, lr=learning_rate))
    return optimizers[0] if len(optimizers) == 1 else OptimizerChain(*optimizers)


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
        train_cpu_seconds: CPU time of this process in training steps (its threads together):
            beside ``train_seconds`` it tells a loaded machine (wall >> CPU) from slow code.
        samples: Training samples processed.
    """

    best_epoch: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    train_seconds: float = 0.0
    train_cpu_seconds: float = 0.0
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
    after_backward: Callable[[], Any] | None = None,
    folder: Path | None = None,
    progress: bool = False,
) -> FitResult:
    """Trains ``model`` with early stopping on a validation metric.

    Args:
        model: The module whose ``state_dict`` is checkpointed (the unwrapped one under DDP).
        optimizer: Its optimizer (Adam in every recsys task, SparseAdam on row-sparse tables).
        batches: ``batches(epoch)`` -> iterable of mini-batches (epochs count from 1).
        loss: ``loss(batch)`` -> scalar loss tensor.
        evaluate: Validation metrics, including ``config.monitor``.
        config: Epochs, patience, monitored metric.
        after_step: Called with the 1-based step number after every ``optimizer.step()``.
        after_backward: Called after every backward pass, before ``optimizer.step()``.
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
        started, started_cpu, total_loss, count = time.perf_counter(), time.process_time(), 0.0, 0
        for batch in batches(epoch):
            value = loss(batch)
            if not torch.isfinite(value):
                raise FloatingPointError(f"loss is {value.item()} at epoch {epoch}, step {result.steps + 1}")
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            if after_backward is not None:
                after_backward()
            optimizer.step()
            result.steps += 1
            if after_step is not None:
                after_step(result.steps)
            total_loss += float(value.detach())
            count += 1
            result.samples += _batch_size(batch)
        seconds = time.perf_counter() - started
        result.train_seconds += seconds
        result.train_cpu_seconds += time.process_time() - started_cpu
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
