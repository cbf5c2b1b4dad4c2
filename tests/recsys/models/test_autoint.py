import pytest
import torch

from recsys.models.autoint import AutoInt, AutoIntConfig, InteractingLayer


def reference_layer(layer: InteractingLayer, x: torch.Tensor) -> torch.Tensor:
    """Eqs. 5-8 of Song et al. 2019 written head by head, field by field."""
    w = layer.width
    weights = layer.projection.weight
    wq, wk, wv, wres = weights[:w], weights[w : 2 * w], weights[2 * w : 3 * w], weights[3 * w :]
    batch, fields, _ = x.shape
    out = torch.zeros(batch, fields, w)
    for h in range(layer.heads):
        cols = slice(h * layer.head_dim, (h + 1) * layer.head_dim)
        q, k, v = x @ wq[cols].T, x @ wk[cols].T, x @ wv[cols].T
        for m in range(fields):
            logits = torch.stack([(q[:, m] * k[:, j]).sum(-1) for j in range(fields)], dim=1)
            alpha = torch.softmax(logits, dim=1)
            out[:, m, cols] = (alpha.unsqueeze(-1) * v).sum(1)
    return torch.relu(out + x @ wres.T)


def test_interacting_layer_matches_the_paper_equations():
    torch.manual_seed(0)
    layer = InteractingLayer(in_dim=6, heads=2, head_dim=3)
    x = torch.randn(4, 5, 6)
    torch.testing.assert_close(layer(x), reference_layer(layer, x), rtol=1e-5, atol=1e-5)


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
