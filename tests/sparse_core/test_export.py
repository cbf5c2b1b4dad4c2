import pytest
import torch
from torch import nn

from sparse_core.export import (
    compact_masked_mlp,
    compact_mlp,
    count_macs,
    count_parameters,
    to_coo,
    to_csr,
    to_scipy_csr,
)
from sparse_core.masks import Mask, apply_mask


def make_mlp(widths=(6, 8, 8, 3), dtype=torch.float32, seed=0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(fan_in, fan_out, dtype=dtype))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for layer in model[::2]:
            layer.bias.uniform_(0.2, 1.0)  # positive biases make dead neurons output relu(b) != 0
    return model


def dead_neuron_mask(model: nn.Sequential) -> Mask:
    mask = {name: torch.ones_like(p, dtype=torch.bool) for name, p in model.named_parameters() if p.ndim == 2}
    mask["0.weight"][[1, 4]] = False  # neurons 1 and 4 of hidden layer 1 have no inputs
    mask["2.weight"][:, 6] = False  # neuron 6 of hidden layer 1 has no outputs
    mask["2.weight"][3, :] = False  # neuron 3 of hidden layer 2 has no inputs
    mask["4.weight"][:, 5] = False  # neuron 5 of hidden layer 2 has no outputs
    mask["2.weight"][0, 0] = False  # an ordinary pruned weight
    return Mask(mask)


def test_compact_mlp_deletes_gated_neurons():
    model = make_mlp()
    keep = [torch.tensor([True, False, True, True, True, True, False, True]), torch.ones(8, dtype=torch.bool)]
    compact = compact_mlp(model, keep)
    inputs = torch.randn(10, 6)
    gate = keep[0].float()
    expected = model[4](model[3](model[2](model[1](model[0](inputs)) * gate)))
    assert compact[0].weight.shape == (6, 6) and compact[2].weight.shape == (8, 6)
    assert isinstance(compact[1], nn.ReLU)
    torch.testing.assert_close(compact(inputs), expected, atol=1e-6, rtol=0)


def test_compact_mlp_folds_constant_outputs_into_the_next_bias():
    model = make_mlp(widths=(3, 4, 2))
    with torch.no_grad():
        model[0].weight[2] = 0.0  # neuron 2 always outputs relu(b_2)
    keep = [torch.tensor([True, True, False, True])]
    constants = [torch.relu(model[0].bias.detach())]
    compact = compact_mlp([model[0], model[2]], keep, constants)
    inputs = torch.randn(10, 3)
    with torch.no_grad():
        output = compact[1](torch.relu(compact[0](inputs)))
    torch.testing.assert_close(output, model(inputs), atol=1e-6, rtol=0)


def test_compact_mlp_checks_its_keep_masks():
    with pytest.raises(ValueError, match="expected 2 keep masks"):
        compact_mlp(make_mlp(), [torch.ones(8, dtype=torch.bool)])
    with pytest.raises(ValueError, match="keep\\[1\\].*\\(8,\\)"):
        compact_mlp(make_mlp(), [torch.ones(8, dtype=torch.bool), torch.ones(7, dtype=torch.bool)])
    with pytest.raises(ValueError, match="LayerNorm"):
        compact_mlp(nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2), nn.Linear(2, 2)), [torch.ones(2, dtype=torch.bool)])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compact_masked_mlp_keeps_outputs_and_removes_dead_neurons(dtype):
    model = apply_mask(make_mlp(dtype=dtype), dead_neuron_mask(make_mlp()))
    compact = compact_masked_mlp(model)
    assert [layer.weight.shape for layer in compact[::2]] == [(5, 6), (6, 5), (3, 6)]
    assert all(type(layer) is nn.Linear for layer in compact[::2])  # plain layers, no parametrization
    inputs = torch.randn(32, 6, dtype=dtype)
    with torch.no_grad():
        torch.testing.assert_close(compact(inputs), model(inputs), atol=1e-6, rtol=0)


def test_compact_masked_mlp_follows_chains_of_dead_neurons():
    model = make_mlp(widths=(4, 3, 3, 2))
    mask = {name: torch.ones_like(p, dtype=torch.bool) for name, p in model.named_parameters() if p.ndim == 2}
    mask["0.weight"][1] = False  # hidden-1 neuron 1 has no inputs: a constant ...
    mask["2.weight"][2, [0, 2]] = False  # ... is hidden-2 neuron 2's only input, so it is constant too
    model = apply_mask(model, Mask(mask))
    compact = compact_masked_mlp(model)
    assert [layer.weight.shape for layer in compact[::2]] == [(2, 4), (2, 2), (2, 2)]
    inputs = torch.randn(16, 4)
    with torch.no_grad():
        torch.testing.assert_close(compact(inputs), model(inputs), atol=1e-6, rtol=0)


def test_compact_masked_mlp_can_remove_a_whole_layer():
    model = make_mlp(widths=(3, 2, 2))
    mask = Mask({"0.weight": torch.zeros(2, 3, dtype=torch.bool), "2.weight": torch.ones(2, 2, dtype=torch.bool)})
    model = apply_mask(model, mask)
    compact = compact_masked_mlp(model)
    assert compact[0].weight.shape == (0, 3)
    inputs = torch.randn(4, 3)
    with torch.no_grad():
        torch.testing.assert_close(compact(inputs), model(inputs), atol=1e-6, rtol=0)


def test_sparse_formats_round_trip_to_the_masked_weight():
    model = apply_mask(make_mlp(), dead_neuron_mask(make_mlp()))
    dense = model[2].weight.detach()
    mask = dead_neuron_mask(make_mlp())
    coo, csr, scipy_csr = to_coo(model, "2.weight"), to_csr(model, "2.weight"), to_scipy_csr(model, "2.weight")
    assert torch.equal(coo.to_dense(), dense)
    assert torch.equal(csr.to_dense(), dense)
    assert torch.equal(torch.from_numpy(scipy_csr.toarray()), dense)
    assert coo._nnz() == csr.values().numel() == scipy_csr.nnz == int(mask["2.weight"].sum())
    assert torch.equal(to_coo(mask, "0.weight").to_dense(), mask["0.weight"])


def test_csr_flattens_convolution_kernels_and_reads_unmasked_weights():
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(2, 3, 3))
    with torch.no_grad():
        conv[0].weight[0, 1] = 0.0
    csr = to_scipy_csr(conv, "0.weight")
    assert csr.shape == (3, 18)
    assert csr.nnz == 54 - 9
    assert torch.equal(torch.from_numpy(csr.toarray()), conv[0].weight.detach().reshape(3, 18))
    with pytest.raises(KeyError, match="valid names"):
        to_coo(conv, "1.weight")


def test_count_parameters_counts_effective_nonzeros_and_biases():
    model = make_mlp()
    total = 6 * 8 + 8 + 8 * 8 + 8 + 8 * 3 + 3
    assert count_parameters(model, nonzero_only=False) == total
    mask = dead_neuron_mask(make_mlp())
    apply_mask(model, mask)
    assert count_parameters(model, nonzero_only=False) == total
    assert count_parameters(model) == total - (mask.numel() - mask.nonzeros())


def test_count_macs_of_a_dense_and_a_masked_mlp():
    model = make_mlp(widths=(784, 300, 100, 10))
    assert count_macs(model, (784,)) == 784 * 300 + 300 * 100 + 100 * 10
    mask = Mask({"0.weight": torch.rand(300, 784, generator=torch.Generator().manual_seed(0)) < 0.1})
    apply_mask(model, mask)
    assert count_macs(model, (784,)) == mask.nonzeros() + 300 * 100 + 100 * 10


def test_count_macs_of_convolutions_restores_training_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten())
    model.train()
    assert count_macs(model, (1, 5, 5)) == 2 * 9 * (3 * 3)  # 2 filters of 1x3x3 on a 3x3 output
    assert model.training and model[1].training
    assert int(model[1].num_batches_tracked) == 0  # the counting pass changed no statistics
    conv1d = nn.Conv1d(2, 4, 3, padding=1)
    assert count_macs(conv1d, (2, 7)) == 4 * 2 * 3 * 7
