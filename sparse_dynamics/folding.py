"""Folding a hardened gated MLP into a `CompactNetwork` whose only nonlinear units are ReLUs.

Removed neurons are deleted first with `sparse_core.export.compact_mlp`. Identity
neurons are then folded into the neighbouring linear maps: if layer ``l`` has identity
neurons I, the next layer receives ``W_{l+1}[:, I] (W_l[I] h_{l-1} + b_l[I])``, i.e. the
product ``W_{l+1}[:, I] W_l[I]`` acting on whatever fed layer ``l``. Doing this layer by
layer tracks every hidden vector as an affine function of the input and of the ReLU
layers before it, which gives the DAG of `sparse_dynamics.compact`. A layer whose
neurons are all identities disappears. All arithmetic is float64.

(The identity folding is generic; it could move down into ``sparse_core.export``.)
"""

from __future__ import annotations

import numpy as np
import torch

from sparse_core.activation_gates import IDENTITY, OFF, RELU, GatedMLP
from sparse_core.export import compact_mlp
from sparse_dynamics.compact import INPUT, CompactNetwork, ReluLayer

__all__ = ["fold_gated_mlp"]


def _as_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().to(torch.float64).numpy()


def fold_gated_mlp(
    mlp: GatedMLP,
    *,
    input_mean: torch.Tensor | None = None,
    input_scale: torch.Tensor | None = None,
    output_scale: torch.Tensor | None = None,
    output_mean: torch.Tensor | None = None,
    metadata: dict | None = None,
    prune_zero_blocks: bool = True,
) -> CompactNetwork:
    """The compact network computing ``output_scale * mlp((x - input_mean) / input_scale) + output_mean``.

    Args:
        mlp: A gated MLP; every `ActivationChoice` must be hardened (so that its
            forward pass is exactly off -> 0, identity -> x, relu -> relu(x)).
        input_mean, input_scale: Input normalisation folded into the first map (optional).
        output_scale, output_mean: Output de-normalisation folded into the last map (optional).
        metadata: Stored with the network.
        prune_zero_blocks: Drop weight blocks that are exactly zero.

    Returns:
        A `CompactNetwork` equal to the hardened MLP up to float64 rounding.

    Raises:
        ValueError: If a hidden layer is not hardened.
    """
    for index, activation in enumerate(mlp.activations):
        if not activation.is_hardened:
            raise ValueError(f"hidden layer {index} is not hardened; call harden() (or sparsify()) before folding")
    choices = [activation.choices().cpu() for activation in mlp.activations]
    linears = list(compact_mlp(list(mlp.linears), keep=[c != OFF for c in choices]))
    choices = [c[c != OFF] for c in choices]
    weights = [_as_numpy(layer.weight) for layer in linears]
    biases = [
        np.zeros(w.shape[0]) if layer.bias is None else _as_numpy(layer.bias) for w, layer in zip(weights, linears)
    ]
    input_dim = weights[0].shape[1]
    if input_scale is not None:
        mean = np.zeros(input_dim) if input_mean is None else _as_numpy(input_mean)
        weights[0] = weights[0] / _as_numpy(input_scale)
        biases[0] = biases[0] - weights[0] @ mean
    if output_scale is not None:
        scale = _as_numpy(output_scale)
        weights[-1], biases[-1] = weights[-1] * scale[:, None], biases[-1] * scale
    if output_mean is not None:
        biases[-1] = biases[-1] + _as_numpy(output_mean)

    # h = sum_source M[source] a_source + m, starting from h_0 = input
    blocks: dict[str, np.ndarray] = {INPUT: np.eye(input_dim)}
    offset = np.zeros(input_dim)
    layers: list[ReluLayer] = []
    for weight, bias, choice in zip(weights[:-1], biases[:-1], choices):
        choice = choice.numpy()
        pre = {source: weight @ matrix for source, matrix in blocks.items()}
        pre_bias = weight @ offset + bias
        relu, identity = choice == RELU, choice == IDENTITY
        width = len(choice)
        next_blocks = {}
        for source, matrix in pre.items():
            folded = np.zeros_like(matrix)
            folded[identity] = matrix[identity]
            next_blocks[source] = folded
        offset = np.where(identity, pre_bias, 0.0)
        if relu.any():
            name = f"relu{len(layers) + 1}"
            layer_weights = {source: matrix[relu] for source, matrix in pre.items()}
            layers.append(ReluLayer(name, layer_weights, pre_bias[relu]))
            selector = np.zeros((width, int(relu.sum())))
            selector[np.flatnonzero(relu), np.arange(int(relu.sum()))] = 1.0
            next_blocks[name] = selector
        blocks = next_blocks
    output = ReluLayer("output", {s: weights[-1] @ m for s, m in blocks.items()}, weights[-1] @ offset + biases[-1])
    if prune_zero_blocks:
        for block in [*layers, output]:
            block.weights = {s: w for s, w in block.weights.items() if np.any(w != 0.0)}
    return CompactNetwork(input_dim, layers, output, dict(metadata or {}))
