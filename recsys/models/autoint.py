"""AutoInt and AutoInt+ (Song et al., "AutoInt: Automatic Feature Interaction Learning via
Self-Attentive Neural Networks", CIKM 2019).

Every field is embedded (Eq. 2); interacting layers apply multi-head self-attention across
fields (Eqs. 5-7) with a residual projection and ReLU (Eq. 8); the outputs of all fields
are concatenated and mapped to a logit (Eq. 9). AutoInt+ adds a feed-forward network on
the concatenated embeddings and sums the two logits.

How a training step stays cheap on a CPU (a batch is ~1,000 rows of a handful of fields,
so the attention matrices are tiny and the time goes to the projections and to memory
traffic; measured in benchmarks/autoint_step.py):

- an interacting layer is one autograd function with its backward pass written out
  (:class:`_InteractingFunction`): no zero-padded gradients of slices, no transposed
  copies, no fused-attention kernel built for long sequences;
- the projection ``[W_query | W_key | W_value | W_res]`` is computed head-major, one
  contiguous block per head and role, so that the attention of every head of every row is
  one item of a single batched product, and the residual ``W_res x`` is added by the
  product ``A V`` itself (``baddbmm``);
- the ReLU writes the heads side by side in the same pass, and the backward pass reads
  them back in the same way;
- when a layer's input is narrower than a head (the first layer of the paper's configuration:
  embeddings of 16 into heads of 32), the queries and keys are folded: ``Q_h K_h^T =
  (x M_h) x^T`` with ``M_h = W_query,h^T W_key,h`` (``in_dim x in_dim``), so the keys are the
  input itself and the queries are ``in_dim`` wide instead of two ``head_dim``-wide
  projections (160 instead of 256 projected columns in that layer);
- narrow heads (DeepCTR-Torch's 2 x 8) use a token layout instead: a row's heads side by
  side are read as ``fields * heads`` tokens of one item, the heads kept apart by a ``-inf``
  mask on the scores, so that each product has half as many items (for two heads) and the
  projection, output and their gradients need no reordering copies;
- with fewer keys than one AVX-512 vector holds (8 fields), the scores are kept transposed,
  ``K Q^T``, so that the softmax and its gradient run over dim -2, a vector of queries at a
  time, instead of element by element over a short last dimension; the softmax is shifted
  by each item's largest score (one contiguous reduction), with an exact fallback;
- the big scratch tensors (the projection and its gradient) are reused from step to step,
  and the tensors that leave the layer (its output, the attention, the input's gradient) are
  recycled once nothing refers to them, so that a step touches no fresh pages
  (:class:`ScratchBuffers`).

The arithmetic is the paper's, step for step: a test compares logits and gradients with
a field-by-field, head-by-head implementation of the equations.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from recsys.config import AutoIntConfig

#: Projection blocks (one per head and role, or per role in the token layout) of at least
#: this many columns get a matrix product each, written in place in block-major order;
#: narrower ones are one product over all blocks and one copy into that order, which is
#: faster at that width (benchmarks/autoint_step.py).
SPLIT_PRODUCT_SIZE = 16

#: Heads narrower than this use the token layout (:class:`_InteractingFunction`): one batched
#: item per row instead of one per (head, row), which is faster at that width
#: (benchmarks/autoint_step.py).
TOKEN_LAYOUT_SIZE = 16

#: Items with fewer keys (fields, or tokens in the token layout) than this keep their scores
#: transposed, ``K Q^T`` with the softmax over dim -2: PyTorch's CPU softmax over a last
#: dimension narrower than one AVX-512 vector runs element by element, over dim -2 it runs
#: a vector of queries at a time, 2.5-3x faster for the forward and backward at 8 fields
#: (benchmarks/autoint_step.py).
KEYS_LAST_SIZE = 16

__all__ = ["AutoInt", "AutoIntConfig", "InteractingLayer", "ScratchBuffers", "init_linear"]


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


class ScratchBuffers:
    """Scratch tensors of a layer, kept from one training step to the next.

    A training step's big intermediate tensors (the projection of every field and its
    gradient) have the same shapes at every step; taking them from here instead of
    allocating them spares the memory allocator and the kernel from handing out (and
    zero-filling) fresh pages every step. At most ``per_shape`` free tensors of each shape
    are kept. Every :meth:`take` stamps the tensor, so that a holder can tell whether it has
    been handed out again since (:meth:`stamp`).

    Tensors that leave the layer (its output, the attention saved for the backward pass, the
    gradient handed to the layer below) cannot be given back, since the caller decides when
    they die; :meth:`recycle` hands out such a tensor again only once nothing outside the
    pool refers to it any more, neither a Python name nor autograd nor a view. Fresh tensors
    of a few MB each step would otherwise be fresh pages each step: glibc returns the freed
    top of its heap to the kernel (``M_TRIM_THRESHOLD``), and the next step pays a page fault
    per 4 KiB touched (~1,200 per step and 7% of its time in the paper's configuration,
    benchmarks/autoint_step.py).

    Args:
        per_shape: Free tensors kept per shape, dtype and device (and, for :meth:`recycle`,
            tensors tracked per shape).
    """

    def __init__(self, per_shape: int = 2):
        self.per_shape = per_shape
        self.free: dict[tuple, list[Tensor]] = {}
        self.tracked: dict[tuple, list[Tensor]] = {}
        self._stamps = itertools.count()

    def recycle(self, shape: tuple[int, ...], like: Tensor) -> Tensor:
        """An uninitialised tensor of ``shape``: a tracked one nothing else refers to, or a fresh one.

        A fresh tensor is tracked (up to ``per_shape`` per shape) and may be handed out again
        by a later call once every reference to it from outside the pool (a Python name, a
        tensor saved by autograd, a view of its memory) is gone.
        """
        key = (tuple(shape), like.dtype, like.device)
        stack = self.tracked.setdefault(key, [])
        for index in range(len(stack)):
            if _unreferenced(stack, index):
                return stack[index]
        tensor = like.new_empty(shape)
        if len(stack) < self.per_shape:
            stack.append(tensor)
        return tensor

    def take(self, shape: tuple[int, ...], like: Tensor, avoid: Tensor | None = None) -> Tensor:
        """An uninitialised tensor of ``shape`` with ``like``'s dtype and device (never ``avoid``)."""
        stack = self.free.get((tuple(shape), like.dtype, like.device), [])
        for index in range(len(stack) - 1, -1, -1):
            if stack[index] is not avoid:
                tensor = stack.pop(index)
                break
        else:
            tensor = like.new_empty(shape)
        tensor._scratch_stamp = next(self._stamps)
        return tensor

    @staticmethod
    def stamp(tensor: Tensor) -> int | None:
        """The stamp of ``tensor``'s latest :meth:`take` (None if it never came from one)."""
        return getattr(tensor, "_scratch_stamp", None)

    def give(self, *tensors: Tensor) -> None:
        """Hands tensors back; their contents may be overwritten by the next :meth:`take`."""
        for tensor in tensors:
            stack = self.free.setdefault((tuple(tensor.shape), tensor.dtype, tensor.device), [])
            if len(stack) < self.per_shape and all(kept is not tensor for kept in stack):
                stack.append(tensor)

    def clear(self) -> None:
        """Drops every kept tensor."""
        self.free.clear()
        self.tracked.clear()


def _unreferenced(stack: list[Tensor], index: int) -> bool:
    """Whether ``stack[index]`` is referred to by ``stack`` alone (no name, no autograd, no view)."""
    tensor = stack[index]
    # references: the list, ``tensor`` and getrefcount's argument; the C++ tensor held by its
    # Python object only; its storage by the tensor and by the temporary untyped_storage()
    return (
        sys.getrefcount(tensor) == 3
        and tensor._use_count() == 1
        and torch._C._storage_Use_Count(tensor.untyped_storage()._cdata) == 2
    )


class _InteractingFunction(torch.autograd.Function):
    """One interacting layer with its backward pass written out (Song et al. 2019, Eqs. 5-8).

    Forward, from the fields' input vectors ``x`` (rows ``(row, field)``) and the stacked
    projection ``W = [W_query | W_key | W_value | W_res]`` (each ``heads * head_dim`` rows,
    head after head):

    1. the head-major projection: block ``i * heads + h`` is ``x W_{i,h}^T`` (queries,
       keys, values, residual of head ``h``), contiguous, so that every head of every row is
       one item of a batched product read in place;
    2. ``A = softmax(Q K^T)`` per head and row (Eq. 5, unscaled as in the paper; with
       fewer than :data:`KEYS_LAST_SIZE` keys computed and kept as ``A^T``, the softmax over
       dim -2);
    3. ``Z = R + A V`` (Eqs. 6 and 8; the batched product adds onto ``R`` in place) and
       ``out = relu(Z)`` with the heads side by side (Eq. 7).

    When ``in_dim < head_dim`` (and the heads take the head-major layout), step 1 projects
    only the values and residuals, and the scores of step 2 are ``(x M_h) x^T`` with
    ``M_h = W_query,h^T W_key,h``: the same product, associated the other way, with fewer
    columns to project (:func:`_query_key_products`, :func:`_folded_backward`).

    Heads narrower than :data:`TOKEN_LAYOUT_SIZE` use the token layout instead: block ``i``
    is ``x W_i^T`` with the heads side by side, so that a row's ``fields * heads`` vectors
    of ``head_dim`` (tokens ``field * heads + head``) are one item of the batched products;
    the scores between tokens of different heads are set to ``-inf`` before the softmax
    (:func:`_head_mask`), so that their attention is exactly zero and every head attends over
    its own fields only, as in Eq. 5. At that width the products are tiny and their number,
    not their arithmetic, sets the time: half as many items (for two heads) and no copies
    into and out of the head-major order.

    Backward, with ``G = dL/dout * (out > 0)``: ``dR = G``, ``dV = A^T G``,
    ``dS = A * (dA - rowsum(dA * A))`` for ``dA = G V^T`` (the softmax's Jacobian),
    ``dQ = dS K``, ``dK = dS^T Q``; then ``dx = sum_j dP_j W_j`` and ``dW_j = dP_j^T x``
    over the blocks ``j``.

    Shapes:
        - x: ``(batch * fields, in_dim)``, contiguous; weight: ``((3 or 4) * heads * head_dim, in_dim)``;
        - return: ``(batch * fields, heads * head_dim)``.
    """

    @staticmethod
    def forward(ctx, x, weight, fields, heads, residual, buffers, keep):
        rows, in_dim = x.shape
        parts = 4 if residual else 3
        width = weight.shape[0] // parts
        head_dim = width // heads
        batch = rows // fields
        by_token = head_dim < TOKEN_LAYOUT_SIZE
        folded = not by_token and in_dim < head_dim
        mixed = queries_mixed = None
        if by_token:  # one item per row: its fields * heads tokens, the heads kept apart by a mask
            projected = _project(x, weight, parts, width, buffers)
            items = projected.view(parts, batch, fields * heads, head_dim)
        elif folded:  # one item per (head, row); queries x M_h against the keys x (Q K^T = x W_q^T W_k x^T)
            projected = _project(x, weight[2 * width :], (parts - 2) * heads, head_dim, buffers)  # V (and R)
            items = projected.view(parts - 2, heads * batch, fields, head_dim)
            mixed = _query_key_products(weight, heads, head_dim)
            queries_mixed = buffers.take((heads, rows, in_dim), x)
            for head in range(heads):
                torch.mm(x, mixed[head], out=queries_mixed[head])
        else:  # one item per (head, row)
            projected = _project(x, weight, parts * heads, head_dim, buffers)
            items = projected.view(parts, heads * batch, fields, head_dim)
        value_index = 0 if folded else 2
        mask = _head_mask(fields, heads, x) if by_token and heads > 1 else None
        keys_first = items.shape[2] < KEYS_LAST_SIZE
        scores = buffers.take((items.shape[1], items.shape[2], items.shape[2]), x)
        if folded:  # Eq. 5 per head, as (x M_h) x^T (keys_first: its transpose)
            keys = x.view(batch, fields, in_dim)
            by_head = scores.view(heads, batch, fields, fields)
            for head in range(heads):
                queries = queries_mixed[head].view(batch, fields, in_dim)
                pair = (keys, queries) if keys_first else (queries, keys)
                torch.bmm(pair[0], pair[1].transpose(1, 2), out=by_head[head])
        else:
            queries, keys = (items[1], items[0]) if keys_first else (items[0], items[1])
            if mask is None:  # Eq. 5 (keys_first: its transpose, K Q^T)
                torch.bmm(queries, keys.transpose(1, 2), out=scores)
            else:  # Eq. 5 within each head, -inf between the tokens of different heads (a symmetric mask)
                torch.baddbmm(mask, queries, keys.transpose(1, 2), out=scores)
        stored = buffers.recycle(scores.shape, x)  # over the keys:
        if keys_first:
            _softmax_keys_first(scores, stored, buffers)
        else:
            torch.ops.aten._softmax.out(scores, -1, False, out=stored)
        buffers.give(scores)
        attention = stored.transpose(1, 2) if keys_first else stored  # (item, query, key)
        values = items[value_index]
        if by_token:  # the items are the output's rows already, heads side by side (Eq. 7)
            out = buffers.recycle((rows, width), x)
            torch.bmm(attention, values, out=out.view(values.shape))  # Eq. 6
            if residual:  # Eq. 8
                out += projected[3]
            out.clamp_min_(0)
        else:
            if residual:  # Eqs. 6 and 8: W_res e_m + sum_k alpha_{m,k} W_value e_k, onto W_res e_m in place
                summed = items[value_index + 1].baddbmm_(attention, values)
            else:
                summed = torch.bmm(attention, values, out=buffers.take(values.shape, x))
            out = buffers.recycle((batch, fields, heads, head_dim), x)  # Eq. 7: heads side by side
            torch.clamp_min(summed.view(heads, batch, fields, head_dim).permute(1, 2, 0, 3), 0, out=out)  # Eq. 8
            if not residual:
                buffers.give(summed)
            out = out.view(rows, width)
        if keep:  # the projection is handed back by backward, so it is kept on ctx with its stamp
            ctx.fields, ctx.heads, ctx.parts, ctx.buffers = fields, heads, parts, buffers
            ctx.items_shape, ctx.by_token, ctx.keys_first = items.shape, by_token, keys_first
            ctx.projected, ctx.stamp = projected, buffers.stamp(projected)
            ctx.mixed, ctx.queries_mixed = mixed, queries_mixed
            ctx.mixed_stamp = buffers.stamp(queries_mixed) if folded else None
            ctx.save_for_backward(x, weight, stored, out)
        else:
            buffers.give(projected, *([queries_mixed] if folded else []))
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, weight, stored, out = ctx.saved_tensors
        keys_first = ctx.keys_first
        attention = stored.transpose(1, 2) if keys_first else stored  # (item, query, key)
        fields, heads, parts, buffers, projected = ctx.fields, ctx.heads, ctx.parts, ctx.buffers, ctx.projected
        mixed, queries_mixed = ctx.mixed, ctx.queries_mixed
        folded = mixed is not None
        if buffers.stamp(projected) != ctx.stamp or (folded and buffers.stamp(queries_mixed) != ctx.mixed_stamp):
            raise RuntimeError(
                "an AutoInt interacting layer ran backward again (retain_graph) after a later forward pass "
                "reused its scratch projection; run backward before the next forward pass"
            )
        items = projected.view(ctx.items_shape)
        value_index = 0 if folded else 2
        residual = parts == 4
        grad_projected = buffers.take(projected.shape, projected, avoid=projected)
        grads = grad_projected.view_as(items)
        grad_z = grads[value_index + 1] if residual else buffers.take(items[0].shape, projected)  # dR = G
        if ctx.by_token:
            torch.ops.aten.threshold_backward.grad_input(grad_out, out, 0, grad_input=grad_z.view_as(out))
        else:
            batch = x.shape[0] // fields
            torch.ops.aten.threshold_backward.grad_input(
                _by_head(grad_out, batch, heads),
                _by_head(out, batch, heads),
                0,
                grad_input=grad_z.view(heads, batch, fields, grad_z.shape[-1]),
            )
        values = items[value_index]
        torch.bmm(attention.transpose(1, 2), grad_z, out=grads[value_index])  # dV
        grad_attention, grad_stored = buffers.take(stored.shape, stored), buffers.take(stored.shape, stored)
        if keys_first:  # dA^T = V G^T
            torch.bmm(values, grad_z.transpose(1, 2), out=grad_attention)
        else:
            torch.bmm(grad_z, values.transpose(1, 2), out=grad_attention)
        # the softmax's Jacobian over the keys; zero between the tokens of different heads, where the attention is
        torch.ops.aten._softmax_backward_data.out(
            grad_attention, stored, -2 if keys_first else -1, stored.dtype, grad_input=grad_stored
        )
        grad_scores = grad_stored.transpose(1, 2) if keys_first else grad_stored
        if folded:
            grad_x, grad_weight = _folded_backward(grad_scores, grad_projected, x, weight, ctx, buffers)
        else:
            torch.bmm(grad_scores, items[1], out=grads[0])  # dQ
            torch.bmm(grad_scores.transpose(1, 2), items[0], out=grads[1])  # dK
            grad_x, grad_weight = _project_backward(grad_projected, x, weight, ctx.needs_input_grad[:2], buffers)
        buffers.give(grad_attention, grad_stored)
        if not residual:
            buffers.give(grad_z)
        buffers.give(projected, grad_projected, *([queries_mixed] if folded else []))
        return grad_x, grad_weight, None, None, None, None, None


def _query_key_products(weight: Tensor, heads: int, head_dim: int) -> Tensor:
    """``M_h = W_query,h^T W_key,h`` of every head: ``(heads, in_dim, in_dim)``, so that ``Q_h K_h^T = x M_h x^T``."""
    width = heads * head_dim
    query = weight[:width].view(heads, head_dim, -1)
    key = weight[width : 2 * width].view(heads, head_dim, -1)
    return torch.bmm(query.transpose(1, 2), key)


def _folded_backward(
    grad_scores: Tensor, grad_projected: Tensor, x: Tensor, weight: Tensor, ctx, buffers: ScratchBuffers
) -> tuple[Tensor | None, Tensor | None]:
    """The input's and the weight's gradients of a folded layer (queries ``x M_h``, keys ``x``).

    With ``dS_h`` the scores' gradient of head ``h``: ``d(x M_h) = dS_h x`` and, through the
    keys, ``dx += sum_h dS_h^T (x M_h)``; ``dx += d(x M_h) M_h^T``; ``dM_h = x^T d(x M_h)``
    gives ``dW_query,h = W_key,h dM_h^T`` and ``dW_key,h = W_query,h dM_h``; the value (and
    residual) blocks as :func:`_project_backward`.
    """
    heads, mixed, queries_mixed = ctx.heads, ctx.mixed, ctx.queries_mixed
    rows, in_dim = x.shape
    batch, fields = rows // ctx.fields, ctx.fields
    width = weight.shape[0] // ctx.parts
    head_dim = width // heads
    needs = ctx.needs_input_grad[:2]
    keys = x.view(batch, fields, in_dim)
    by_head = grad_scores.view(heads, batch, fields, fields)  # (head, row, query, key)
    grad_mixed = buffers.take(queries_mixed.shape, x, avoid=queries_mixed)
    grad_keys = buffers.take((rows, in_dim), x) if needs[0] else None
    for head in range(heads):
        torch.bmm(by_head[head], keys, out=grad_mixed[head].view(batch, fields, in_dim))  # d(x M_h) = dS_h x
        if grad_keys is not None:  # through the keys: dS_h^T (x M_h)
            queries = queries_mixed[head].view(batch, fields, in_dim)
            if head == 0:
                torch.bmm(by_head[head].transpose(1, 2), queries, out=grad_keys.view(batch, fields, in_dim))
            else:
                grad_keys.view(batch, fields, in_dim).baddbmm_(by_head[head].transpose(1, 2), queries)
    grad_weight = torch.empty_like(weight) if needs[1] else None
    grad_x, _ = _project_backward(
        grad_projected,
        x,
        weight[2 * width :],
        needs,
        buffers,
        grad_weight=grad_weight[2 * width :] if needs[1] else None,
    )
    if grad_x is not None:
        grad_x += grad_keys
        for head in range(heads):
            grad_x.addmm_(grad_mixed[head], mixed[head].t())
        buffers.give(grad_keys)
    if grad_weight is not None:
        query = weight[:width].view(heads, head_dim, in_dim)
        key = weight[width : 2 * width].view(heads, head_dim, in_dim)
        grad_query = grad_weight[:width].view(heads, head_dim, in_dim)
        grad_key = grad_weight[width : 2 * width].view(heads, head_dim, in_dim)
        for head in range(heads):
            grad_m = torch.mm(x.t(), grad_mixed[head])  # dM_h
            torch.mm(key[head], grad_m.t(), out=grad_query[head])
            torch.mm(query[head], grad_m, out=grad_key[head])
    buffers.give(grad_mixed)
    return grad_x, grad_weight


def _softmax_keys_first(scores: Tensor, out: Tensor, buffers: ScratchBuffers) -> None:
    """``out = softmax(scores, dim=1)`` for transposed scores ``(items, keys, queries)``.

    Shifted by each item's largest score rather than each query's: one contiguous reduction
    instead of one over the short keys dimension (the softmax is the same for any shift),
    about 2x faster than PyTorch's softmax over dim -2 at 8 keys. A query whose scores all
    lie far below the item's largest (its sum of exponentials under ``tiny / eps``, where
    float rounding would start to lose digits) sends the whole tensor through the exact
    per-query shift instead. Off the CPU (where the check would wait for the device) the
    exact softmax runs directly.
    """
    if scores.device.type != "cpu":
        torch.ops.aten._softmax.out(scores, 1, False, out=out)
        return
    items = scores.shape[0]
    peak = buffers.take((items, 1, 1), scores)
    torch.amax(scores.flatten(1), dim=1, keepdim=True, out=peak.view(items, 1))
    torch.sub(scores, peak, out=out).exp_()
    total = buffers.take((items, 1, scores.shape[2]), scores)
    torch.sum(out, dim=1, keepdim=True, out=total)
    info = torch.finfo(scores.dtype)
    if items and total.amin().item() < info.tiny / info.eps:
        torch.ops.aten._softmax.out(scores, 1, False, out=out)
    else:
        out.div_(total)
    buffers.give(peak, total)


def _project(x: Tensor, weight: Tensor, blocks: int, head_dim: int, buffers: ScratchBuffers) -> Tensor:
    """``out[j] = x W_j^T`` for the ``blocks`` head blocks ``W_j`` of ``weight``: ``(blocks, rows, head_dim)``."""
    rows = x.shape[0]
    out = buffers.take((blocks, rows, head_dim), x)
    if head_dim >= SPLIT_PRODUCT_SIZE:
        for j, part in enumerate(weight.chunk(blocks)):  # written as out_j^T = W_j x^T: faster for narrow blocks
            torch.mm(part, x.t(), out=out[j].t())
        return out
    flat = buffers.take((rows, blocks * head_dim), x)
    torch.mm(x, weight.t(), out=flat)
    out.copy_(flat.view(rows, blocks, head_dim).transpose(0, 1))
    buffers.give(flat)
    return out


def _project_backward(
    grad: Tensor,
    x: Tensor,
    weight: Tensor,
    needs: tuple[bool, bool],
    buffers: ScratchBuffers,
    grad_weight: Tensor | None = None,
) -> tuple[Tensor | None, Tensor | None]:
    """``dx = sum_j grad_j W_j`` and ``dW_j = grad_j^T x`` for :func:`_project` (``dW`` into ``grad_weight`` if given)."""
    blocks, rows, head_dim = grad.shape
    grad_x = None
    if head_dim < SPLIT_PRODUCT_SIZE:
        flat = buffers.take((rows, blocks * head_dim), grad)
        flat.view(rows, blocks, head_dim).copy_(grad.transpose(0, 1))
        if needs[0]:
            grad_x = torch.mm(flat, weight, out=buffers.recycle((rows, weight.shape[1]), grad))
        if needs[1]:
            grad_weight = torch.mm(flat.t(), x, out=grad_weight)
        buffers.give(flat)
        return grad_x, grad_weight
    parts = weight.chunk(blocks)
    if needs[0]:
        grad_x = torch.mm(grad[0], parts[0], out=buffers.recycle((rows, weight.shape[1]), grad))
        for j in range(1, blocks):
            grad_x.addmm_(grad[j], parts[j])
    if needs[1]:
        grad_weight = torch.empty_like(weight) if grad_weight is None else grad_weight
        for j, block in enumerate(grad_weight.chunk(blocks)):  # as dW_j^T = x^T grad_j, like the forward
            torch.mm(x.t(), grad[j], out=block.t())
    return grad_x, grad_weight


def _head_mask(fields: int, heads: int, like: Tensor) -> Tensor:
    """Additive mask of the token layout: 0 between tokens of one head, -inf between heads; ``(T, T)``.

    Token ``t = field * heads + head`` (a row's projection, heads side by side, read as
    ``fields * heads`` vectors of ``head_dim``).
    """
    key = (fields, heads, like.dtype, like.device)
    mask = _HEAD_MASKS.get(key)
    if mask is None:
        head = torch.arange(fields * heads, device=like.device) % heads
        mask = torch.zeros(fields * heads, fields * heads, dtype=like.dtype, device=like.device)
        mask.masked_fill_(head[:, None] != head[None, :], float("-inf"))
        _HEAD_MASKS[key] = mask
    return mask


_HEAD_MASKS: dict[tuple, Tensor] = {}


def _by_head(x: Tensor, batch: int, heads: int) -> Tensor:
    """``(batch * fields, heads * head_dim)`` viewed as ``(heads, batch, fields, head_dim)``."""
    rows, width = x.shape
    return x.view(batch, -1 if rows else 0, heads, width // heads).permute(2, 0, 1, 3)


class InteractingLayer(nn.Module):
    """One multi-head self-attention layer over fields (Song et al. 2019, Eqs. 5-8).

    ``relu(concat_h softmax(Q_h K_h^T) V_h + W_res x)`` with ``Q_h = x W_query,h^T`` (and
    ``K``, ``V`` alike), the attention logits unscaled as in the paper. The forward and
    backward passes are written out (:class:`_InteractingFunction`), and the big scratch
    tensors of a training step are reused from step to step (:class:`ScratchBuffers`).

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
        self.buffers = ScratchBuffers()

    def forward(self, x: Tensor) -> Tensor:
        batch, fields, in_dim = x.shape
        weight = self.projection.weight
        keep = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
        out = _InteractingFunction.apply(
            x.reshape(batch * fields, in_dim).contiguous(),
            weight,
            fields,
            self.heads,
            self.has_residual,
            self.buffers if keep else ScratchBuffers(0),
            keep,
        )
        return out.view(batch, fields, self.width)


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
        if self.embedding.sparse:  # row-sparse table gradient (ctr --sparse-gradients; DDP allreduces it sparse)
            return self.embedding(ids + self.offsets)
        # indexing the table: the same rows as ``self.embedding(...)``, with a cheaper backward
        # (an accumulating scatter of the rows' gradients instead of nn.Embedding's sort)
        return self.embedding.weight[ids + self.offsets]

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Logits and the batch's embedding L2 penalty (``l2_embedding * sum e^2 / batch``).

        Shapes:
            - ids: ``(batch, fields)``; logits: ``(batch,)``; penalty: scalar.
        """
        embedded = self.embed(ids)
        x = embedded
        for layer in self.interacting:
            x = layer(x)
        x = x.flatten(1)
        if self.dropout.p > 0:
            x = self.dropout(x)
        logit = self.output(x).squeeze(-1)
        if self.dnn is None and self.config.l2_embedding == 0:
            return logit, logit.new_zeros(())
        if self.dnn is not None:
            logit = logit + self.dnn(embedded.flatten(1)).squeeze(-1)
        penalty = self.config.l2_embedding * embedded.pow(2).sum() / ids.shape[0]
        return logit, penalty
