"""Tests for sparse_core.activation_gates: per-neuron choices among ReLU, identity and off."""

import pytest
import torch
from torch import nn

from sparse_core.activation_gates import (
    IDENTITY,
    OFF,
    RELU,
    ActivationChoice,
    GatedMLP,
    ReluBudgetSchedule,
    expected_relu_count,
    relu_budget_penalty,
)
from sparse_core.gates import GatedLinear, l0_penalty


def test_l0_penalty_sums_neuron_gates_but_not_relu_gates():
    model = nn.Sequential(GatedLinear(2, 4), nn.ReLU(), GatedLinear(4, 3), ActivationChoice(3))
    expected = model[0].gates.gate.expected_l0() + model[2].gates.gate.expected_l0() + model[3].keep_gate.expected_l0()
    assert torch.allclose(l0_penalty(model), expected)
    model[3].harden(torch.tensor([RELU, OFF, IDENTITY]))  # hardened: exactly two kept neurons
    expected = model[0].gates.gate.expected_l0() + model[2].gates.gate.expected_l0() + 2.0
    assert torch.allclose(l0_penalty(model), expected)
    with pytest.raises(ValueError, match="found none"):
        l0_penalty(nn.Linear(2, 2))


def _set_gates(choice: ActivationChoice, keep_log_alpha, relu_log_alpha):
    with torch.no_grad():
        choice.keep_gate.log_alpha.copy_(torch.tensor(keep_log_alpha))
        choice.relu_gate.log_alpha.copy_(torch.tensor(relu_log_alpha))


def test_choices_follow_test_time_gates():
    choice = ActivationChoice(3)
    _set_gates(choice, [-10.0, 10.0, 10.0], [10.0, -10.0, 10.0])
    assert choice.choices().tolist() == [OFF, IDENTITY, RELU]
    probabilities = choice.probabilities()
    assert probabilities.shape == (3, 3)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(3))
    assert probabilities.argmax(dim=1).tolist() == [OFF, IDENTITY, RELU]


def test_hardened_forward_reproduces_the_three_modes_exactly():
    choice = ActivationChoice(3)
    _set_gates(choice, [-10.0, 10.0, 10.0], [10.0, -10.0, 10.0])
    hardened = choice.harden()
    assert hardened.tolist() == [OFF, IDENTITY, RELU]
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    for mode in (choice.train(), choice.eval()):
        out = mode(x)
        assert torch.equal(out[:, 0], torch.zeros(50))
        assert torch.equal(out[:, 1], x[:, 1])
        assert torch.equal(out[:, 2], torch.relu(x[:, 2]))
    assert choice.expected_relu_count().item() == 1.0


def test_hardened_state_survives_state_dict_round_trip():
    choice = ActivationChoice(4)
    choice.harden(torch.tensor([RELU, OFF, IDENTITY, RELU]))
    restored = ActivationChoice(4)
    restored.load_state_dict(choice.state_dict())
    assert restored.is_hardened
    assert restored.choices().tolist() == [RELU, OFF, IDENTITY, RELU]
    with pytest.raises(ValueError, match="0 \\(off\\), 1 \\(identity\\) or 2 \\(relu\\)"):
        ActivationChoice(2).harden(torch.tensor([0, 3]))


def test_soft_forward_mixes_relu_and_identity():
    choice = ActivationChoice(1).eval()
    _set_gates(choice, [10.0], [0.0])  # keep gate 1, relu gate sigmoid(0) * 1.2 - 0.1 = 0.5
    x = torch.tensor([[-2.0], [3.0]])
    assert torch.allclose(choice(x), torch.tensor([[-1.0], [3.0]]))


def test_relu_budget_schedule_linear_and_cubic():
    linear = ReluBudgetSchedule(initial_relus=100, target_relus=20, end_step=100, start_step=20, shape="linear")
    assert [linear(s) for s in (0, 20, 60, 100, 200)] == pytest.approx([100, 100, 60, 20, 20])
    cubic = ReluBudgetSchedule(initial_relus=100, target_relus=20, end_step=100)
    assert cubic(0) == pytest.approx(100)
    assert cubic(50) == pytest.approx(20 + 80 * 0.5**3)
    assert cubic(100) == pytest.approx(20) and cubic(500) == pytest.approx(20)
    with pytest.raises(ValueError, match="target_relus"):
        ReluBudgetSchedule(initial_relus=10, target_relus=20, end_step=5)


def test_gated_mlp_shapes_and_layer_choices():
    model = GatedMLP([3, 5, 4, 2])
    assert model(torch.zeros(7, 3)).shape == (7, 2)
    assert [c.shape for c in model.layer_choices()] == [(5,), (4,)]
    assert all(torch.all(c == RELU) for c in model.layer_choices())


def test_budget_penalty_training_reaches_relu_budget_on_toy_regression():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(256, 2, generator=generator) * 4 - 2
    y = x.abs().sum(dim=1, keepdim=True)  # needs a few ReLUs
    model = GatedMLP([2, 16, 1])
    full = expected_relu_count(model).item()
    relu_budget = 4.0
    schedule = ReluBudgetSchedule(initial_relus=16, target_relus=relu_budget, end_step=150, shape="linear")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for step in range(300):
        loss = nn.functional.mse_loss(model(x, generator), y) + 2.0 * relu_budget_penalty(model, schedule(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert full > 14.0
    assert expected_relu_count(model).item() <= relu_budget + 0.25
    hardened = model.harden()
    assert int((hardened[0] == RELU).sum()) <= relu_budget + 1
    with torch.no_grad():
        hardened_error = nn.functional.mse_loss(model.eval()(x), y).item()
    assert hardened_error < 0.3 * y.var().item()  # the sparsified network still fits


def test_gated_mlp_initialisation_follows_its_generator():
    first = GatedMLP([3, 5, 2], generator=torch.Generator().manual_seed(7))
    second = GatedMLP([3, 5, 2], generator=torch.Generator().manual_seed(7))
    other = GatedMLP([3, 5, 2], generator=torch.Generator().manual_seed(8))
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    assert not torch.equal(first.linears[0].weight, other.linears[0].weight)
