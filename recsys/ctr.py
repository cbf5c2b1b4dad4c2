"""Click-through-rate prediction with AutoInt / AutoInt+ on categorical fields.

The ml100k CTR task: label ``rating >= 4``, eight categorical fields, a random 80/10/10
split with seed 2020; vocabularies are fitted on the training rows, so unseen values in
validation / test map to the out-of-vocabulary id. Training minimises the binary
cross-entropy with Adam and stops early on validation AUC (Song et al. 2019, Sec. 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from recsys.config import CTRConfig
from recsys.data.features import FieldEncoder
from recsys.data.movielens import CTRTable
from recsys.data.splits import random_split
from recsys.distributed import context, local_slice, process_group
from recsys.metrics import auc, logloss
from recsys.models.autoint import AutoInt
from recsys.trainer import fit
from sparse_core.infra.errors import InputError

__all__ = ["CTRConfig", "CTRData", "load_ctr_data", "predict", "prepare_ctr", "run_ctr", "train_ctr"]


@dataclass(frozen=True)
class CTRData:
    """Encoded CTR splits.

    Attributes:
        ids: ``"train"``, ``"valid"``, ``"test"`` -> int64 ids ``(rows, fields)``.
        labels: Same keys -> float32 labels ``(rows,)``.
        encoder: The fitted :class:`FieldEncoder` (training rows only).
    """

    ids: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    encoder: FieldEncoder

    @property
    def cardinalities(self) -> list[int]:
        return self.encoder.cardinalities


def prepare_ctr(table: CTRTable, config: CTRConfig) -> CTRData:
    """Splits the table, fits the vocabularies on the training rows and encodes every split.

    Raises:
        InputError: a split without both classes (its AUC would be undefined), e.g. when
            ``max_rows`` keeps only a handful of rows.
    """
    parts = dict(zip(("train", "valid", "test"), random_split(len(table), config.fractions, config.split_seed)))
    for name, rows in parts.items():
        positives = int(table.labels[rows].sum())
        if positives in (0, rows.size):
            kept = f"; max_rows={config.max_rows} kept too few rows" if config.max_rows is not None else ""
            raise InputError(
                f"the {name} split of {config.dataset} has {rows.size} rows with {positives} positives: "
                f"AUC needs both classes{kept}"
            )
    encoder = FieldEncoder(table.fields, config.min_count).fit(table.values, parts["train"])
    encoded = encoder.transform(table.values)
    return CTRData(
        ids={k: encoded[v] for k, v in parts.items()},
        labels={k: table.labels[v] for k, v in parts.items()},
        encoder=encoder,
    )


@torch.no_grad()
def predict(model: AutoInt, ids: np.ndarray, device: torch.device, batch_size: int = 8192) -> np.ndarray:
    """Click probabilities for encoded rows.

    Shapes:
        - ids: ``(rows, fields)``; return: ``(rows,)`` float64.
    """
    model.eval()
    out = []
    for start in range(0, ids.shape[0], batch_size):
        logits, _ = model(torch.as_tensor(ids[start : start + batch_size], device=device))
        out.append(torch.sigmoid(logits).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train_ctr(
    config: CTRConfig,
    data: CTRData,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    folder: Path | None = None,
    progress: bool = False,
) -> dict:
    """Trains AutoInt / AutoInt+ with early stopping on validation AUC; runs under torchrun too.

    ``seed`` draws the initial weights and the order of the rows; dropout (AutoInt+) draws
    from torch's global generator, which the command line seeds once per run.

    Returns:
        ``test_auc``, ``test_logloss``, ``parameters``, ``samples_per_second`` (training),
        ``epoch_seconds``, ``best_epoch``, ``valid_auc`` and the per-epoch history ``epochs``.
    """
    device = torch.device(device)
    ctx = context()
    model = AutoInt(
        data.cardinalities, config.resolved_architecture(), generator=torch.Generator().manual_seed(seed)
    ).to(device)
    trained = model
    if ctx.active:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    train_ids = torch.as_tensor(data.ids["train"])
    train_labels = torch.as_tensor(data.labels["train"])

    def batches(epoch: int):
        order = torch.randperm(train_ids.shape[0], generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        for start in range(0, order.numel(), config.batch_size):
            rows = local_slice(order[start : start + config.batch_size], ctx)
            yield train_ids[rows].to(device), train_labels[rows].to(device)

    def loss(batch: tuple[Tensor, Tensor]) -> Tensor:
        logits, penalty = trained(batch[0])
        return F.binary_cross_entropy_with_logits(logits, batch[1]) + penalty

    def evaluate() -> dict[str, float]:
        p = predict(model, data.ids["valid"], device)
        return {"auc": auc(data.labels["valid"], p), "logloss": logloss(data.labels["valid"], p)}

    result = fit(
        model,
        optimizer,
        batches,
        loss,
        evaluate,
        config.trainer,
        folder=folder if ctx.is_main else None,
        progress=progress and ctx.is_main,
    )
    p = predict(model, data.ids["test"], device)
    return {
        "test_auc": auc(data.labels["test"], p),
        "test_logloss": logloss(data.labels["test"], p),
        "parameters": sum(t.numel() for t in model.parameters()),
        "samples_per_second": result.samples_per_second * ctx.world_size,
        "epoch_seconds": result.epoch_seconds,
        "best_epoch": result.best_epoch,
        "valid_auc": result.best_metrics.get("auc"),
        "valid_logloss": result.best_metrics.get("logloss"),
        "world_size": ctx.world_size,
        "epochs": result.history,
    }


def load_ctr_data(config: CTRConfig, folder: Path | None = None) -> CTRData:
    """The dataset of ``config``, split and encoded (fetched on first use unless ``folder`` is given)."""
    from recsys.data.movielens import load_ctr_table, ml100k_folder

    table = load_ctr_table(folder if folder is not None else ml100k_folder())
    if config.max_rows is not None:
        table = CTRTable(
            table.fields, {k: v[: config.max_rows] for k, v in table.values.items()}, table.labels[: config.max_rows]
        )
    return prepare_ctr(table, config)


def run_ctr(
    config: CTRConfig,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    folder: Path | None = None,
    progress: bool = False,
) -> dict:
    """Loads, splits and encodes the dataset, then :func:`train_ctr`; what ``sparseworks recsys ctr`` runs.

    Under ``torchrun`` every process calls this: it joins the process group from the
    environment (:func:`recsys.distributed.process_group`; a GPU per process), trains its
    share of every batch, and leaves the group at the end. Only the main process should
    pass a ``folder``.
    """
    with process_group(device) as local_device:
        return train_ctr(
            config, load_ctr_data(config), seed=seed, device=local_device, folder=folder, progress=progress
        )
