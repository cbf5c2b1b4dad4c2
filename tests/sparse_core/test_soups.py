"""Tests for sparse_core.soups: averaging runs that share one mask (Sparse Model Soups)."""

import pytest
import torch
from torch import nn

from sparse_core.masks import Mask, apply_mask, effective_parameters, masked_parameters
from sparse_core.soups import average_state_dicts, soup

SHARED = Mask({"weight": torch.tensor([[True, False], [False, True]])})


def _masked_linear(weight, bias, mask=SHARED):
    model = nn.Linear(2, 2)
    apply_mask(model, mask)
    original, _ = masked_parameters(model)["weight"]
    with torch.no_grad():
        original.copy_(torch.tensor(weight))
        model.bias.copy_(torch.tensor(bias))
    return model


def test_soup_averages_hand_made_values_and_keeps_the_mask():
    first = _masked_linear([[1.0, 0.0], [0.0, 3.0]], [1.0, 2.0])
    second = _masked_linear([[3.0, 7.0], [0.0, 5.0]], [3.0, 4.0])  # 7.0: a stale original under the mask
    third = _masked_linear([[2.0, 0.0], [0.0, 1.0]], [2.0, 0.0])
    result = soup([first, second, third])
    effective = effective_parameters(result)
    assert torch.equal(effective["weight"], torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    assert torch.equal(effective["bias"], torch.tensor([2.0, 2.0]))
    assert Mask.from_model(result) == SHARED
    original, _ = masked_parameters(result)["weight"]
    assert original[0, 1] == 0.0 and original[1, 0] == 0.0  # masked positions exactly zero
    assert masked_parameters(second)["weight"][0][0, 1] == 7.0  # the inputs are untouched
    assert result is not first


def test_soup_refuses_models_with_different_masks():
    other = Mask({"weight": torch.tensor([[True, True], [False, False]])})
    first = _masked_linear([[1.0, 0.0], [0.0, 3.0]], [1.0, 2.0])
    second = _masked_linear([[1.0, 2.0], [0.0, 0.0]], [1.0, 2.0], mask=other)
    with pytest.raises(ValueError, match="model 1 has a different mask from model 0: 'weight' differs in 2 entries"):
        soup([first, second])
    with pytest.raises(ValueError, match="differs from the given mask"):
        soup([first, first], mask=other)


def test_soup_of_plain_models_with_a_given_mask_returns_a_masked_model():
    first, second = nn.Linear(2, 2), nn.Linear(2, 2)
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
        second.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 4.0]]))
    result = soup([first, second], mask=SHARED)
    assert Mask.from_model(result) == SHARED
    assert torch.equal(effective_parameters(result)["weight"], torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    assert torch.equal(effective_parameters(result)["bias"], (first.bias + second.bias).detach() / 2)


def test_average_state_dicts_of_plain_dicts_with_mask():
    a = {"weight": torch.tensor([[1.0, 0.0], [0.0, 3.0]]), "steps": torch.tensor(5)}
    b = {"weight": torch.tensor([[2.0, 0.0], [0.0, 6.0]]), "steps": torch.tensor(9)}
    averaged = average_state_dicts([a, b], SHARED)
    assert torch.equal(averaged["weight"], torch.tensor([[1.5, 0.0], [0.0, 4.5]]))
    assert averaged["steps"] == 5  # integer entries come from the first state dict
    leaky = {"weight": torch.tensor([[1.0, 0.5], [0.0, 3.0]]), "steps": torch.tensor(1)}
    with pytest.raises(ValueError, match="state dict 1 has 1 non-zero weights of 'weight' outside the mask"):
        average_state_dicts([a, leaky], SHARED)


def test_average_state_dicts_rejects_mismatched_entries_and_masks():
    with pytest.raises(ValueError, match="at least one"):
        average_state_dicts([])
    with pytest.raises(ValueError, match="different entries from state dict 0: \\['extra'\\]"):
        average_state_dicts([{"w": torch.zeros(2)}, {"w": torch.zeros(2), "extra": torch.zeros(1)}])
    with pytest.raises(ValueError, match="'w' is torch.float32 \\(3,\\) in state dict 1"):
        average_state_dicts([{"w": torch.zeros(2)}, {"w": torch.zeros(3)}])
    first = _masked_linear([[1.0, 0.0], [0.0, 3.0]], [1.0, 2.0]).state_dict()
    other = Mask({"weight": torch.tensor([[True, True], [False, True]])})
    second = _masked_linear([[1.0, 1.0], [0.0, 3.0]], [1.0, 2.0], mask=other).state_dict()
    with pytest.raises(ValueError, match="do not share one mask"):
        average_state_dicts([first, second])


def test_batchnorm_statistics_are_averaged_and_counters_kept():
    first, second = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    with torch.no_grad():
        first.running_mean.copy_(torch.tensor([1.0, 2.0]))
        second.running_mean.copy_(torch.tensor([3.0, 6.0]))
    first.num_batches_tracked.fill_(4)
    result = soup([first, second])
    assert torch.equal(result.running_mean, torch.tensor([2.0, 4.0]))
    assert result.num_batches_tracked == 4
