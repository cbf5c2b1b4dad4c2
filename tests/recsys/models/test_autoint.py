import pytest
import torch

from recsys.models.autoint import AutoInt, AutoIntConfig, InteractingLayer, ScratchBuffers, _softmax_keys_first


def reference_layer(layer: InteractingLayer, x: torch.Tensor) -> torch.Tensor:
    """Eqs. 5-8 of Song et al. 2019 written head by head, field by field."""
    w = layer.width
    weights = layer.projection.weight
    wq, wk, wv = weights[:w], weights[w : 2 * w], weights[2 * w : 3 * w]
    batch, fields, _ = x.shape
    out = torch.zeros(batch, fields, w, dtype=x.dtype)
    for h in range(layer.heads):
        cols = slice(h * layer.head_dim, (h + 1) * layer.head_dim)
        q, k, v = x @ wq[cols].T, x @ wk[cols].T, x @ wv[cols].T
        for m in range(fields):
            logits = torch.stack([(q[:, m] * k[:, j]).sum(-1) for j in range(fields)], dim=1)
            alpha = torch.softmax(logits, dim=1)
            out[:, m, cols] = (alpha.unsqueeze(-1) * v).sum(1)
    if layer.has_residual:
        out = out + x @ weights[3 * w :].T
    return torch.relu(out)


def reference_autoint(model: AutoInt, ids: torch.Tensor) -> torch.Tensor:
    """AutoInt's logit (Eqs. 2, 5-9) from the model's weights: one lookup per field, then the layers."""
    start, embedded = 0, []
    for field, cardinality in enumerate(model.cardinalities):  # Eq. 2: e_i = V_i x_i
        embedded.append(model.embedding.weight[start + ids[:, field]])
        start += cardinality
    x = torch.stack(embedded, dim=1)
    for layer in model.interacting:
        x = reference_layer(layer, x)
    return x.flatten(1) @ model.output.weight[0] + model.output.bias[0]  # Eq. 9, before the sigmoid


# (heads, head_dim, residual, in_dim), one case or more per code path of recsys.models.autoint:
# heads narrower than TOKEN_LAYOUT_SIZE take the token layout (one batched item per row, the heads
# kept apart by a -inf mask), its projection one product and a copy when the row's width
# heads * head_dim is under SPLIT_PRODUCT_SIZE (2 x 3), else a product per block (2 x 8); one head
# needs no mask (1 x 4), three heads a wider one (3 x 5); 16 and more take the head-major layout,
# folded (queries x M_h against the keys x) when the input is narrower than a head (in_dim 6).
LAYER_CASES = [
    (2, 3, True, 6),
    (2, 3, False, 6),
    (2, 8, True, 6),
    (2, 8, False, 6),
    (1, 4, True, 6),
    (3, 5, True, 6),
    (2, 16, True, 6),
    (2, 16, False, 6),
    (2, 16, True, 20),
    (2, 16, False, 20),
    (3, 16, True, 16),
]


# 5 fields: the scores kept transposed (fewer keys than KEYS_LAST_SIZE); 17: in query-key order
@pytest.mark.parametrize("fields", [5, 17])
@pytest.mark.parametrize(("heads", "head_dim", "residual", "in_dim"), LAYER_CASES)
def test_interacting_layer_matches_the_paper_equations(heads, head_dim, residual, in_dim, fields):
    torch.manual_seed(0)
    layer = InteractingLayer(in_dim=in_dim, heads=heads, head_dim=head_dim, residual=residual)
    x = torch.randn(4, fields, in_dim)
    torch.testing.assert_close(layer(x), reference_layer(layer, x), rtol=1e-6, atol=1e-6)
    with torch.no_grad():  # the evaluation path (nothing kept for backward)
        torch.testing.assert_close(layer(x), reference_layer(layer, x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fields", [5, 17])
@pytest.mark.parametrize(("heads", "head_dim", "residual", "in_dim"), LAYER_CASES)
def test_interacting_layer_gradients_match_autograd_through_the_equations(heads, head_dim, residual, in_dim, fields):
    torch.manual_seed(1)
    layer = InteractingLayer(in_dim=in_dim, heads=heads, head_dim=head_dim, residual=residual).double()
    x = torch.randn(4, fields, in_dim, dtype=torch.double, requires_grad=True)
    upstream = torch.randn(4, fields, layer.width, dtype=torch.double)
    ours = torch.autograd.grad(layer(x), (x, layer.projection.weight), upstream)
    reference = torch.autograd.grad(reference_layer(layer, x), (x, layer.projection.weight), upstream)
    for a, b in zip(ours, reference):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    assert torch.autograd.gradcheck(layer, (x[:2, :3].detach().requires_grad_(),))


@pytest.mark.parametrize("in_dim", [6, 20])
def test_only_the_weight_or_only_the_input_asks_for_a_gradient(in_dim):
    torch.manual_seed(9)
    layer = InteractingLayer(in_dim=in_dim, heads=2, head_dim=16).double()
    x = torch.randn(3, 5, in_dim, dtype=torch.double)
    upstream = torch.randn(3, 5, layer.width, dtype=torch.double)
    (grad_weight,) = torch.autograd.grad(layer(x), layer.projection.weight, upstream)
    torch.testing.assert_close(
        grad_weight, torch.autograd.grad(reference_layer(layer, x), layer.projection.weight, upstream)[0]
    )
    layer.projection.weight.requires_grad_(False)
    x.requires_grad_(True)
    (grad_x,) = torch.autograd.grad(layer(x), x, upstream)
    torch.testing.assert_close(grad_x, torch.autograd.grad(reference_layer(layer, x), x, upstream)[0])


def test_token_layout_attends_within_each_head_only():
    """Large logits between the heads' tokens would leak into the softmax if the mask did not hold."""
    torch.manual_seed(5)
    layer = InteractingLayer(in_dim=6, heads=2, head_dim=4).double()
    with torch.no_grad():
        layer.projection.weight.mul_(30.0)  # logits of order 1e3: exp overflows unless masked out
    x = torch.randn(3, 4, 6, dtype=torch.double)
    out = layer(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, reference_layer(layer, x), rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_item_shifted_softmax_equals_the_softmax_even_far_below_an_items_peak(dtype):
    generator = torch.Generator().manual_seed(7)
    scores = torch.randn(50, 8, 8, generator=generator, dtype=dtype) * 5
    out = torch.empty_like(scores)
    _softmax_keys_first(scores, out, ScratchBuffers())
    torch.testing.assert_close(out, torch.softmax(scores, dim=1), rtol=1e-6, atol=1e-7)
    scores[3, :, 2] -= (
        500.0  # one query's scores all far below the item's peak: exp underflows unless shifted per query
    )
    _softmax_keys_first(scores, out, ScratchBuffers())
    torch.testing.assert_close(out, torch.softmax(scores, dim=1), rtol=1e-6, atol=1e-7)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("in_dim", [6, 20])
def test_head_major_layer_with_huge_logits_matches_the_equations(in_dim):
    """Logits of order 1e3 (exp overflows or underflows unless shifted), 8 fields: the transposed scores."""
    torch.manual_seed(8)
    layer = InteractingLayer(in_dim=in_dim, heads=2, head_dim=16).double()
    with torch.no_grad():
        layer.projection.weight.mul_(30.0)
    x = torch.randn(3, 8, in_dim, dtype=torch.double)
    out = layer(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, reference_layer(layer, x), rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("head_dim", [4, 8, 32])
def test_autoint_matches_a_straightforward_reference(head_dim):
    """Random weights and ids: logits and every parameter's gradient equal the reference's.

    In float64, so that the comparison sees the algebra rather than float32 rounding (the
    float32 layer agrees to 1e-6 above).
    """
    cards = [7, 11, 3, 5]
    model = AutoInt(cards, AutoIntConfig(head_dim=head_dim), generator=torch.Generator().manual_seed(2)).double()
    with torch.no_grad():
        for parameter in model.parameters():  # away from the small initial scale, so ReLUs and softmax matter
            parameter.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(parameter.numel()))
    generator = torch.Generator().manual_seed(3)
    ids = torch.stack([torch.randint(0, c, (64,), generator=generator) for c in cards], dim=1)
    logits, penalty = model(ids)
    reference = reference_autoint(model, ids)
    torch.testing.assert_close(logits, reference, rtol=1e-10, atol=1e-10)
    assert penalty.item() == 0.0
    ours = torch.autograd.grad(logits.sum(), list(model.parameters()))
    expected = torch.autograd.grad(reference.sum(), list(model.parameters()))
    for name, a, b in zip([n for n, _ in model.named_parameters()], ours, expected):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9 * b.abs().max().item(), msg=name)


@pytest.mark.parametrize(("head_dim", "in_dim"), [(4, 6), (8, 6), (16, 6), (16, 20)])
def test_scratch_buffers_are_reused_without_changing_results(head_dim, in_dim):
    torch.manual_seed(4)
    layer = InteractingLayer(in_dim=in_dim, heads=2, head_dim=head_dim)
    x = torch.randn(8, 5, in_dim, requires_grad=True)
    first = torch.autograd.grad(layer(x).pow(2).sum(), (x, layer.projection.weight))
    kept = {key: len(stack) for key, stack in layer.buffers.free.items()}
    assert kept, "a training step hands its scratch tensors back"
    pending = layer(x).pow(2).sum()  # forward, then an evaluation in between, then backward
    with torch.no_grad():
        layer(torch.randn(8, 5, in_dim))
    second = torch.autograd.grad(pending, (x, layer.projection.weight))
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    assert {key: len(stack) for key, stack in layer.buffers.free.items()} == kept


@pytest.mark.parametrize(("head_dim", "in_dim"), [(8, 6), (16, 6), (16, 20)])
def test_a_second_backward_is_refused_once_the_projection_was_reused(head_dim, in_dim):
    layer = InteractingLayer(in_dim=in_dim, heads=2, head_dim=head_dim)
    x = torch.randn(3, 4, in_dim, requires_grad=True)
    loss = layer(x).sum()
    first = torch.autograd.grad(loss, x, retain_graph=True)[0]
    assert torch.equal(torch.autograd.grad(loss, x, retain_graph=True)[0], first)  # nothing reused in between
    layer(x).sum().backward()  # a later step takes both kept tensors of the projection's shape
    with pytest.raises(RuntimeError, match="ran backward again"):
        torch.autograd.grad(loss, x)


def test_scratch_buffers_keep_at_most_per_shape_and_never_hand_out_avoid():
    buffers = ScratchBuffers(per_shape=1)
    like = torch.zeros(1)
    a, b = buffers.take((2, 3), like), buffers.take((2, 3), like)
    buffers.give(a, b, a)
    assert len(buffers.free[((2, 3), like.dtype, like.device)]) == 1
    assert buffers.take((2, 3), like, avoid=a) is not a
    stamp = buffers.stamp(a)
    buffers.give(a)
    assert buffers.take((2, 3), like) is a and buffers.stamp(a) != stamp


class _Save(torch.autograd.Function):
    """Keeps its second input for the backward pass, as a layer's saved tensors."""

    @staticmethod
    def forward(ctx, a, kept):
        ctx.save_for_backward(kept)
        return a * 2

    @staticmethod
    def backward(ctx, grad):
        return grad, None


@pytest.mark.parametrize(
    "hold",
    [
        lambda tensor: tensor,
        lambda tensor: tensor.view(12),
        lambda tensor: tensor.detach(),
        lambda tensor: tensor.numpy(),
        lambda tensor: _Save.apply(torch.zeros(1, requires_grad=True), tensor),  # an autograd graph
    ],
    ids=["name", "view", "detached", "numpy", "graph"],
)
def test_recycle_hands_a_tensor_out_again_only_once_nothing_refers_to_it(hold):
    buffers = ScratchBuffers(per_shape=2)
    like = torch.zeros(1)
    key = ((4, 3), like.dtype, like.device)
    tensor = buffers.recycle((4, 3), like)
    holder = hold(tensor)
    del tensor
    assert buffers.recycle((4, 3), like) is not buffers.tracked[key][0]
    del holder
    assert buffers.recycle((4, 3), like) is buffers.tracked[key][0]


@pytest.mark.parametrize("head_dim", [8, 32])
def test_outputs_held_by_the_caller_are_never_overwritten(head_dim):
    torch.manual_seed(6)
    model = AutoInt([5, 7, 9], AutoIntConfig(head_dim=head_dim))
    held, outputs = [], []
    model.interacting[0].register_forward_hook(lambda module, inputs, out: held.append(out))
    for step in range(4):
        ids = torch.randint(0, 5, (6, 3), generator=torch.Generator().manual_seed(step))
        logits, _ = model(ids)
        logits.sum().backward()
        outputs.append(held[-1].detach().clone())
        model.zero_grad()
    for out, kept in zip(held, outputs):
        assert torch.equal(out, kept)


def test_state_dict_names_are_unchanged():
    """Checkpoints (best.pt) of earlier runs load: the parameters keep their names and shapes."""
    model = AutoInt([4, 6], AutoIntConfig(head_dim=8))
    assert [(name, tuple(t.shape)) for name, t in model.state_dict().items()] == [
        ("embedding.weight", (10, 16)),
        ("interacting.0.projection.weight", (64, 16)),
        ("interacting.1.projection.weight", (64, 16)),
        ("interacting.2.projection.weight", (64, 16)),
        ("output.weight", (1, 32)),
        ("output.bias", (1,)),
    ]


def test_paper_configuration_sizes():
    cards = [10, 20, 3]
    model = AutoInt(cards)
    logits, penalty = model(torch.zeros(7, 3, dtype=torch.long))
    assert logits.shape == (7,) and penalty.item() == 0.0
    embedding = sum(cards) * 16
    attention = 16 * 4 * 64 + 2 * 64 * 4 * 64  # q, k, v, residual per layer
    output = 3 * 64 + 1
    assert sum(p.numel() for p in model.parameters()) == embedding + attention + output


def test_autoint_plus_adds_a_dnn_and_l2():
    model = AutoInt([5, 5], AutoIntConfig.plus(l2_embedding=0.1, dropout=0.2))
    assert model.dnn is not None and model.config.dnn_hidden == (400, 400)
    logits, penalty = model(torch.tensor([[1, 2], [3, 4]]))
    assert logits.shape == (2,) and penalty.item() > 0


def test_fields_use_separate_rows():
    model = AutoInt([2, 2])
    embedded = model.embed(torch.tensor([[1, 1]]))
    assert not torch.equal(embedded[0, 0], embedded[0, 1])
    with pytest.raises(IndexError):
        model.embed(torch.tensor([[0, 5]]))


def test_generator_alone_decides_the_initial_weights():
    """The model is drawn from the given generator, whatever the global generator's state."""
    states = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        model = AutoInt([4, 6], AutoIntConfig.plus(head_dim=4), generator=torch.Generator().manual_seed(7))
        states.append(model.state_dict())
    for name in states[0]:
        assert torch.equal(states[0][name], states[1][name]), name
    other = AutoInt([4, 6], AutoIntConfig.plus(head_dim=4), generator=torch.Generator().manual_seed(8))
    assert not torch.equal(other.embedding.weight, states[0]["embedding.weight"])


@pytest.mark.parametrize("head_dim", [4, 8, 16, 32])
def test_an_empty_batch_gives_empty_logits(head_dim):
    model = AutoInt([3, 4], AutoIntConfig(head_dim=head_dim))
    logits, _ = model(torch.zeros(0, 2, dtype=torch.long))
    logits.sum().backward()
    assert logits.shape == (0,) and model.interacting[0].projection.weight.grad.abs().sum() == 0
