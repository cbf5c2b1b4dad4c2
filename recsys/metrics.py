"""Evaluation metrics: full-ranking Recall@K / NDCG@K, and AUC / logloss for CTR.

Top-K metrics follow the LightGCN / DSL evaluation (He et al. 2020; Wang et al. 2024):
every item is ranked for every user, the user's known (training) items are excluded, and

- ``Recall@K = |top-K ∩ test| / |test|``,
- ``NDCG@K = sum_{r<K, item_r in test} 1/log2(r+2)  /  sum_{r<min(K,|test|)} 1/log2(r+2)``,

averaged over users with at least one test item.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["auc", "logloss", "rank_metrics", "topk_metrics", "user_item_matrix"]


def user_item_matrix(users: np.ndarray, items: np.ndarray, num_users: int, num_items: int) -> torch.Tensor:
    """A sparse CSR bool-valued (float 1.0) user x item matrix of the given pairs.

    Shapes:
        - users, items: ``(pairs,)``; return: ``(num_users, num_items)``.
    """
    index = torch.as_tensor(np.stack([users, items]), dtype=torch.long)
    values = torch.ones(index.shape[1])
    coo = torch.sparse_coo_tensor(index, values, (num_users, num_items), check_invariants=True).coalesce()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return coo.to_sparse_csr()


def _rows(matrix: Tensor, start: int, stop: int) -> Tensor:
    """Dense rows ``start:stop`` of a CSR matrix, as bool."""
    crow, col = matrix.crow_indices(), matrix.col_indices()
    lo, hi = int(crow[start]), int(crow[stop])
    counts = (crow[start + 1 : stop + 1] - crow[start:stop]).long()
    row = torch.repeat_interleave(torch.arange(stop - start), counts)
    out = torch.zeros(stop - start, matrix.shape[1], dtype=torch.bool)
    out[row, col[lo:hi].long()] = True
    return out


def rank_metrics(top_hits: Tensor, positives: Tensor, ks: Sequence[int]) -> dict[str, Tensor]:
    """Per-user Recall@K and NDCG@K from the hit pattern of a ranking.

    Args:
        top_hits: Whether the item at rank r (0-based) is a test item, for the top ``max(ks)``.
        positives: Number of test items per user (> 0).
        ks: Cut-offs.

    Returns:
        ``"recall@K"`` and ``"ndcg@K"`` -> per-user values.

    Shapes:
        - top_hits: ``(users, max(ks))`` bool; positives: ``(users,)``; outputs: ``(users,)``.
    """
    hits = top_hits.float()
    discounts = 1.0 / torch.log2(torch.arange(hits.shape[1], dtype=torch.float32) + 2.0)
    ideal = torch.cumsum(discounts, 0)
    out = {}
    for k in ks:
        out[f"recall@{k}"] = hits[:, :k].sum(1) / positives.float()
        dcg = (hits[:, :k] * discounts[:k]).sum(1)
        out[f"ndcg@{k}"] = dcg / ideal[torch.clamp(positives, max=k) - 1]
    return out


@torch.no_grad()
def topk_metrics(
    score_users: Callable[[Tensor], Tensor],
    test: Tensor,
    exclude: Tensor | None,
    ks: Sequence[int] = (10, 20),
    batch_users: int = 1024,
) -> dict[str, float]:
    """Full-ranking Recall@K and NDCG@K, vectorised over batches of users.

    Args:
        score_users: Maps a batch of user indices to scores over every item.
        test: CSR user x item matrix of the held-out interactions.
        exclude: CSR user x item matrix of items never to recommend (training items), or None.
        ks: Cut-offs.
        batch_users: Users scored at once.

    Returns:
        ``"recall@K"`` and ``"ndcg@K"`` averaged over users with a test item, plus ``"users"``.

    Shapes:
        - score_users(u): ``(len(u), num_items)``; test, exclude: ``(num_users, num_items)``.
    """
    num_users = test.shape[0]
    sums: dict[str, float] = {}
    evaluated = 0
    kmax = max(ks)
    for start in range(0, num_users, batch_users):
        stop = min(start + batch_users, num_users)
        truth = _rows(test, start, stop)
        positives = truth.sum(1)
        users = torch.arange(start, stop)[positives > 0]
        if users.numel() == 0:
            continue
        truth, positives = truth[positives > 0], positives[positives > 0]
        scores = score_users(users).float().cpu()
        if exclude is not None:
            scores = scores.masked_fill(_rows(exclude, start, stop)[(users - start)], float("-inf"))
        top = torch.topk(scores, kmax, dim=1).indices
        values = rank_metrics(truth.gather(1, top), positives, ks)
        for name, per_user in values.items():
            sums[name] = sums.get(name, 0.0) + float(per_user.sum())
        evaluated += users.numel()
    out = {name: total / max(evaluated, 1) for name, total in sums.items()}
    out["users"] = evaluated
    return out


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the Mann-Whitney rank statistic, ties counted as 1/2.

    Raises:
        ValueError: If ``labels`` holds a single class (AUC is undefined).
    """
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError(f"AUC needs both classes; found {positives} positives and {negatives} negatives")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    # average ranks (1-based) over runs of equal scores
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    stops = np.concatenate([boundaries, [scores.size]])
    average = (starts + stops + 1) / 2.0
    ranks[order] = np.repeat(average, stops - starts)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def logloss(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy, probabilities clipped to ``[eps, 1 - eps]``."""
    labels = np.asarray(labels, dtype=np.float64).ravel()
    p = np.clip(np.asarray(probabilities, dtype=np.float64).ravel(), eps, 1.0 - eps)
    return float(-np.mean(labels * np.log(p) + (1.0 - labels) * np.log(1.0 - p)))
