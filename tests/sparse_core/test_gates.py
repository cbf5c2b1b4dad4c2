"""Tests for sparse_core.gates: hard-concrete gates, neuron gates and the L0 penalty."""

import math

import pytest
import torch
from torch import nn

from sparse_core.gates import GatedLinear, HardConcreteGate, NeuronGates, l0_penalty, reset_linear


def test_init_keep_probability_sets_log_alpha():
    gate = HardConcreteGate(3, init_keep_probability=0.9)
    assert torch.allclose(gate.log_alpha, torch.full((3,), math.log(9.0)))


def test_probability_nonzero_closed_form_value():
    gate = HardConcreteGate(1)
    with torch.no_grad():
        gate.log_alpha.fill_(0.0)
    expected = 1.0 / (1.0 + math.exp((2.0 / 3.0) * math.log(0.1 / 1.1)))
    assert gate.probability_nonzero().item() == pytest.approx(expected, rel=1e-6)
    assert gate.expected_l0().item() == pytest.approx(expected, rel=1e-6)


def test_monte_carlo_frequency_of_nonzero_matches_closed_form():
    log_alphas = torch.tensor([-3.0, -1.0, 0.0, 1.0, 3.0])
    samples = 40_000
    gate = HardConcreteGate(log_alphas.numel() * samples)
    with torch.no_grad():
        gate.log_alpha.copy_(log_alphas.repeat_interleave(samples))
        draws = gate.sample(torch.Generator().manual_seed(0)).view(-1, samples)
    frequency = (draws > 0).double().mean(dim=1)
    closed_form = gate.probability_nonzero().view(-1, samples)[:, 0].double()
    assert torch.all((frequency - closed_form).abs() < 0.01), (frequency, closed_form)
    # Samples lie in [0, 1] and are exactly 0 or exactly 1 with positive probability.
    assert draws.min() == 0.0 and draws.max() == 1.0


def test_eval_forward_is_deterministic_test_time_estimate():
    gate = HardConcreteGate(4).eval()
    with torch.no_grad():
        gate.log_alpha.copy_(torch.tensor([-5.0, 0.0, 0.5, 5.0]))
    first, second = gate(), gate()
    assert torch.equal(first, second)
    expected = (torch.sigmoid(gate.log_alpha) * 1.2 - 0.1).clamp(0, 1)
    assert torch.allclose(first, expected)
    assert first[0] == 0.0 and first[3] == 1.0
    assert gate.is_nonzero().tolist() == [False, True, True, True]


def test_training_forward_is_random_and_reproducible_with_generator():
    gate = HardConcreteGate(64)
    a = gate(torch.Generator().manual_seed(1))
    b = gate(torch.Generator().manual_seed(1))
    c = gate(torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_gradients_flow_to_log_alpha_through_samples_and_penalty():
    gate = HardConcreteGate(8, init_keep_probability=0.5)
    gate(torch.Generator().manual_seed(0)).sum().backward()
    assert gate.log_alpha.grad is not None and gate.log_alpha.grad.abs().sum() > 0
    gate.log_alpha.grad = None
    gate.expected_l0().backward()
    assert torch.all(gate.log_alpha.grad > 0)


def test_invalid_arguments_raise_with_explanation():
    with pytest.raises(ValueError, match="init_keep_probability"):
        HardConcreteGate(3, init_keep_probability=1.0)
    with pytest.raises(ValueError, match="stretch"):
        HardConcreteGate(3, stretch=(0.0, 1.1))
    with pytest.raises(ValueError, match="expected an input with 3 features"):
        NeuronGates(3)(torch.zeros(2, 4))


def test_neuron_gates_multiply_activations_along_feature_dim():
    gates = NeuronGates(3, feature_dim=1).eval()
    with torch.no_grad():
        gates.gate.log_alpha.copy_(torch.tensor([-10.0, 10.0, 10.0]))
    x = torch.ones(2, 3, 4, 4)
    out = gates(x)
    assert torch.all(out[:, 0] == 0) and torch.all(out[:, 1:] == 1)
    assert gates.kept_neurons().tolist() == [False, True, True]


def test_l0_penalty_sums_the_expected_l0_of_every_neuron_gate():
    model = nn.Sequential(GatedLinear(2, 4), nn.ReLU(), GatedLinear(4, 3))
    expected = model[0].gates.gate.expected_l0() + model[2].gates.gate.expected_l0()
    assert torch.allclose(l0_penalty(model), expected)
    assert torch.allclose(l0_penalty(model[0].gates.gate), model[0].gates.gate.expected_l0())
    with pytest.raises(ValueError, match="found none"):
        l0_penalty(nn.Linear(2, 2))


def test_reset_linear_draws_pytorch_default_initialisation_from_the_generator():
    first = reset_linear(nn.Linear(5, 3), torch.Generator().manual_seed(4))
    second = reset_linear(nn.Linear(5, 3), torch.Generator().manual_seed(4))
    assert torch.equal(first.weight, second.weight) and torch.equal(first.bias, second.bias)
    bound = 1.0 / math.sqrt(5)
    assert first.weight.abs().max() <= bound and first.bias.abs().max() <= bound  # kaiming(a=sqrt 5) = 1/sqrt(fan_in)
    state = torch.random.get_rng_state()
    layer = GatedLinear(5, 3, generator=torch.Generator().manual_seed(4))
    assert torch.equal(layer.linear.weight, first.weight)
    untouched = nn.Linear(5, 3)
    assert not torch.equal(reset_linear(untouched).weight, first.weight)  # no generator: left as constructed
    torch.random.set_rng_state(state)
