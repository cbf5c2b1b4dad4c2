"""Tests for sparse_core.soups: averaging runs that share one mask, once or every cycle (Sparse Model Soups)."""

import pytest
import torch
from torch import nn

from sparse_core.lottery import prune_survivors
from sparse_core.masks import Mask, apply_mask, effective_parameters, masked_parameters
from sparse_core.soups import average_state_dicts, soup, sparse_model_soups

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


# Sparse Model Soups: the per-cycle recipe ----------------------------------------------

INPUTS = torch.randn(48, 4, generator=torch.Generator().manual_seed(0))
TARGETS = INPUTS[:, :1] * 2.0 - INPUTS[:, 1:2].abs()


def _pretrained() -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return model


def _retrain(model: nn.Module, cycle: int, member: int, steps: int = 6) -> None:
    """Adam on mini-batches in a member-specific order: the members of one cycle differ."""
    order = torch.randperm(len(INPUTS), generator=torch.Generator().manual_seed(100 * cycle + member))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for step in range(steps):
        batch = order[(step * 8) % len(INPUTS) :][:8]
        loss = nn.functional.mse_loss(model(INPUTS[batch]), TARGETS[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _uniform_average(tensors):
    return (sum(t.to(torch.float64) for t in tensors) / len(tensors)).to(tensors[0].dtype)


def test_every_cycle_starts_from_the_pruned_average_of_the_previous_cycles_retrains():
    pretrained = _pretrained()
    untouched = {key: value.clone() for key, value in pretrained.state_dict().items()}
    starts, ends, masks = {}, {}, {}

    def train_fn(model, cycle, member):
        masks.setdefault(cycle, Mask.from_model(model))
        starts[cycle, member] = {name: value.clone() for name, value in effective_parameters(model).items()}
        _retrain(model, cycle, member)
        ends[cycle, member] = {name: value.clone() for name, value in effective_parameters(model).items()}
        return {"member": member}

    soup_size, cycles = 3, 3
    result, history = sparse_model_soups(pretrained, train_fn, cycles, soup_size, prune_fraction_per_cycle=0.5)
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    # Cycle 1 starts from the pretrained model pruned by magnitude to half of its 40 weights.
    first_mask = masks[1]
    assert first_mask == prune_survivors(pretrained, 0.5, Mask.ones_like(pretrained))
    for name in names:
        keep = first_mask[name] if name in first_mask else torch.ones_like(untouched[name], dtype=torch.bool)
        assert torch.equal(starts[1, 0][name], untouched[name] * keep), name
    for cycle in range(1, cycles + 1):
        for member in range(1, soup_size):  # the members of one cycle share their start ...
            assert all(torch.equal(starts[cycle, member][n], starts[cycle, 0][n]) for n in names)
        assert not all(torch.equal(ends[cycle, 0][n], ends[cycle, 1][n]) for n in names)  # ... and end apart
    for cycle in range(2, cycles + 1):
        mask, previous = masks[cycle], masks[cycle - 1]
        assert (mask & ~previous).nonzeros() == 0  # cycle k+1's mask is a subset of cycle k's
        for name in names:
            average = _uniform_average([ends[cycle - 1, member][name] for member in range(soup_size)])
            keep = mask[name] if name in mask else torch.ones_like(average, dtype=torch.bool)
            # Exactly the previous cycle's uniform soup, pruned to this cycle's mask.
            assert torch.equal(starts[cycle, 0][name], torch.where(keep, average, torch.zeros_like(average))), (
                cycle,
                name,
            )
    final = effective_parameters(result)
    for name in names:
        assert torch.equal(final[name], _uniform_average([ends[cycles, m][name] for m in range(soup_size)])), name
    assert Mask.from_model(result) == masks[cycles]
    assert [r.nonzeros for r in history] == [20, 10, 5] and Mask.from_model(result).nonzeros() == 5
    assert [r.cycle_index for r in history] == [1, 2, 3]
    assert history[0].member_metrics == [{"member": 0}, {"member": 1}, {"member": 2}]
    assert all(torch.equal(value, untouched[key]) for key, value in pretrained.state_dict().items())


@pytest.mark.parametrize("scope", ["global", "per_layer"])
def test_sms_meets_the_final_density_exactly(scope):
    pretrained = _pretrained()
    result, history = sparse_model_soups(
        pretrained,
        lambda model, cycle, member: _retrain(model, cycle, member, steps=2),
        cycles=4,
        soup_size=2,
        final_density=0.1,
        scope=scope,
        evaluate=lambda average: nn.functional.mse_loss(average(INPUTS), TARGETS).item(),
    )
    mask = Mask.from_model(result)
    if scope == "global":
        assert mask.nonzeros() == round(0.1 * 40) == history[-1].nonzeros
    else:
        assert {name: int(m.sum()) for name, m in mask.items()} == {"0.weight": round(0.1 * 32), "2.weight": 1}
    densities = [r.density for r in history]
    assert densities == sorted(densities, reverse=True) and len(history) == 4
    assert all(isinstance(r.soup_metrics, float) for r in history)
    assert all(torch.all(effective_parameters(result)[n][~m] == 0) for n, m in mask.items())


def test_sms_refuses_bad_arguments_and_members_that_change_their_mask():
    pretrained = _pretrained()
    with pytest.raises(ValueError, match="soup_size >= 1"):
        sparse_model_soups(pretrained, lambda *_: None, cycles=2, soup_size=0, final_density=0.5)
    with pytest.raises(ValueError, match="exactly one of"):
        sparse_model_soups(pretrained, lambda *_: None, cycles=2, soup_size=2)

    def regrow_one(model, cycle, member):
        if member == 1:
            flat = masked_parameters(model)["0.weight"][1].view(-1)
            inactive, active = int(flat.logical_not().nonzero()[0]), int(flat.nonzero()[0])
            flat[inactive], flat[active] = True, False  # same count, another mask

    with pytest.raises(ValueError, match="model 1 has a different mask from model 0"):
        sparse_model_soups(pretrained, regrow_one, cycles=1, soup_size=2, final_density=0.5)
