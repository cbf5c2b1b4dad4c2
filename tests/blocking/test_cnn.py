"""The blocking CNN: the authors' layout, one module per operation (for SHAP), seeded initialisation."""

import numpy as np
import pytest
import torch

from blocking.cnn import BlockingCNN, count_parameters, initialise
from blocking.config import CNNConfig
from sparse_core.infra.errors import ConfigError, InputError


def leaves(model):
    return [m for m in model.modules() if not list(m.children())]


def test_authors_layout_has_134k_parameters_on_their_input():
    model = BlockingCNN((3, 18, 90), CNNConfig(padding="valid"))
    assert count_parameters(model) == 134_338  # 896 + 18,496 + 36,928 + 77,888 + 130
    kinds = [type(m).__name__ for m in leaves(model)]
    assert kinds == [
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "Conv2d",
        "ReLU",
        "Flatten",
        "Linear",
        "ReLU",
        "Linear",
    ]
    assert model(torch.zeros(4, 3, 18, 90)).shape == (4, 2)


def test_every_operation_is_its_own_module_called_once():
    """DeepExplainer needs this: applying the leaf modules in order is the whole forward pass."""
    model = initialise(BlockingCNN((3, 12, 64)), torch.Generator().manual_seed(0))
    modules = leaves(model)
    assert len({id(m) for m in modules}) == len(modules)
    calls = {id(m): 0 for m in modules}
    handles = [
        m.register_forward_hook(lambda mod, i, o: calls.__setitem__(id(mod), calls[id(mod)] + 1)) for m in modules
    ]
    inputs = torch.randn(2, 3, 12, 64)
    output = model(inputs)
    for handle in handles:
        handle.remove()
    assert set(calls.values()) == {1}
    hidden = inputs
    for module in modules:
        hidden = module(hidden)
    torch.testing.assert_close(hidden, output)


def test_initialisation_comes_from_the_generator_only():
    one, two, other = (BlockingCNN((3, 12, 64)) for _ in range(3))
    state = torch.random.get_rng_state()
    initialise(one, torch.Generator().manual_seed(7))
    initialise(two, torch.Generator().manual_seed(7))
    initialise(other, torch.Generator().manual_seed(8))
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is not touched
    for a, b in zip(one.parameters(), two.parameters()):
        torch.testing.assert_close(a, b)
    assert not torch.equal(one.dense.weight, other.dense.weight)
    assert torch.count_nonzero(one.output.bias) == 0
    bound = np.sqrt(6.0 / (64 + 2))  # Glorot uniform of the output layer
    assert float(one.output.weight.detach().abs().max()) <= bound


def test_small_inputs_need_same_padding():
    with pytest.raises(InputError, match="too small"):
        BlockingCNN((3, 12, 64), CNNConfig(padding="valid"))
    assert BlockingCNN((3, 12, 64), CNNConfig(padding="same"))(torch.zeros(1, 3, 12, 64)).shape == (1, 2)
    with pytest.raises(ConfigError):
        CNNConfig(channels=())
