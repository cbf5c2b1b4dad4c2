"""Multiply-accumulate (MAC) counts of the top-K models, dense and with masked embeddings.

A sparse embedding saves work where it is multiplied before anything mixes its entries:

- MF: a score ``<e_u, e_i>`` costs one MAC per dimension where both rows are nonzero;
- LightGCN: the first propagation ``A E`` costs, per edge, the nonzeros of the source row;
  later layers and the final scores mix rows and are counted dense.

Training costs 3x the forward pass (forward, and the two products of the backward pass),
the usual convention (e.g. RigL, Evci et al. 2020, Appendix H).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["topk_macs"]


def _row_nonzeros(weight: Tensor) -> Tensor:
    return (weight != 0).sum(1).double()


@torch.no_grad()
def topk_macs(model, batch_size: int, dense: bool = False) -> dict[str, float]:
    """MACs of one training step and of a full-ranking inference over all users.

    Args:
        model: :class:`~recsys.models.mf.MF` or :class:`~recsys.models.lightgcn.LightGCN`.
        batch_size: (user, positive, negative) triples per step.
        dense: Count as if every weight were nonzero.

    Returns:
        ``train_macs_per_step`` and ``inference_macs`` (score every item for every user).
    """
    users_w, items_w = model.embedding.split()
    num_users, num_items, dim = users_w.shape[0], items_w.shape[0], users_w.shape[1]
    if dense:
        users_nz = torch.full((num_users,), float(dim), dtype=torch.float64)
        items_nz = torch.full((num_items,), float(dim), dtype=torch.float64)
        per_dim_users = torch.full((dim,), float(num_users), dtype=torch.float64)
        per_dim_items = torch.full((dim,), float(num_items), dtype=torch.float64)
    else:
        users_nz, items_nz = _row_nonzeros(users_w), _row_nonzeros(items_w)
        per_dim_users = (users_w != 0).sum(0).double()
        per_dim_items = (items_w != 0).sum(0).double()
    adjacency = getattr(model, "adjacency", None)
    if adjacency is None:  # MF
        pair = float((per_dim_users * per_dim_items).sum()) / (num_users * num_items)  # mean overlap of a pair
        inference = float((per_dim_users * per_dim_items).sum())
        forward = 2 * batch_size * pair
    else:  # LightGCN
        layers = len(model.convs)
        degree = torch.diff(adjacency.crow_indices()).double().cpu()
        rows_nz = torch.cat([users_nz, items_nz])
        first = float((degree * rows_nz).sum())  # sum over edges of the source row's nonzeros (A symmetric)
        rest = float(degree.sum()) * dim * (layers - 1)
        propagation = first + rest
        inference = propagation + num_users * num_items * dim
        forward = propagation + 2 * batch_size * dim
    return {"train_macs_per_step": 3 * forward, "inference_macs": inference}
