"""Training the blocking CNN: balanced batches or class weights, early stopping, seeds, baselines.

The authors' protocol (hzhang-math/BlockingSHAPTL, ``Fig4_MM-compute.py``): Adam, batches
of 64 holding 32 samples of each class (the minority class cycled, an epoch is as long as
the majority class needs), 30 epochs, 10 seeds; their transfer learning uses class weights
``total / (2 · count)`` instead. Early stopping keeps the weights of the epoch with the
lowest validation loss (docs/style.md, rule 6: a small callable, not a branch of the loop).
Randomness comes from one ``torch.Generator`` per network (docs/style.md, rule 8).
"""

from __future__ import annotations

import copy
import logging
import pickle
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from blocking.cnn import BlockingCNN, count_parameters, initialise
from blocking.config import CNNConfig, FitConfig, TrainConfig
from blocking.dataset import BlockingDataset, load_dataset
from blocking.metrics import METRICS, climatology_baseline, evaluate, logistic_baseline, prior_correction
from sparse_core.infra.errors import InputError

__all__ = [
    "EarlyStopping",
    "FitSettings",
    "balanced_batches",
    "class_weights",
    "fit",
    "load_model",
    "predict_probability",
    "run_train",
    "save_model",
    "train_and_test",
    "train_network",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitSettings:
    """How one network is fitted (see :class:`blocking.config.TrainConfig`)."""

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    imbalance: str = "balanced_batches"
    patience: int = 5


class EarlyStopping:
    """Stop after ``patience`` epochs without a lower validation loss; remember the best weights.

    ``patience = 0`` never stops early (the last weights are kept).
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_loss = float("inf")
        self.best_epoch = -1
        self.best_state: dict | None = None
        self.waited = 0

    def __call__(self, model: nn.Module, loss: float, epoch: int) -> bool:
        """Record this epoch's validation loss; True when training should stop."""
        if self.patience == 0:
            return False
        if loss < self.best_loss:
            self.best_loss, self.best_epoch, self.waited = loss, epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore(self, model: nn.Module) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def class_weights(labels: torch.Tensor) -> torch.Tensor:
    """``total / (2 · count)`` per class (the authors' transfer-learning weights), shape ``(2,)``."""
    counts = torch.bincount(labels, minlength=2).to(torch.float64)
    if (counts == 0).any():
        raise InputError(f"training labels hold only one class (counts {counts.tolist()})")
    return (counts.sum() / (2.0 * counts)).to(torch.float32)


def balanced_batches(labels: torch.Tensor, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch of batches with half of each class (the minority cycled), as the authors do.

    Returns:
        Index tensors of ``batch_size`` (an even number: ``2 · (batch_size // 2)``).
    """
    half = max(batch_size // 2, 1)
    by_class = [torch.nonzero(labels == c).squeeze(1) for c in (0, 1)]
    if any(len(ids) == 0 for ids in by_class):
        raise InputError("balanced batches need both classes in the training set")
    steps = max(max(len(ids) for ids in by_class) // half, 1)
    shuffled = [ids[torch.randperm(len(ids), generator=generator)] for ids in by_class]
    positions = torch.arange(steps * half)
    batches = []
    for step in range(steps):
        chosen = positions[step * half : (step + 1) * half]
        batch = torch.cat([shuffled[0][chosen % len(shuffled[0])], shuffled[1][chosen % len(shuffled[1])]])
        batches.append(batch[torch.randperm(len(batch), generator=generator)])
    return batches


def _shuffled_batches(count: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    return list(torch.randperm(count, generator=generator).split(batch_size))


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    validation: tuple[torch.Tensor, torch.Tensor] | None,
    settings: FitSettings,
    generator: torch.Generator,
    parameters=None,
    progress: bool = False,
) -> dict:
    """Fit ``model`` with Adam on cross-entropy of the two logits; early stopping on validation.

    Args:
        train, validation: ``(inputs (sample, level, lat, lon), labels (sample,))`` on the
            model's device; without validation every epoch runs and the last weights stay.
        parameters: the parameters to train (default: all; transfer learning passes the
            last layer's).

    Returns:
        ``{"epochs_run", "best_epoch", "train_loss", "validation_loss"}`` (losses per epoch).
    """
    from tqdm.auto import tqdm

    inputs, labels = train
    weight = class_weights(labels).to(inputs.device) if settings.imbalance == "class_weights" else None
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    validation_weight = class_weights(labels).to(inputs.device) if settings.imbalance != "none" else None
    validation_loss_fn = nn.CrossEntropyLoss(weight=validation_weight)
    optimiser = torch.optim.Adam(
        list(parameters) if parameters is not None else model.parameters(), lr=settings.learning_rate
    )
    stopper = EarlyStopping(settings.patience)
    history = {"train_loss": [], "validation_loss": []}
    for epoch in tqdm(range(settings.epochs), disable=not progress, desc="epochs", leave=False):
        model.train()
        if settings.imbalance == "balanced_batches":
            batches = balanced_batches(labels.cpu(), settings.batch_size, generator)
        else:
            batches = _shuffled_batches(len(labels), settings.batch_size, generator)
        total = 0.0
        for batch in batches:
            batch = batch.to(inputs.device)
            optimiser.zero_grad()
            loss = loss_fn(model(inputs[batch]), labels[batch])
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        history["train_loss"].append(total / sum(len(b) for b in batches))
        if validation is None:
            continue
        model.eval()
        with torch.no_grad():
            validation_loss = float(validation_loss_fn(_logits(model, validation[0]), validation[1]))
        history["validation_loss"].append(validation_loss)
        if stopper(model, validation_loss, epoch):
            break
    stopper.restore(model)
    model.eval()
    return {"epochs_run": len(history["train_loss"]), "best_epoch": stopper.best_epoch, **history}


def _logits(model: nn.Module, inputs: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    return (
        torch.cat([model(inputs[k : k + batch]) for k in range(0, len(inputs), batch)])
        if len(inputs)
        else torch.zeros((0, 2), device=inputs.device)
    )


def predict_probability(model: nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """Softmax probability of the persistent class, ``(sample,)``."""
    model.eval()
    with torch.no_grad():
        return torch.softmax(_logits(model, inputs), dim=1)[:, 1].double().cpu().numpy()


def save_model(model: BlockingCNN, path: Path, cnn: CNNConfig, extra: dict | None = None) -> None:
    """``model.pt``: the state dict with the input shape and layout (readable with ``weights_only=True``)."""
    from sparse_core.infra.files import atomic_write

    payload = {
        "state_dict": model.state_dict(),
        "input_shape": list(model.input_shape),
        "cnn": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cnn).items()},
        **(extra or {}),
    }
    with atomic_write(Path(path), "wb") as handle:
        torch.save(payload, handle)


def load_model(path: Path, device: torch.device | str = "cpu") -> tuple[BlockingCNN, dict]:
    """A network saved by :func:`save_model` (never unpickles code: ``weights_only=True``).

    Raises:
        InputError: a missing or malformed file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: model not found (train one with blocking train)")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
        cnn = CNNConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in payload["cnn"].items()})
        model = BlockingCNN(tuple(payload["input_shape"]), cnn)
        model.load_state_dict(payload["state_dict"])
    except (OSError, RuntimeError, KeyError, TypeError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise InputError(f"{path}: not a blocking model file ({error})") from None
    return model.to(device).eval(), payload


def tensors(
    dataset: BlockingDataset, indices: np.ndarray, persistence_days: int | None, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and labels of the samples at ``indices`` as tensors on ``device``."""
    labels = dataset.labels(persistence_days)[indices]
    return (
        torch.as_tensor(dataset.inputs[indices], device=device),
        torch.as_tensor(labels, dtype=torch.int64, device=device),
    )


def train_network(
    dataset: BlockingDataset,
    settings: FitSettings,
    cnn: CNNConfig,
    seed: int,
    persistence_days: int | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> tuple[BlockingCNN, dict]:
    """Initialise a network from ``seed`` and fit it on the dataset's training split."""
    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    train = tensors(dataset, dataset.select("train", persistence_days), persistence_days, device)
    validation = tensors(dataset, dataset.select("validation", persistence_days), persistence_days, device)
    model = initialise(BlockingCNN(dataset.inputs.shape[1:], cnn), generator).to(device)
    history = fit(model, train, validation, settings, generator, progress=progress)
    return model, history


def _index_features(dataset: BlockingDataset, indices: np.ndarray) -> np.ndarray:
    return np.stack([dataset.index_value[indices], dataset.index_change[indices]], axis=1)


HEADLINE = {"precision": "precision", "recall": "recall", "f1": "f1", "roc_auc": "roc_auc", "bss": "brier_skill_score"}
"""The flat keys of the ``train`` metrics (``test_<key>`` and ``test_<key>_ci``) and the metric each reports."""


def headline(result: dict) -> dict:
    """``test_<key>`` (value) and ``test_<key>_ci`` ([low, high]) of the first network's test metrics."""
    flat = {}
    for key, name in HEADLINE.items():
        flat[f"test_{key}"] = result[name]["value"]
        flat[f"test_{key}_ci"] = [result[name]["ci_low"], result[name]["ci_high"]]
    return flat


def run_train(config: TrainConfig, folder: Path, device: torch.device | str = "cpu", progress: bool = False) -> dict:
    """``blocking train``: fit ``config.seeds`` networks, test them, compare with the baselines.

    Writes ``model.pt`` (the network of the first seed) and ``predictions.csv`` (its test
    probabilities) into ``folder``.

    Returns:
        Metrics: ``test_precision``, ``test_recall``, ``test_f1``, ``test_roc_auc``,
        ``test_bss`` (first seed, test split) each with ``test_*_ci`` = [low, high] (bootstrap;
        NaN with bootstrap 0), ``climatology_f1`` and ``logistic_f1`` (the baselines); ``cnn``
        (first seed: each of precision, recall, f1, roc_auc, brier_skill_score with ``value``
        and bootstrap ``ci_low`` / ``ci_high``), ``cnn_seeds`` (mean and std over seeds),
        ``climatology`` and ``logistic`` baselines (same form), ``samples`` per split,
        ``base_rate``, ``parameters``, ``epochs_run``, ``train_seconds``, ``training_days``
        (``config.train_days`` capped at the training days there are; None: all).
    """
    dataset = load_dataset(config.dataset)
    training_days = None
    if config.train_days is not None:
        dataset, training_days = dataset.first_training_days(config.train_days)
    return {**train_and_test(dataset, config, folder, device, progress), "training_days": training_days}


def train_and_test(
    dataset: BlockingDataset,
    config: FitConfig,
    folder: Path,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> dict:
    """:func:`run_train` on a dataset in memory (``config.dataset`` only names it in errors)."""
    folder = Path(folder)
    device = torch.device(device)
    days = config.persistence_days
    splits = {name: dataset.select(name, days) for name in ("train", "validation", "test")}
    for name, chosen in splits.items():
        if chosen.size == 0:
            raise InputError(f"{config.dataset}: the {name} split holds no labelled sample")
    labels = dataset.labels(days)
    if np.unique(labels[splits["train"]]).size < 2:
        raise InputError(
            f"{config.dataset}: the training split holds only one class "
            f"({splits['train'].size} samples); use more training days or another D"
        )
    train_labels, test_labels = labels[splits["train"]], labels[splits["test"]]
    base_rate = float(train_labels.mean())
    settings = FitSettings(config.epochs, config.batch_size, config.learning_rate, config.imbalance, config.patience)
    test_inputs = torch.as_tensor(dataset.inputs[splits["test"]], device=device)
    rng = np.random.default_rng(config.seed)
    per_seed, first, epochs_run = [], None, []
    started = time.perf_counter()
    for offset in range(config.seeds):
        model, history = train_network(dataset, settings, config.cnn, config.seed + offset, days, device, progress)
        probability = predict_probability(model, test_inputs)
        decisions = probability >= 0.5
        calibrated = prior_correction(probability, 0.5, base_rate) if config.imbalance != "none" else probability
        result = evaluate(
            test_labels, calibrated, base_rate, config.bootstrap if offset == 0 else 0, rng, decisions=decisions
        )
        per_seed.append({name: result[name]["value"] for name in METRICS})
        epochs_run.append(history["epochs_run"])
        if offset == 0:
            first = result
            save_model(
                model,
                folder / "model.pt",
                config.cnn,
                {"persistence_days": days or dataset.persistence_days, "seed": config.seed},
            )
            _write_predictions(folder / "predictions.csv", dataset, splits["test"], test_labels, probability)
            parameters = count_parameters(model)
    seconds = time.perf_counter() - started
    summary = {
        name: {"mean": float(np.mean([s[name] for s in per_seed])), "std": float(np.std([s[name] for s in per_seed]))}
        for name in METRICS
    }
    climatology = climatology_baseline(train_labels, test_labels, config.bootstrap, rng)
    logistic = logistic_baseline(
        _index_features(dataset, splits["train"]),
        train_labels,
        _index_features(dataset, splits["test"]),
        test_labels,
        config.bootstrap,
        rng,
    )
    return {
        **headline(first),
        "climatology_f1": climatology["f1"]["value"],
        "logistic_f1": logistic["f1"]["value"],
        "cnn": first,
        "cnn_seeds": summary,
        "seeds": config.seeds,
        "climatology": climatology,
        "logistic": logistic,
        "samples": {name: int(chosen.size) for name, chosen in splits.items()},
        "base_rate": base_rate,
        "persistence_days": days or dataset.persistence_days,
        "parameters": parameters,
        "epochs_run": epochs_run,
        "train_seconds": seconds,
        "files": ["model.pt", "predictions.csv"],
    }


def _write_predictions(path: Path, dataset: BlockingDataset, indices, labels, probability) -> None:
    from sparse_core.infra.files import atomic_write

    with atomic_write(path, "w") as handle:
        handle.write("sample,member,onset_time,duration_days,label,probability\n")
        for k, index in enumerate(indices):
            handle.write(
                f"{index},{dataset.member[index]},{dataset.onset_time[index]},{dataset.duration[index]},"
                f"{labels[k]},{probability[k]:.6f}\n"
            )
