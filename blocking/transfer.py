"""Transfer learning from the model to a scarce target (ERA5): pre-train, fine-tune, compare.

The authors' protocol (Zhang et al. 2024; hzhang-math/BlockingSHAPTL, ``Fig8_TL-compute.py``):
a network pre-trained on the Marshall–Molteni run is fine-tuned on ERA5 with every layer
frozen but the last (Adam, learning rate 1e-4, 20 epochs, class weights), in 10-fold
cross-validation × 10 seeds, and compared with the same network trained directly on the
ERA5 folds and with the pre-trained network unchanged. A one-sided Wilcoxon signed-rank
test (``scipy.stats.wilcoxon``, alternative "greater") on the paired (fold, seed) scores
asks whether transfer beats direct training, for F1 and for recall.

The target's inputs are re-standardised in each fold with the statistics of that fold's
training samples. All randomness comes from explicit generators seeded from ``seed``.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import torch

from blocking.cnn import BlockingCNN, initialise
from blocking.config import TransferConfig
from blocking.dataset import BlockingDataset, load_dataset, standardise
from blocking.metrics import classification_metrics
from blocking.training import FitSettings, fit, load_model, predict_probability, save_model, train_network
from sparse_core.infra.errors import InputError

__all__ = ["fine_tune", "kfold", "run_transfer", "wilcoxon_greater"]

log = logging.getLogger(__name__)
SCORES = ("precision", "recall", "f1")


def kfold(count: int, folds: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``folds`` disjoint test folds covering a random permutation of ``range(count)``."""
    if folds > count:
        raise InputError(f"{folds} folds need at least {folds} target samples, got {count}")
    return np.array_split(rng.permutation(count), folds)


def fine_tune(
    model: BlockingCNN,
    train: tuple[torch.Tensor, torch.Tensor],
    settings: FitSettings,
    layers: str,
    generator: torch.Generator,
) -> BlockingCNN:
    """A copy of ``model`` fine-tuned on ``train``: only the last layer (``"last"``) or all layers."""
    tuned = copy.deepcopy(model)
    if layers == "last":
        for parameter in tuned.parameters():
            parameter.requires_grad_(False)
        trainable = list(tuned.last_layer().parameters())
        for parameter in trainable:
            parameter.requires_grad_(True)
    else:
        trainable = list(tuned.parameters())
    fit(tuned, train, None, settings, generator, parameters=trainable)
    return tuned


def wilcoxon_greater(better: np.ndarray, baseline: np.ndarray) -> float:
    """One-sided Wilcoxon signed-rank p-value that ``better`` exceeds ``baseline`` (paired); 1 when all equal."""
    from scipy.stats import wilcoxon

    differences = np.asarray(better, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    if np.allclose(differences, 0.0):
        return 1.0
    return float(wilcoxon(differences, alternative="greater").pvalue)


def _scores(model: BlockingCNN, inputs: torch.Tensor, labels: np.ndarray, base_rate: float) -> dict[str, float]:
    probability = predict_probability(model, inputs)
    values = classification_metrics(labels, probability, base_rate)
    return {name: values[name] for name in SCORES}


def _pretrained(config: TransferConfig, source: BlockingDataset, folder: Path, device, progress) -> BlockingCNN:
    if config.pretrained is not None:
        model, payload = load_model(config.pretrained, device)
        if tuple(payload["input_shape"]) != tuple(source.inputs.shape[1:]):
            raise InputError(
                f"{config.pretrained}: takes inputs {tuple(payload['input_shape'])}, the source dataset "
                f"has {tuple(source.inputs.shape[1:])}"
            )
        return model
    settings = FitSettings(config.pretrain_epochs, 64, config.pretrain_learning_rate, "balanced_batches", 5)
    model, _ = train_network(source, settings, config.cnn, config.seed, config.persistence_days, device, progress)
    save_model(
        model,
        folder / "pretrained.pt",
        config.cnn,
        {"persistence_days": config.persistence_days or source.persistence_days, "seed": config.seed},
    )
    return model


def run_transfer(
    config: TransferConfig, folder: Path, device: torch.device | str = "cpu", progress: bool = False
) -> dict:
    """``blocking transfer``: direct training vs the pre-trained network vs fine-tuning, k-fold × seeds.

    Returns:
        Metrics: ``direct_f1``, ``pretrained_f1``, ``transfer_f1`` (and ``*_recall``,
        ``*_precision``), each ``{"mean", "std"}`` over folds × seeds; ``wilcoxon_p_f1``,
        ``wilcoxon_p_recall`` (one-sided, transfer > direct); ``folds``, ``seeds``,
        ``target_samples``, ``target_persistent``, ``finetune``.
    """
    from tqdm.auto import tqdm

    folder = Path(folder)
    device = torch.device(device)
    source, target = load_dataset(config.source), load_dataset(config.target)
    if source.inputs.shape[1:] != target.inputs.shape[1:]:
        raise InputError(
            f"{config.target}: target inputs {target.inputs.shape[1:]} differ from the source's "
            f"{source.inputs.shape[1:]}; regrid the target to the model grid (same latitudes)"
        )
    pretrained = _pretrained(config, source, folder, device, progress)
    labelled = np.flatnonzero(target.labels(config.persistence_days) >= 0)
    labels = target.labels(config.persistence_days)[labelled]
    raw = target.raw_inputs(labelled)
    if labels.min() == labels.max():
        raise InputError(f"{config.target}: all target labels are {labels[0]}; transfer needs both classes")
    rng = np.random.default_rng(config.seed)
    folds = kfold(labelled.size, config.folds, rng)
    finetune_settings = FitSettings(
        config.finetune_epochs, config.batch_size, config.finetune_learning_rate, "class_weights", 0
    )
    direct_settings = FitSettings(
        config.direct_epochs, config.batch_size, config.direct_learning_rate, "class_weights", 0
    )
    scores = {kind: {name: [] for name in SCORES} for kind in ("direct", "pretrained", "transfer")}
    runs = [(k, s) for k in range(config.folds) for s in range(config.seeds)]
    for fold, seed in tqdm(runs, disable=not progress, desc="folds x seeds"):
        test = folds[fold]
        train = np.setdiff1d(np.arange(labelled.size), test)
        inputs, _, _ = standardise(raw, train)
        as_tensor = torch.as_tensor(inputs, device=device)
        train_pair = (as_tensor[train], torch.as_tensor(labels[train], device=device))
        base_rate = float(labels[train].mean())
        generator = torch.Generator().manual_seed(int(config.seed) * 1_000_003 + fold * 1009 + seed)
        direct = initialise(BlockingCNN(inputs.shape[1:], config.cnn), generator).to(device)
        fit(direct, train_pair, None, direct_settings, generator)
        tuned = fine_tune(pretrained, train_pair, finetune_settings, config.finetune, generator)
        for kind, model in (("direct", direct), ("pretrained", pretrained), ("transfer", tuned)):
            for name, value in _scores(model, as_tensor[test], labels[test], base_rate).items():
                scores[kind][name].append(value)
    metrics = {
        f"{kind}_{name}": {"mean": float(np.mean(values)), "std": float(np.std(values))}
        for kind, per_kind in scores.items()
        for name, values in per_kind.items()
    }
    metrics.update(
        wilcoxon_p_f1=wilcoxon_greater(scores["transfer"]["f1"], scores["direct"]["f1"]),
        wilcoxon_p_recall=wilcoxon_greater(scores["transfer"]["recall"], scores["direct"]["recall"]),
        folds=config.folds,
        seeds=config.seeds,
        finetune=config.finetune,
        target_samples=int(labelled.size),
        target_persistent=int(labels.sum()),
        pretrained_file="pretrained.pt" if config.pretrained is None else None,
    )
    return metrics
