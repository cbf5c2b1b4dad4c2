"""User and item embedding tables, as one joint table or as two separate ones.

The DSL reference code keeps LightGCN's users and items in one table, so one per-tensor
parameter budget covers both and their split can drift during training (Wang et al. 2024);
two tables give users and items separate budgets.

With ``sparse_gradients`` the rows a step uses are read through
:func:`sparse_core.masks.embedding_lookup` (``F.embedding(ids, original, sparse=True)``
times the mask's rows), so the gradient of a table is a sparse COO tensor of the touched
rows (train it with ``torch.optim.SparseAdam``, :func:`recsys.trainer.make_optimizer`).
MF touches the batch's users and items only; LightGCN's propagation reads every row, so its
gradient holds every row (the format changes, not the size).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from sparse_core.masks import embedding_lookup

__all__ = ["EmbeddingRanker", "UserItemEmbedding"]


class UserItemEmbedding(nn.Module):
    """Embedding rows for ``num_users`` users followed by ``num_items`` items.

    Args:
        num_users: Users.
        num_items: Items.
        dim: Embedding size.
        joint: One table ``table.weight`` of ``num_users + num_items`` rows if True, else
            ``users.weight`` and ``items.weight``.
        init_std: Standard deviation of the normal initialisation (LightGCN: 0.1).
        generator: Optional generator for the initialisation.
        sparse_gradients: Read rows through :func:`sparse_core.masks.embedding_lookup`, so that
            the tables' gradients are row-sparse (see the module docstring).
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        dim: int,
        joint: bool = True,
        init_std: float = 0.1,
        generator: torch.Generator | None = None,
        sparse_gradients: bool = False,
    ):
        super().__init__()
        self.num_users, self.num_items, self.dim, self.joint = num_users, num_items, dim, joint
        self.sparse_gradients = sparse_gradients
        if joint:
            self.table = nn.Embedding(num_users + num_items, dim)
            tables = [self.table]
        else:
            self.users = nn.Embedding(num_users, dim)
            self.items = nn.Embedding(num_items, dim)
            tables = [self.users, self.items]
        with torch.no_grad():
            for table in tables:
                table.weight.normal_(0.0, init_std, generator=generator)

    def tables(self) -> list[nn.Embedding]:
        """The embedding modules: ``[table]`` or ``[users, items]``."""
        return [self.table] if self.joint else [self.users, self.items]

    def user_rows(self, users: Tensor) -> Tensor:
        """Rows of ``users`` (masked, with a row-sparse gradient under ``sparse_gradients``).

        Shapes:
            - users: ``(batch,)``; return: ``(batch, dim)``.
        """
        if not self.sparse_gradients:
            return self.split()[0][users]
        return embedding_lookup(self.table if self.joint else self.users, users)

    def item_rows(self, items: Tensor) -> Tensor:
        """Rows of ``items`` (item indices from 0), as :meth:`user_rows`."""
        if not self.sparse_gradients:
            return self.split()[1][items]
        if self.joint:
            return embedding_lookup(self.table, items + self.num_users)
        return embedding_lookup(self.items, items)

    def all(self) -> Tensor:
        """Every row, users first.

        Shapes:
            - return: ``(num_users + num_items, dim)``
        """
        if self.sparse_gradients and torch.is_grad_enabled():
            return torch.cat(
                [
                    embedding_lookup(table, torch.arange(table.num_embeddings, device=_device(table)))
                    for table in self.tables()
                ]
            )
        if self.joint:
            return self.table.weight
        return torch.cat([self.users.weight, self.items.weight], dim=0)

    def split(self) -> tuple[Tensor, Tensor]:
        """``(user rows, item rows)`` of shapes ``(num_users, dim)`` and ``(num_items, dim)``."""
        if self.joint:
            weight = self.table.weight
            return weight[: self.num_users], weight[self.num_users :]
        return self.users.weight, self.items.weight


def _device(table: nn.Module) -> torch.device:
    return next(table.parameters()).device


class EmbeddingRanker(nn.Module):
    """Base of the top-K models: an ``embedding`` (:class:`UserItemEmbedding`) and
    ``final_embeddings()``; scores are inner products ``s_ui = <e_u, e_i>``."""

    embedding: UserItemEmbedding
    #: Whether final_embeddings() mixes rows (LightGCN) or returns the tables themselves (MF).
    propagates: bool = True

    def final_embeddings(self) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def forward(self, users: Tensor, positives: Tensor, negatives: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """BPR triple scores and the squared norm of the batch's raw embeddings.

        Returns:
            ``(s_ui, s_uj, l2)`` where ``l2 = (|e_u|^2 + |e_i|^2 + |e_j|^2).sum() / 2 / batch``.

        Shapes:
            - users, positives, negatives: ``(batch,)``; s_ui, s_uj: ``(batch,)``; l2: scalar.
        """
        if self.embedding.sparse_gradients:
            return self._sparse_forward(users, positives, negatives)
        with parametrize.cached():  # a masked table is computed once, not once per access
            user_rows, item_rows = self.final_embeddings()
            ego_u, ego_i = self.embedding.split()
        u, i, j = user_rows[users], item_rows[positives], item_rows[negatives]
        l2 = ego_u[users].pow(2).sum() + ego_i[positives].pow(2).sum() + ego_i[negatives].pow(2).sum()
        return (u * i).sum(-1), (u * j).sum(-1), l2 / 2 / users.numel()

    def _sparse_forward(self, users: Tensor, positives: Tensor, negatives: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`forward` with row-sparse table gradients: the raw rows come from lookups."""
        ego_u = self.embedding.user_rows(users)
        ego_i, ego_j = self.embedding.item_rows(positives), self.embedding.item_rows(negatives)
        if self.propagates:
            user_rows, item_rows = self.final_embeddings()
            u, i, j = user_rows[users], item_rows[positives], item_rows[negatives]
        else:
            u, i, j = ego_u, ego_i, ego_j
        l2 = ego_u.pow(2).sum() + ego_i.pow(2).sum() + ego_j.pow(2).sum()
        return (u * i).sum(-1), (u * j).sum(-1), l2 / 2 / users.numel()

    @torch.no_grad()
    def score_users(self, users: Tensor) -> Tensor:
        """Scores of every item for each user.

        Shapes:
            - users: ``(batch,)``; return: ``(batch, num_items)``.
        """
        user_rows, item_rows = self.final_embeddings()
        return user_rows[users] @ item_rows.T
