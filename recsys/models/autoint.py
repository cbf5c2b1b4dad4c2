"""AutoInt and AutoInt+ (Song et al., "AutoInt: Automatic Feature Interaction Learning via
Self-Attentive Neural Networks", CIKM 2019).

Every field is embedded (Eq. 2); interacting layers apply multi-head self-attention across
fields (Eqs. 5-7) with a residual projection and ReLU (Eq. 8); the outputs of all fields
are concatenated and mapped to a logit (Eq. 9). AutoInt+ adds a feed-forward network on
the concatenated embeddings and sums the two logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["AutoInt", "AutoIntConfig", "InteractingLayer"]


@dataclass(frozen=True)
class AutoIntConfig:
    """AutoInt's architecture; defaults are the paper's (embedding 16, 3 layers, 2 heads x 32).

    Attributes:
        embedding_dim: Field embedding size d.
        layers: Interacting layers.
        heads: Attention heads per layer.
        head_dim: Size d' of each head.
        residual: Residual connection in every interacting layer (Eq. 8).
        dnn_hidden: Hidden sizes of the AutoInt+ DNN; empty for plain AutoInt.
        dropout: Dropout on the DNN's hidden layers and the attention output.
        l2_embedding: L2 penalty on the embeddings looked up in a batch.
    """

    embedding_dim: int = 16
    layers: int = 3
    heads: int = 2
    head_dim: int = 32
    residual: bool = True
    dnn_hidden: tuple[int, ...] = ()
    dropout: float = 0.0
    l2_embedding: float = 0.0

    @classmethod
    def plus(cls, **overrides) -> AutoIntConfig:
        """AutoInt+ with a 400-400 DNN (Song et al. 2019, Sec. 5.1)."""
        return cls(**{"dnn_hidden": (400, 400), **overrides})


class InteractingLayer(nn.Module):
    """One multi-head self-attention layer over fields (Song et al. 2019, Eqs. 5-8).

    Args:
        in_dim: Size of each field's input vector.
        heads: Number of heads H.
        head_dim: Size d' of each head.
        residual: Add ``W_res x`` before the ReLU.

    Shapes:
        - input: ``(batch, fields, in_dim)``; output: ``(batch, fields, heads * head_dim)``.
    """

    def __init__(self, in_dim: int, heads: int, head_dim: int, residual: bool = True):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.width = heads * head_dim
        self.has_residual = residual
        # W_query, W_key, W_value (and W_res) of every head stacked into one projection
        self.projection = nn.Linear(in_dim, (4 if residual else 3) * self.width, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        batch, fields, _ = x.shape
        projected = self.projection(x)  # (batch, fields, 3 or 4 widths)
        q, k, v = (
            projected[..., i * self.width : (i + 1) * self.width]
            .reshape(batch, fields, self.heads, self.head_dim)
            .transpose(1, 2)
            for i in range(3)
        )
        # Eqs. 5-6: softmax(<q, k>) v, unscaled as in the paper (fused kernel, scale 1)
        attended = F.scaled_dot_product_attention(q, k, v, scale=1.0)
        out = attended.transpose(1, 2).reshape(batch, fields, self.width)  # Eq. 7: concatenated heads
        if self.has_residual:
            out = out + projected[..., 3 * self.width :]
        return torch.relu(out)  # Eq. 8


class AutoInt(nn.Module):
    """AutoInt (or AutoInt+ when ``config.dnn_hidden`` is set) over categorical fields.

    All fields share one embedding table with per-field row offsets.

    Args:
        cardinalities: Rows per field (vocabulary size incl. the out-of-vocabulary id 0).
        config: Architecture.
    """

    def __init__(self, cardinalities: Sequence[int], config: AutoIntConfig = AutoIntConfig()):
        super().__init__()
        self.config = config
        fields = len(cardinalities)
        offsets = torch.tensor([0, *list(cardinalities)[:-1]]).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)
        self.cardinalities = tuple(int(c) for c in cardinalities)
        self.embedding = nn.Embedding(sum(self.cardinalities), config.embedding_dim)
        nn.init.normal_(self.embedding.weight, std=1e-4 ** 0.5)
        dims = [config.embedding_dim] + [config.heads * config.head_dim] * config.layers
        self.interacting = nn.ModuleList(
            InteractingLayer(dims[i], config.heads, config.head_dim, config.residual) for i in range(config.layers)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(fields * dims[-1], 1)
        if config.dnn_hidden:
            blocks: list[nn.Module] = []
            width = fields * config.embedding_dim
            for hidden in config.dnn_hidden:
                blocks += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(config.dropout)]
                width = hidden
            blocks.append(nn.Linear(width, 1))
            self.dnn = nn.Sequential(*blocks)
        else:
            self.dnn = None

    def embed(self, ids: Tensor) -> Tensor:
        """Field embeddings; ids are per-field (0 = out of vocabulary).

        Shapes:
            - ids: ``(batch, fields)`` int64; return: ``(batch, fields, embedding_dim)``.
        """
        return self.embedding(ids + self.offsets)

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Logits and the batch's embedding L2 penalty (``l2_embedding * sum e^2 / batch``).

        Shapes:
            - ids: ``(batch, fields)``; logits: ``(batch,)``; penalty: scalar.
        """
        embedded = self.embed(ids)
        x = embedded
        for layer in self.interacting:
            x = layer(x)
        logit = self.output(self.dropout(x.flatten(1))).squeeze(-1)
        if self.dnn is not None:
            logit = logit + self.dnn(embedded.flatten(1)).squeeze(-1)
        penalty = self.config.l2_embedding * embedded.pow(2).sum() / ids.shape[0]
        return logit, penalty
