"""Exporting a trained top-K model (a ``recsys topk`` run) to a serving file (:mod:`recsys.serving`).

A topk run folder holds ``config.toml`` and ``best.pt`` (the best state: every table at
full size with its DSL mask beside it). The export rebuilds the run's split from its
config (the same data and ``split_seed`` give the same split), loads the state, and writes
the final (or layer-0) tables without masks, the known items of every user and the raw
ids. ``serving_metrics`` scores a served model exactly as the run's test evaluation did.
"""

from __future__ import annotations

import io
import json
import logging
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recsys.config import ExportConfig, TopKConfig
from recsys.data.movielens import Interactions
from recsys.data.splits import TopKSplit
from recsys.metrics import topk_metrics, user_item_matrix
from recsys.models.embeddings import EmbeddingRanker
from recsys.serving import MODEL_FILE, ServingModel, load_serving_model, pack_serving, save_serving
from sparse_core.infra.errors import InputError
from sparse_core.infra.runtime import config_from_dict

__all__ = ["ExportConfig", "TrainedRun", "export_model", "load_topk_run", "run_export", "serving_metrics"]

log = logging.getLogger(__name__)

CHECKPOINT = "best.pt"


@dataclass(frozen=True)
class TrainedRun:
    """A topk run folder, loaded.

    Attributes:
        folder: The run folder.
        config: Its settings (config.toml).
        split: Its train / validation / test split, rebuilt from the config.
        model: The best state (best.pt), masks applied, in eval mode.
        metrics: Its metrics.json (empty when the run did not finish).
    """

    folder: Path
    config: TopKConfig
    split: TopKSplit
    model: EmbeddingRanker
    metrics: dict[str, Any]


def load_topk_run(path: Path | str) -> TrainedRun:
    """Loads a ``recsys topk`` run folder (or its ``best.pt``) on the CPU.

    Raises:
        FileNotFoundError: no such folder, or no config.toml / best.pt in it.
        InputError: a config.toml or best.pt that does not load, or a best.pt that does not
            fit the model of config.toml (the data changed since training).
    """
    from recsys.dsl import sparsify
    from recsys.topk import build_model, load_split

    path = Path(path)
    folder = path.parent if path.is_file() else path
    for name in ("config.toml", CHECKPOINT):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder}: no {name}; give a 'sparseworks recsys topk' run folder "
                "(best.pt appears after its first validation)"
            )
    try:
        values = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))
        values.pop("run", None)
        config = config_from_dict(TopKConfig, values, where=str(folder / "config.toml"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, TypeError, ValueError) as error:
        raise InputError(f"{folder / 'config.toml'}: not the config of a topk run ({error})") from None
    try:
        state = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise InputError(
            f"{folder / CHECKPOINT}: not a readable checkpoint ({type(error).__name__}: {error})"
        ) from None
    split = load_split(config)
    generator = torch.Generator().manual_seed(0)
    model = build_model(config, split.train, torch.device("cpu"), generator)
    if config.dsl.sparse:  # any mask of the right structure; load_state_dict brings the trained one
        sparsify(model, config.dsl.density, generator, initial_mask=config.dsl.initial_mask)
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError) as error:
        raise InputError(
            f"{folder / CHECKPOINT} does not fit the {config.model} of config.toml on its data "
            f"({split.train.num_users} users, {split.train.num_items} items): {str(error).splitlines()[0]}; "
            "the data may have changed since training"
        ) from None
    model.eval()
    metrics_path = folder / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    return TrainedRun(folder, config, split, model, metrics)


def _known(split: TopKSplit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every user's known interactions (training and validation) and which are training."""
    train, valid = split.train, split.valid
    return (
        np.concatenate([train.users, valid.users]),
        np.concatenate([train.items, valid.items]),
        np.concatenate([np.ones(len(train), dtype=bool), np.zeros(len(valid), dtype=bool)]),
    )


@torch.no_grad()
def export_model(
    model: EmbeddingRanker,
    split: TopKSplit,
    path: Path | str,
    *,
    layout: str = "auto",
    header: dict[str, Any] | None = None,
) -> Path:
    """Writes the serving file of a trained MF or LightGCN model (masks dropped).

    Args:
        model: The trained model (masked or dense).
        split: Its split: the training graph, and the known items excluded from rankings.
        path: The ``.npz`` to write (atomically).
        layout: See :func:`recsys.serving.pack_serving`.
        header: More header entries.

    Returns:
        ``path``.
    """
    return save_serving(path, _pack(model, split, layout, header))


def _pack(model: EmbeddingRanker, split: TopKSplit, layout: str, header: dict[str, Any] | None) -> dict:
    from recsys.models.lightgcn import LightGCN

    with torch.no_grad():
        final = tuple(t.detach().cpu().float().numpy() for t in model.final_embeddings())
        layer0 = tuple(t.detach().cpu().float().numpy() for t in model.embedding.split())
    is_lightgcn = isinstance(model, LightGCN)
    return pack_serving(
        model="lightgcn" if is_lightgcn else "mf",
        layers=len(model.convs) if is_lightgcn else 0,
        layer0=layer0,
        final=final,
        user_ids=split.train.user_ids,
        item_ids=split.train.item_ids,
        known=_known(split),
        layout=layout,
        header=header,
    )


def serving_metrics(model: ServingModel, test: Interactions, ks: Sequence[int] = (10, 20)) -> dict[str, float]:
    """Full-ranking Recall@K / NDCG@K of a served model, the known items excluded.

    The same computation as a topk run's test evaluation (:func:`recsys.metrics.topk_metrics`),
    with the served scores.
    """
    rows = np.repeat(np.arange(model.num_users), np.diff(model.known_indptr))
    known = user_item_matrix(rows, model.known_indices.astype(np.int64), model.num_users, model.num_items)
    test_matrix = user_item_matrix(test.users, test.items, model.num_users, model.num_items)

    def score(users: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(model.score(users.numpy())))

    return topk_metrics(score, test_matrix, known, ks)


def run_export(config: ExportConfig, folder: Path) -> dict[str, Any]:
    """Exports a topk run into ``folder/model.npz``; what ``sparseworks recsys export`` runs.

    Returns:
        ``path``, ``layout``, ``bytes`` (the file), ``dense_bytes`` (the same model in the
        dense layout), ``checkpoint_bytes`` (the run's best.pt), their ratios, the scoring
        columns and nonzeros, and with ``check`` the served test metrics beside the run's.

    Raises:
        InputError: see :func:`load_topk_run`; the export folder is the run folder; with
            ``check``, served metrics that differ from the run's by more than 1e-3.
    """
    run = load_topk_run(config.model)
    if Path(folder).resolve() == run.folder.resolve():
        raise InputError(f"{folder}: the export folder is the topk run folder itself; give another --out")
    train = run.config
    header = {
        "source": str(run.folder),
        "dataset": train.dataset if train.data.path is None else None,
        "data_path": str(train.data.path) if train.data.path is not None else None,
        "density": train.dsl.density,
        "ks": list(train.ks),
        "run_metrics": {k: run.metrics[k] for k in run.metrics if k.startswith(("recall@", "ndcg@"))},
    }
    arrays = _pack(run.model, run.split, config.layout, header)
    path = save_serving(Path(folder) / MODEL_FILE, arrays)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **_pack(run.model, run.split, "dense", header))
    written = json.loads(str(arrays["header"]))
    size, dense_size = path.stat().st_size, len(buffer.getvalue())
    checkpoint_size = (run.folder / CHECKPOINT).stat().st_size
    metrics: dict[str, Any] = {
        "path": str(path),
        "layout": written["layout"],
        "model": written["model"],
        "bytes": size,
        "dense_bytes": dense_size,
        "checkpoint_bytes": checkpoint_size,
        "ratio_to_dense": size / dense_size,
        "ratio_to_checkpoint": size / checkpoint_size,
        "scoring_columns": written["scoring_columns"],
        "embedding_dim": written["embedding_dim"],
        "nonzeros": written["nonzeros"],
        "users": written["num_users"],
        "items": written["num_items"],
    }
    if config.check:
        served = serving_metrics(load_serving_model(path), run.split.test, train.ks)
        served.pop("users")
        expected = header["run_metrics"]
        differences = [abs(served[k] - expected[k]) for k in served if k in expected]
        difference = max(differences) if differences else None
        metrics.update({"served": served, "run": expected, "max_metric_difference": difference})
        if difference is not None and difference > 1e-3:
            raise InputError(
                f"{run.folder}: the exported model's test metrics {served} differ from the run's "
                f"metrics.json {expected} (by {difference:.2g}): the data or split changed since training"
            )
        if difference is not None and difference > 1e-6:
            log.warning("served metrics differ from the run's by %.2g (near-tied scores ranked apart)", difference)
    return metrics
