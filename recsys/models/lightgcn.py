"""LightGCN (He et al., SIGIR 2020) on torch-geometric's ``LGConv``.

``E^(k+1) = D^-1/2 A D^-1/2 E^(k)`` over the user-item bipartite graph (Eq. 7), and the
final representation is the mean ``sum_k E^(k) / (K + 1)`` (Eq. 8, alpha_k = 1/(K+1)). The
normalised adjacency is built once from the training interactions and handed to
``LGConv(normalize=False)``, so no normalisation is recomputed per step.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor, nn

from recsys.models.embeddings import EmbeddingRanker, UserItemEmbedding

__all__ = ["LightGCN", "normalized_adjacency"]


def normalized_adjacency(
    users: np.ndarray, items: np.ndarray, num_users: int, num_items: int, device: torch.device | str = "cpu"
) -> Tensor:
    """The symmetric normalised bipartite adjacency ``D^-1/2 A D^-1/2`` as a sparse CSR tensor.

    Nodes ``0..num_users-1`` are users, ``num_users..`` items. Duplicate pairs count once.

    Shapes:
        - users, items: ``(interactions,)``; return: ``(num_users + num_items,) * 2``.
    """
    nodes = num_users + num_items
    keys = np.unique(np.asarray(users, dtype=np.int64) * num_items + np.asarray(items, dtype=np.int64))
    u, i = keys // num_items, keys % num_items + num_users
    rows = np.concatenate([u, i])
    cols = np.concatenate([i, u])
    degree = np.bincount(rows, minlength=nodes).astype(np.float64)
    inv_sqrt = np.zeros(nodes)
    inv_sqrt[degree > 0] = degree[degree > 0] ** -0.5
    values = inv_sqrt[rows] * inv_sqrt[cols]
    coo = torch.sparse_coo_tensor(
        torch.as_tensor(np.stack([rows, cols])),
        torch.as_tensor(values, dtype=torch.float32),
        (nodes, nodes),
        check_invariants=True,
    ).coalesce()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return coo.to_sparse_csr().to(device)


class LightGCN(EmbeddingRanker):
    """LightGCN with ``layers`` ``LGConv`` propagations over a fixed normalised adjacency.

    Args:
        num_users, num_items, dim, joint, sparse_gradients: See :class:`UserItemEmbedding`.
        adjacency: Output of :func:`normalized_adjacency` (kept as a plain attribute, not a
            buffer: it is data, not state, and is not saved with the model).
        layers: Number of propagation layers K (paper: 3).
        generator: Optional generator for the initialisation.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        adjacency: Tensor,
        dim: int = 64,
        layers: int = 3,
        joint: bool = True,
        generator: torch.Generator | None = None,
        sparse_gradients: bool = False,
    ):
        super().__init__()
        from torch_geometric.nn import LGConv

        expected = (num_users + num_items,) * 2
        if tuple(adjacency.shape) != expected:
            raise ValueError(f"adjacency has shape {tuple(adjacency.shape)}, expected {expected}")
        self.embedding = UserItemEmbedding(
            num_users, num_items, dim, joint=joint, generator=generator, sparse_gradients=sparse_gradients
        )
        self.convs = nn.ModuleList(LGConv(normalize=False) for _ in range(layers))
        self.adjacency = adjacency

    def propagate(self) -> Tensor:
        """``sum_k E^(k) / (K + 1)`` for every node.

        Shapes:
            - return: ``(num_users + num_items, dim)``
        """
        x = self.embedding.all()
        total = x
        for conv in self.convs:
            x = conv(x, self.adjacency)
            total = total + x
        return total / (len(self.convs) + 1)

    def final_embeddings(self) -> tuple[Tensor, Tensor]:
        """Propagated user and item representations."""
        out = self.propagate()
        return out[: self.embedding.num_users], out[self.embedding.num_users :]
