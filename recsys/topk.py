"""Top-K recommendation: MF or LightGCN trained with BPR, dense or with DSL, full-ranking metrics.

The protocol of LightGCN and DSL (He et al. 2020; Wang et al. 2024): implicit feedback,
per-user random 80/20 split, a validation slice of the training part for early stopping on
Recall@20, uniform negative sampling, Adam, and Recall@K / NDCG@K over all items with the
user's known items excluded.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils import parametrize

from recsys.config import TopKConfig
from recsys.costs import topk_macs
from recsys.data.movielens import Interactions
from recsys.data.splits import TopKSplit
from recsys.distributed import allreduce_gradients, broadcast_masks, context, local_slice, process_group
from recsys.dsl import make_updater, parameter_counts, sparsify
from recsys.metrics import topk_metrics, user_item_matrix
from recsys.models.embeddings import EmbeddingRanker
from recsys.models.lightgcn import LightGCN, normalized_adjacency
from recsys.models.mf import MF, bpr_loss
from recsys.trainer import clean_partial_files, fit, make_optimizer
from sparse_core.infra.errors import ConfigError, InputError

__all__ = [
    "TopKConfig",
    "build_model",
    "check_split",
    "load_interactions_of",
    "load_split",
    "run_topk",
    "sample_negatives",
    "table_parameters",
    "train_topk",
]

log = logging.getLogger(__name__)


def build_model(
    config: TopKConfig, train: Interactions, device: torch.device, generator: torch.Generator
) -> EmbeddingRanker:
    """An MF or LightGCN model for the id space of ``train`` (LightGCN's graph is ``train``)."""
    sparse = config.sparse_gradients
    if config.model == "mf":
        model = MF(
            train.num_users,
            train.num_items,
            config.embedding_dim,
            config.joint_table,
            generator=generator,
            sparse_gradients=sparse,
        )
        return model.to(device)
    adjacency = normalized_adjacency(train.users, train.items, train.num_users, train.num_items, device=device)
    model = LightGCN(
        train.num_users,
        train.num_items,
        adjacency,
        config.embedding_dim,
        config.layers,
        config.joint_table,
        generator=generator,
        sparse_gradients=sparse,
    )
    return model.to(device)


def table_parameters(model: EmbeddingRanker) -> list[torch.nn.Parameter]:
    """The trained tensors of the embedding tables (a masked table's ``original``)."""
    out = []
    for table in model.embedding.tables():
        if parametrize.is_parametrized(table, "weight"):
            out.append(table.parametrizations.weight.original)
        else:
            out.append(table.weight)
    return out


def sample_negatives(users: np.ndarray, known_keys: np.ndarray, num_items: int, rng: np.random.Generator) -> np.ndarray:
    """One uniformly drawn item per user that the user has not interacted with.

    Draws are rejected and redrawn while they hit a known item; the rare row still hitting
    one after 100 rounds (a user who knows almost every item) draws from its unknown items
    directly.

    Args:
        users: User of every triple.
        known_keys: Sorted ``user * num_items + item`` of the known interactions.
        num_items: Items to draw from.
        rng: Random generator (its draws decide the negatives).

    Shapes:
        - users: ``(batch,)``; return: ``(batch,)`` int64.

    Raises:
        InputError: a user has interacted with every item (no negative exists).
    """
    negatives = rng.integers(0, num_items, size=users.shape[0])
    todo = np.arange(users.shape[0])
    for _ in range(100):
        keys = users[todo] * num_items + negatives[todo]
        position = np.minimum(np.searchsorted(known_keys, keys), known_keys.size - 1)
        clash = known_keys[position] == keys
        if not clash.any():
            return negatives
        todo = todo[clash]
        negatives[todo] = rng.integers(0, num_items, size=todo.size)
    for row in todo:
        user = int(users[row])
        lo, hi = np.searchsorted(known_keys, [user * num_items, (user + 1) * num_items])
        unknown = np.setdiff1d(np.arange(num_items), known_keys[lo:hi] - user * num_items)
        if unknown.size == 0:
            raise InputError(
                f"user index {user} has interacted with every one of the {num_items} items, "
                "so BPR has no negative item to sample"
            )
        negatives[row] = unknown[rng.integers(0, unknown.size)]
    return negatives


def train_topk(
    config: TopKConfig,
    split: TopKSplit,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    folder: Path | None = None,
    progress: bool = False,
) -> dict:
    """Trains and evaluates one top-K model; runs unchanged under ``torchrun`` (DDP).

    Args:
        config: The run's settings.
        split: Train / validation / test interactions.
        seed: Seeds initialisation, masks, shuffling and negatives.
        device: Where to train.
        folder: Run folder for ``best.pt`` and the per-epoch ``metrics.json``.
        progress: Show progress bars.

    Returns:
        Test ``recall@K`` / ``ndcg@K``, ``nonzeros``, ``dense_parameters``, ``density``,
        ``epoch_seconds``, ``samples_per_second``, ``train_cpu_seconds``, MAC counts (sparse and
        dense), the best validation metrics and the per-epoch history (``epochs``).
    """
    device = torch.device(device)
    ctx = context()
    train = split.train
    generator = torch.Generator().manual_seed(seed)
    model = build_model(config, train, device, generator)
    if config.dsl.sparse:
        sparsify(
            model, config.dsl.density, generator, rescale=config.dsl.rescale_init, initial_mask=config.dsl.initial_mask
        )
        empty = [name for name, density in parameter_counts(model)["tensor_densities"].items() if density == 0]
        if empty:
            raise ConfigError(
                f"DSLConfig.density {config.dsl.density:g} keeps no weight of {', '.join(empty)}", field="density"
            )
    trained, after_backward = model, None
    if ctx.active and config.sparse_gradients:
        # DDP takes a masked table's parameter for a dense one; every parameter here is a table
        if device.type == "cuda":
            raise ConfigError(
                "--sparse-gradients under torchrun needs the gloo backend (CPU)", field="sparse_gradients"
            )
        parameters = list(model.parameters())
        after_backward = lambda: allreduce_gradients(parameters, ctx)  # noqa: E731
    elif ctx.active:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model, forward_sync_buffers=False)
    # fused Adam: one kernel per step; the default single-tensor Adam takes sqrt of the exactly-zero
    # second moments of every masked weight, which torch's CPU sqrt does ~6x slower than of
    # positive values (~10% of an MF + DSL step on ml100k). Sparse gradients: SparseAdam on the tables.
    optimizer = make_optimizer(
        model.parameters(),
        config.learning_rate,
        sparse=table_parameters(model) if config.sparse_gradients else (),
        device=device,
    )
    steps_per_epoch = -(-len(train) // config.batch_size)
    updater = None
    if config.dsl.sparse:
        updater = make_updater(
            model,
            optimizer,
            config.dsl,
            steps_per_epoch * config.trainer.epochs,
            generator=torch.Generator().manual_seed(seed + 1),
        )

    def after_step(step: int) -> None:
        if updater is not None and updater.step(step):
            broadcast_masks(model, optimizer)

    known_keys = np.sort(train.users * train.num_items + train.items)
    users_t, items_t = torch.as_tensor(train.users), torch.as_tensor(train.items)

    def batches(epoch: int):
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(train))
        negatives = torch.as_tensor(sample_negatives(train.users[order], known_keys, train.num_items, rng))
        order = torch.as_tensor(order)
        for start in range(0, order.numel(), config.batch_size):
            rows = order[start : start + config.batch_size]
            batch = (users_t[rows], items_t[rows], negatives[start : start + config.batch_size])
            yield tuple(local_slice(t, ctx).to(device) for t in batch)

    def loss(batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        positive, negative, l2 = trained(*batch)
        return bpr_loss(positive, negative) + config.l2 * l2

    train_matrix = user_item_matrix(train.users, train.items, train.num_users, train.num_items)
    valid_matrix = user_item_matrix(split.valid.users, split.valid.items, train.num_users, train.num_items)
    test_matrix = user_item_matrix(split.test.users, split.test.items, train.num_users, train.num_items)
    known = user_item_matrix(
        np.concatenate([train.users, split.valid.users]),
        np.concatenate([train.items, split.valid.items]),
        train.num_users,
        train.num_items,
    )

    def score(users: Tensor) -> Tensor:
        return model.score_users(users.to(device))

    def evaluate() -> dict[str, float]:
        return topk_metrics(score, valid_matrix, train_matrix, config.ks)

    result = fit(
        model,
        optimizer,
        batches,
        loss,
        evaluate,
        config.trainer,
        after_step=after_step,
        after_backward=after_backward,
        folder=folder if ctx.is_main else None,
        progress=progress and ctx.is_main,
    )
    model.eval()
    test = topk_metrics(score, test_matrix, known, config.ks)
    counts = parameter_counts(model)
    sparse_macs = topk_macs(model, config.batch_size)
    dense_macs = topk_macs(model, config.batch_size, dense=True)
    metrics = {name: test[name] for name in test if name != "users"}
    metrics.update(
        {
            "nonzeros": counts["nonzeros"],
            "dense_parameters": counts["dense_parameters"],
            "density": counts["density"],
            "tensor_densities": counts["tensor_densities"],
            "epoch_seconds": result.epoch_seconds,
            "samples_per_second": result.samples_per_second * ctx.world_size,
            "train_cpu_seconds": result.train_cpu_seconds,
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "steps": result.steps,
            "train_macs_per_step": sparse_macs["train_macs_per_step"],
            "dense_train_macs_per_step": dense_macs["train_macs_per_step"],
            "inference_macs": sparse_macs["inference_macs"],
            "dense_inference_macs": dense_macs["inference_macs"],
            "exploration_rate": updater.exploration_rate() if updater is not None else 1.0,
            "mask_updates": updater.updates_done if updater is not None else 0,
            "valid": result.best_metrics,
            "world_size": ctx.world_size,
            "epochs": result.history,
        }
    )
    if updater is not None:
        updater.close()
    return metrics


def load_interactions_of(config: TopKConfig, folder: Path | None = None) -> Interactions:
    """The interactions of ``config``: its ``--data`` file, or the built-in dataset (fetched on first use).

    Args:
        config: The run's settings.
        folder: The built-in dataset's folder (default: the cache).
    """
    from recsys.data.movielens import find_inter_file, load_interactions, ml100k_folder, read_interactions

    by_time = config.split == "time"
    if config.data.path is None:
        return load_interactions(
            folder if folder is not None else ml100k_folder(), min_rating=config.min_rating, need_timestamps=by_time
        )
    spec = config.data
    return read_interactions(
        find_inter_file(spec.path),
        user_column=spec.user_column,
        item_column=spec.item_column,
        rating_column=spec.rating_column,
        timestamp_column=spec.timestamp_column,
        min_rating=config.min_rating,
        need_timestamps=by_time,
        max_malformed=spec.max_malformed,
    )


def check_split(split: TopKSplit, config: TopKConfig) -> None:
    """Rejects a split on which training or the metrics would be meaningless.

    Raises:
        InputError: no more items than the largest cut-off K, or no validation or test
            interaction.
    """
    train, source = split.train, split.train.source
    if train.num_items <= max(config.ks):
        raise InputError(
            f"{source}: {train.num_items} items, but Recall@K / NDCG@K with K = {max(config.ks)} "
            "rank more than the user has not seen; use a smaller --ks"
        )
    for name, part in (("validation", split.valid), ("test", split.test)):
        if len(part) == 0:
            raise InputError(
                f"{source}: no {name} interactions ({train.num_users} users, {len(train)} training "
                "interactions): each user needs at least 2 (better 5+) interactions to hold some out"
            )


def load_split(config: TopKConfig, folder: Path | None = None) -> TopKSplit:
    """The interactions of ``config`` split per user, checked (:func:`check_split`)."""
    from recsys.data.splits import split_per_user

    interactions = load_interactions_of(config, folder)
    split = split_per_user(
        interactions, config.test_fraction, config.valid_fraction, config.split_seed, by_time=config.split == "time"
    )
    check_split(split, config)
    return split


def run_topk(
    config: TopKConfig,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    folder: Path | None = None,
    progress: bool = False,
) -> dict:
    """Loads and splits the interactions, then :func:`train_topk`; what ``sparseworks recsys topk`` runs.

    Under ``torchrun`` every process calls this: it joins the process group from the
    environment (:func:`recsys.distributed.process_group`; a GPU per process), trains its
    share of every batch, and leaves the group at the end. Only the main process should
    pass a ``folder``; what a killed run left there is removed first (the run restarts).
    """
    if folder is not None:
        clean_partial_files(folder)
    with process_group(device) as local_device:
        return train_topk(config, load_split(config), seed=seed, device=local_device, folder=folder, progress=progress)
