"""AutoInt and AutoInt+ (Song et al., "AutoInt: Automatic Feature Interaction Learning via
Self-Attentive Neural Networks", CIKM 2019).

Every field is embedded (Eq. 2); interacting layers apply multi-head self-attention across
fields (Eqs. 5-7) with a residual projection and ReLU (Eq. 8); the outputs of all fields
are concatenated and mapped to a logit (Eq. 9). AutoInt+ adds a feed-forward network on
the concatenated embeddings and sums the two logits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recsys.config import AutoIntConfig

__all__ = ["AutoInt", "AutoIntConfig", "InteractingLayer", "init_linear"]


@torch.no_grad()
def init_linear(layer: nn.Linear, generator: torch.Generator | None = None) -> None:
    """PyTorch's default ``nn.Linear`` initialisation, drawn from ``generator``.

    Weights ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (Kaiming uniform with ``a = sqrt(5)``), and
    the bias from the same range.
    """
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0.0
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class InteractingLayer(nn.Module):
    """One multi-head self-attention layer over fields (Song et al. 2019, Eqs. 5-8).

    Args:
        in_dim: Size of each field's input vector.
        heads: Number of heads H.
        head_dim: Size d' of each head.
        residual: Add ``W_res x`` before the ReLU.
        generator: Draws the initial weights (PyTorch's default initialisation; None: the
            global generator).

    Shapes:
        - input: ``(batch, fields, in_dim)``; output: ``(batch, fields, heads * head_dim)``.
    """

    def __init__(
        self, in_dim: int, heads: int, head_dim: int, residual: bool = True, generator: torch.Generator | None = None
    ):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.width = heads * head_dim
        self.has_residual = residual
        # W_query, W_key, W_value (and W_res) of every head stacked into one projection
        self.projection = nn.Linear(in_dim, (4 if residual else 3) * self.width, bias=False)
        init_linear(self.projection, generator)

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
        config: Architecture (default: the paper's, :class:`AutoIntConfig`).
        generator: Draws every initial weight (embeddings ``N(0, 0.01^2)``, linear layers
            PyTorch's default); the same seed gives the same model. None: the global generator.
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        config: AutoIntConfig | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        config = config if config is not None else AutoIntConfig()
        self.config = config
        fields = len(cardinalities)
        offsets = torch.tensor([0, *list(cardinalities)[:-1]]).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)
        self.cardinalities = tuple(int(c) for c in cardinalities)
        self.embedding = nn.Embedding(sum(self.cardinalities), config.embedding_dim)
        nn.init.normal_(self.embedding.weight, std=1e-4**0.5, generator=generator)
        dims = [config.embedding_dim] + [config.heads * config.head_dim] * config.layers
        self.interacting = nn.ModuleList(
            InteractingLayer(dims[i], config.heads, config.head_dim, config.residual, generator=generator)
            for i in range(config.layers)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(fields * dims[-1], 1)
        init_linear(self.output, generator)
        if config.dnn_hidden:
            blocks: list[nn.Module] = []
            width = fields * config.embedding_dim
            for hidden in config.dnn_hidden:
                blocks += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(config.dropout)]
                width = hidden
            blocks.append(nn.Linear(width, 1))
            self.dnn = nn.Sequential(*blocks)
            for block in self.dnn:
                if isinstance(block, nn.Linear):
                    init_linear(block, generator)
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
