"""Dynamic sparse learning (DSL) for recommendation models (Wang et al., WSDM 2024).

A model is trained sparse from scratch at a fixed parameter budget: every embedding table
(every parameter with two or more dimensions) starts with a uniform random mask at the
target density (DSL Sec. 3.2), and every ``update_every`` steps the updater of
:mod:`sparse_core.dynamic` drops the smallest-magnitude active weights and regrows as many
inactive positions by gradient magnitude, at zero, with a cosine-decayed update fraction
(DSL Sec. 3.3, Eqs. 3-5). With a joint user-item table (``joint_table=True`` in the
models) one per-tensor budget covers users and items together, so their split can drift;
with separate tables each keeps its own budget, unless ``budget="global"``.

Scores are inner products, and a uniform random mask at density ``d`` leaves a user and an
item only ``d^2 * dim`` shared active dimensions on average (2.6 of 64 at ``d = 0.2``).
``initial_mask="columns"`` (our option, not the paper's) therefore starts every row on the
same ``d * dim`` dimensions; the prune-and-regrow updates then move weights freely.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from recsys.config import DSLConfig
from sparse_core.dynamic import DynamicSparseConfig, DynamicSparseUpdater
from sparse_core.masks import Mask, apply_mask, masked_parameters
from sparse_core.masks import named_parameters as unmasked_named_parameters
from sparse_core.pruning import random_mask

__all__ = ["DSLConfig", "column_mask", "make_updater", "parameter_counts", "sparsify"]


def column_mask(mask: Mask, generator: torch.Generator) -> Mask:
    """The same number of kept entries per tensor as ``mask``, filling whole columns.

    Columns (last dimension) are taken in a random order; the last one is kept at random rows.
    """
    out = {}
    for name, tensor in mask.items():
        rows, cols = tensor.reshape(-1, tensor.shape[-1]).shape
        count = int(tensor.sum())
        order = torch.randperm(cols, generator=generator)
        full, rest = divmod(count, rows)
        keep = torch.zeros(rows, cols, dtype=torch.bool)
        keep[:, order[:full]] = True
        if rest:
            keep[torch.randperm(rows, generator=generator)[:rest], order[full]] = True
        out[name] = keep.reshape(tensor.shape).to(tensor.device)
    return Mask(out)


def sparsify(
    model: nn.Module, density: float, generator: torch.Generator, rescale: bool = False, initial_mask: str = "random"
) -> Mask:
    """Masks every parameter with >= 2 dimensions of ``model`` at random, in place.

    Args:
        model: The model (embedding tables and weight matrices are masked; biases are not).
        density: Fraction of each tensor kept; exactly ``round(density * numel)`` entries.
        generator: CPU generator; the same seed gives the same mask.
        initial_mask: ``"random"`` or ``"columns"`` (see :class:`DSLConfig`).
        rescale: Multiply the kept entries by ``1 / sqrt(density)`` (norm-preserving init).

    Returns:
        The applied mask.
    """
    mask = random_mask(model, density, generator)
    if initial_mask == "columns":
        mask = column_mask(mask, generator)
    apply_mask(model, mask)
    if rescale:
        with torch.no_grad():
            for original, _ in masked_parameters(model).values():
                original.mul_(1.0 / math.sqrt(density))
    return mask


def make_updater(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: DSLConfig,
    planned_steps: int,
    generator: torch.Generator | None = None,
) -> DynamicSparseUpdater:
    """The prune-and-regrow updater for a model masked by :func:`sparsify`.

    Args:
        model: The masked model (unwrapped, not the DDP wrapper).
        optimizer: Its optimizer.
        config: DSL settings.
        planned_steps: Steps the run may take at most; masks freeze at ``end_fraction`` of it.
        generator: For random regrowth.

    Returns:
        The updater; call ``updater.step(step)`` after every ``optimizer.step()``.
    """
    end_step = max(config.update_every, math.floor(config.end_fraction * planned_steps))
    dynamic = DynamicSparseConfig(
        regrowth=config.regrowth,
        update_every=config.update_every,
        end_step=end_step,
        initial_fraction=config.initial_fraction,
        decay="cosine",
        budget=config.budget,
    )
    return DynamicSparseUpdater(model, optimizer, dynamic, generator=generator)


def parameter_counts(model: nn.Module) -> dict[str, int | float | dict[str, float]]:
    """The parameter budget: masked entries kept plus every unmasked parameter.

    Counts the mask, not the values, so a weight regrown at exactly zero still counts.

    Returns:
        ``nonzeros``, ``dense_parameters``, ``density`` and per-tensor ``tensor_densities``.
    """
    masked = masked_parameters(model)
    dense = nonzeros = 0
    densities = {}
    for name, param in unmasked_named_parameters(model):
        dense += param.numel()
        if name in masked:
            kept = int(masked[name][1].sum())
            nonzeros += kept
            densities[name] = kept / param.numel()
        else:
            nonzeros += param.numel()
    return {
        "nonzeros": nonzeros,
        "dense_parameters": dense,
        "density": nonzeros / max(dense, 1),
        "tensor_densities": densities,
    }
