"""Matrix factorisation trained with the BPR loss (Rendle et al., UAI 2009)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from recsys.models.embeddings import EmbeddingRanker, UserItemEmbedding

__all__ = ["MF", "bpr_loss"]


def bpr_loss(positive: Tensor, negative: Tensor) -> Tensor:
    """Bayesian personalised ranking loss, ``-mean(log sigmoid(s_ui - s_uj))`` (Rendle 2009, Eq. 4).

    Shapes:
        - positive, negative: ``(batch,)``; return: scalar.
    """
    return -F.logsigmoid(positive - negative).mean()


class MF(EmbeddingRanker):
    """Scores ``s_ui = <e_u, e_i>``.

    Args:
        num_users, num_items, dim, joint, sparse_gradients: See :class:`UserItemEmbedding`.
        generator: Optional generator for the initialisation.
    """

    propagates = False

    def __init__(
        self,
        num_users: int,
        num_items: int,
        dim: int = 64,
        joint: bool = True,
        generator: torch.Generator | None = None,
        sparse_gradients: bool = False,
    ):
        super().__init__()
        self.embedding = UserItemEmbedding(
            num_users, num_items, dim, joint=joint, generator=generator, sparse_gradients=sparse_gradients
        )

    def final_embeddings(self) -> tuple[Tensor, Tensor]:
        """User and item representations used for scoring (here: the tables themselves)."""
        return self.embedding.split()
