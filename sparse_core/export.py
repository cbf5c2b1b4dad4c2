"""Exporting sparse models: compact MLPs, sparse weight formats, parameter and MAC counts.

Compaction physically removes hidden neurons of a multilayer perceptron (an
``nn.Sequential`` of ``nn.Linear`` layers with parameter-free elementwise activations in
between), giving smaller dense layers that compute the same function.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence

import scipy.sparse
import torch
from torch import Tensor, nn

from sparse_core.masks import Mask, effective_parameters, masked_parameters

__all__ = ["compact_masked_mlp", "compact_mlp", "count_macs", "count_parameters", "to_coo", "to_csr", "to_scipy_csr"]

_COUNTED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _split_mlp(layers: Sequence[nn.Module] | nn.Sequential) -> tuple[list[nn.Module], list[int]]:
    modules = list(layers)
    linear_at = [i for i, module in enumerate(modules) if isinstance(module, nn.Linear)]
    if not linear_at:
        raise ValueError("expected an MLP with at least one nn.Linear layer, found none")
    for i, module in enumerate(modules):
        if not isinstance(module, nn.Linear) and any(True for _ in module.parameters()):
            raise ValueError(
                f"module {i} ({type(module).__name__}) has parameters; compaction supports only "
                "parameter-free elementwise modules (activations) between nn.Linear layers"
            )
    return modules, linear_at


def _linear(weight: Tensor, bias: Tensor | None) -> nn.Linear:
    with warnings.catch_warnings():  # a layer whose neurons were all removed has zero elements
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors is a no-op")
        layer = nn.utils.skip_init(
            nn.Linear, weight.shape[1], weight.shape[0], bias=bias is not None, dtype=weight.dtype, device=weight.device
        )
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


def compact_mlp(
    layers: Sequence[nn.Linear] | nn.Sequential,
    keep: Sequence[Tensor],
    constant_outputs: Sequence[Tensor | None] | None = None,
) -> nn.Sequential:
    """Builds a smaller MLP without the hidden neurons that ``keep`` marks False.

    A removed neuron is treated as outputting ``constant_outputs[i][j]`` (after its
    activation), which is folded into the next layer's bias as ``W_next[:, j] * value``;
    by default 0, i.e. a neuron switched off by a gate is simply deleted. For a neuron whose
    incoming weights are all zero, pass ``activation(bias_j)`` to keep outputs equal.
    Effective (masked) weights are read; the result holds plain ``nn.Linear`` layers.

    Args:
        layers: An ``nn.Sequential`` (Linear layers and parameter-free elementwise modules,
            which are copied) or a list of Linear layers (the result then holds only Linears).
        keep: One bool tensor per hidden layer (every Linear but the last), True = keep.
        constant_outputs: Optional, per hidden layer, the value each removed neuron outputs.

    Returns:
        A new ``nn.Sequential``; the input is not changed.

    Shapes:
        - keep[i], constant_outputs[i]: ``(out_features of Linear i,)``.

    Raises:
        ValueError: If the number or shapes of ``keep`` entries do not match the hidden layers.
    """
    modules, linear_at = _split_mlp(layers)
    hidden = len(linear_at) - 1
    constant_outputs = list(constant_outputs) if constant_outputs is not None else [None] * hidden
    if len(keep) != hidden or len(constant_outputs) != hidden:
        raise ValueError(
            f"expected {hidden} keep masks (one per hidden layer), found {len(keep)} "
            f"and {len(constant_outputs)} constant_outputs"
        )
    weights = [modules[i].weight.detach().clone() for i in linear_at]
    biases = [None if modules[i].bias is None else modules[i].bias.detach().clone() for i in linear_at]
    for i, (kept, constant) in enumerate(zip(keep, constant_outputs)):
        width = weights[i].shape[0]
        if kept.dtype != torch.bool or kept.shape != (width,):
            raise ValueError(
                f"keep[{i}] must be a bool tensor of shape ({width},), found {kept.dtype} {tuple(kept.shape)}"
            )
        kept = kept.to(weights[i].device)
        if constant is not None:
            if constant.shape != (width,):
                raise ValueError(f"constant_outputs[{i}] must have shape ({width},), found {tuple(constant.shape)}")
            removed = ~kept
            fold = weights[i + 1][:, removed] @ constant.to(weights[i + 1])[removed]
            if bool(fold.ne(0).any()):
                biases[i + 1] = fold if biases[i + 1] is None else biases[i + 1] + fold
        weights[i] = weights[i][kept]
        biases[i] = None if biases[i] is None else biases[i][kept]
        weights[i + 1] = weights[i + 1][:, kept]
    compact = {index: _linear(w, b) for index, w, b in zip(linear_at, weights, biases)}
    if not isinstance(layers, nn.Sequential):
        return nn.Sequential(*compact.values())
    return nn.Sequential(*(compact[i] if i in compact else copy.deepcopy(module) for i, module in enumerate(modules)))


def _dead_neurons(modules: list[nn.Module], linear_at: list[int]) -> tuple[list[Tensor], list[Tensor]]:
    """Per hidden layer: keep mask, and constant outputs of neurons without live inputs."""
    keep, constants = [], []
    for i, j in zip(linear_at, linear_at[1:]):
        weight, bias, next_weight = modules[i].weight.detach(), modules[i].bias, modules[j].weight.detach()
        dead_in = weight.eq(0).all(dim=1)
        dead_out = next_weight.eq(0).all(dim=0)
        pre_activation = torch.zeros(1, weight.shape[0], dtype=weight.dtype, device=weight.device)
        if bias is not None:
            pre_activation = pre_activation + bias.detach()
        with torch.no_grad():
            for module in modules[i + 1 : j]:
                pre_activation = copy.deepcopy(module).eval()(pre_activation)
        constants.append(torch.where(dead_in, pre_activation[0], torch.zeros_like(pre_activation[0])))
        keep.append(~(dead_in | dead_out))
    return keep, constants


def compact_masked_mlp(model: nn.Sequential) -> nn.Sequential:
    """Removes every dead hidden neuron of a (masked) MLP, keeping its outputs.

    A neuron is dead when its incoming weights are all (masked to) zero -- its constant output
    ``activation(bias)`` is folded into the next bias -- or when its outgoing weights are all
    zero -- it is deleted. Removal is repeated until no dead neuron is left, since removing
    one layer's neurons can kill neurons next to it.

    Args:
        model: ``nn.Sequential`` of Linear layers (masked or not) and parameter-free
            elementwise activations.

    Returns:
        A new ``nn.Sequential`` of plain, smaller Linear layers with the same outputs up to
        floating-point rounding.
    """
    current = model
    while True:
        keep, constants = _dead_neurons(*_split_mlp(current))
        current = compact_mlp(current, keep, constants)
        if all(bool(k.all()) for k in keep):
            return current


def _entries(mask_or_model: Mask | nn.Module, name: str) -> tuple[torch.Size, Tensor, Tensor]:
    """(shape, indices (nnz, ndim) in row-major order, values) of a mask or masked weight."""
    if isinstance(mask_or_model, Mask):
        pattern = mask_or_model[name]
        return pattern.shape, pattern.nonzero(), pattern[pattern]
    model = mask_or_model
    module_path, _, attr = name.rpartition(".")
    try:
        module = model.get_submodule(module_path)
        weight = getattr(module, attr).detach()
    except AttributeError:
        raise KeyError(f"{name!r} is not a parameter; valid names: {sorted(effective_parameters(model))}") from None
    masked = masked_parameters(model)
    pattern = masked[name][1] if name in masked else weight.ne(0)
    return weight.shape, pattern.nonzero(), weight[pattern]


def to_coo(mask_or_model: Mask | nn.Module, name: str) -> Tensor:
    """A masked weight (or a mask's pattern) as a coalesced torch sparse COO tensor.

    The stored entries are the mask's True positions (for an unmasked parameter, its
    nonzeros), so ``to_coo(...).to_dense()`` equals the effective weight.
    """
    shape, indices, values = _entries(mask_or_model, name)
    return torch.sparse_coo_tensor(indices.T, values, shape, check_invariants=True).coalesce()


def _csr_parts(mask_or_model: Mask | nn.Module, name: str) -> tuple[tuple[int, int], Tensor, Tensor, Tensor]:
    shape, indices, values = _entries(mask_or_model, name)
    if len(shape) < 2:
        raise ValueError(f"CSR needs a matrix; {name!r} has shape {tuple(shape)}")
    rows, columns = shape[0], shape[1:].numel()
    strides = torch.tensor([shape[k + 1 :].numel() for k in range(1, len(shape))], device=indices.device)
    column_index = (indices[:, 1:] * strides).sum(dim=1)
    crow = torch.zeros(rows + 1, dtype=torch.int64, device=indices.device)
    crow[1:] = torch.cumsum(torch.bincount(indices[:, 0], minlength=rows), 0)
    return (rows, columns), crow, column_index, values


def to_csr(mask_or_model: Mask | nn.Module, name: str) -> Tensor:
    """A masked weight (or a mask's pattern) as a torch sparse CSR matrix.

    Tensors with more than two dimensions (convolution kernels) are flattened to
    ``(shape[0], prod(shape[1:]))``.
    """
    size, crow, columns, values = _csr_parts(mask_or_model, name)
    return torch.sparse_csr_tensor(crow, columns, values, size, check_invariants=True)


def to_scipy_csr(mask_or_model: Mask | nn.Module, name: str) -> scipy.sparse.csr_matrix:
    """Like :func:`to_csr`, as a ``scipy.sparse.csr_matrix`` (on the CPU)."""
    size, crow, columns, values = _csr_parts(mask_or_model, name)
    return scipy.sparse.csr_matrix((values.cpu().numpy(), columns.cpu().numpy(), crow.cpu().numpy()), shape=size)


def count_parameters(model: nn.Module, nonzero_only: bool = True) -> int:
    """Number of (nonzero) effective parameters, biases included, mask buffers excluded."""
    values = effective_parameters(model).values()
    return sum(int(v.count_nonzero()) if nonzero_only else v.numel() for v in values)


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on one sample, counting only nonzero weights.

    Each call of a Linear or Conv layer costs ``nonzero weights * output positions`` (for a
    Conv, every output pixel; padding counted as in dense implementations). Biases,
    activations and other layers are not counted. The model runs once in eval mode on
    zeros; its train/eval flags are restored afterwards.

    Args:
        model: The model; weights shared between calls are counted per call.
        input_shape: Shape of one sample, without the batch dimension.

    Returns:
        The number of multiply-accumulates.
    """
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    device = parameter.device if parameter is not None else torch.device("cpu")
    total = 0

    def count(module: nn.Module, inputs: tuple, output: Tensor) -> None:
        nonlocal total
        weight = module.weight.detach()
        total += int(weight.count_nonzero()) * (output.numel() // weight.shape[0])

    training = {module: module.training for module in model.modules()}
    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, _COUNTED_LAYERS)]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, dtype=dtype, device=device))
    finally:
        for hook in hooks:
            hook.remove()
        for module, flag in training.items():
            module.training = flag
    return total
