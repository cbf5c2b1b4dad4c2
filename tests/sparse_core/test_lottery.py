"""Tests for sparse_core.lottery: iterative magnitude pruning with rewinding."""

import pytest
import torch
from torch import nn

from sparse_core.lottery import imp, imp_densities, rewind
from sparse_core.masks import Mask, apply_mask, effective_parameters, masked_parameters

INPUTS = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
TARGETS = INPUTS[:, :1] * 2.0 - INPUTS[:, 1:2]


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))


def train(model: nn.Module, steps: int = 20) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        loss = nn.functional.mse_loss(model(INPUTS), TARGETS)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def test_imp_densities_schedule():
    assert imp_densities(3, prune_fraction_per_round=0.5) == [1.0, 0.5, 0.25, 0.125]
    assert imp_densities(2, final_density=0.25) == pytest.approx([1.0, 0.5, 0.25])
    with pytest.raises(ValueError, match="exactly one of"):
        imp_densities(2, prune_fraction_per_round=0.2, final_density=0.1)
    with pytest.raises(ValueError, match="exactly one of"):
        imp_densities(2)


@pytest.mark.parametrize("scope", ["global", "per_layer"])
def test_imp_follows_density_schedule_exactly_and_rewinds_to_early_weights(scope):
    early = make_model()
    train(early, steps=3)  # rewind to step k = 3 (Frankle et al. 2020)
    rewind_state = {key: value.clone() for key, value in early.state_dict().items()}
    seen_masks, rewind_checks = [], []

    def train_fn(model):
        mask = Mask.from_model(model)
        effective = effective_parameters(model)
        # Before training, kept weights equal the saved early weights, pruned ones are zero.
        rewind_checks.append(
            all(torch.equal(effective[name][mask[name]], rewind_state[name][mask[name]]) for name in mask)
            and all(torch.all(effective[name][~mask[name]] == 0) for name in mask)
            and torch.equal(effective["0.bias"], rewind_state["0.bias"])
        )
        seen_masks.append(mask)
        return {"loss": train(model)}

    final_mask, results = imp(
        make_model, train_fn, rounds=3, prune_fraction_per_round=0.5, rewind_state=rewind_state, scope=scope
    )
    assert all(rewind_checks) and len(rewind_checks) == 4
    assert [result.round_index for result in results] == [0, 1, 2, 3]
    assert all("loss" in result.metrics for result in results)
    densities = [1.0, 0.5, 0.25, 0.125]
    sizes = {"0.weight": 32, "2.weight": 8}
    for result, mask, density in zip(results, seen_masks, densities):
        if scope == "global":
            assert mask.nonzeros() == result.nonzeros == round(density * 40)
        else:
            assert {name: int(m.sum()) for name, m in mask.items()} == {
                name: round(density * size) for name, size in sizes.items()
            }
    for earlier, later in zip(seen_masks, seen_masks[1:]):
        assert (later & ~earlier).nonzeros() == 0  # pruned weights stay pruned
    assert final_mask == seen_masks[-1]


def test_imp_prunes_smallest_trained_weights_globally():
    trained = {}

    def train_fn(model):
        loss = train(model)
        trained[len(trained)] = effective_parameters(model)
        return loss

    mask, results = imp(make_model, train_fn, rounds=1, prune_fraction_per_round=0.75)
    magnitudes = torch.cat([trained[0][name].abs().reshape(-1) for name in ("0.weight", "2.weight")])
    kept = torch.cat([mask[name].reshape(-1) for name in ("0.weight", "2.weight")])
    assert int(kept.sum()) == 10
    assert magnitudes[kept].min() >= magnitudes[~kept].max()
    assert results[1].density == pytest.approx(0.25)


def test_imp_default_rewinds_to_initialisation():
    initial = make_model().state_dict()
    checks = []

    def train_fn(model):
        effective = effective_parameters(model)
        mask = Mask.from_model(model)
        checks.append(all(torch.equal(effective[n][mask[n]], initial[n][mask[n]]) for n in mask))
        return train(model, steps=5)

    imp(make_model, train_fn, rounds=2, final_density=0.3)
    assert checks == [True, True, True]


def test_rewind_accepts_masked_and_unmasked_states_and_rejects_others():
    source = make_model()
    mask = Mask({"0.weight": torch.rand(8, 4, generator=torch.Generator().manual_seed(1)) > 0.5})
    target = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    apply_mask(target, Mask({"0.weight": torch.ones(8, 4, dtype=torch.bool)}))
    rewind(target, source.state_dict(), mask)
    original, live_mask = masked_parameters(target)["0.weight"]
    assert torch.equal(live_mask, mask["0.weight"])
    assert torch.equal(original.detach(), source[0].weight.detach() * mask["0.weight"])
    assert torch.equal(target[2].weight, source[2].weight)

    again = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    rewind(again, target.state_dict(), mask)  # a masked model's state dict
    assert torch.equal(effective_parameters(again)["0.weight"], effective_parameters(target)["0.weight"])

    with pytest.raises(ValueError, match="unexpected keys \\['extra'\\]"):
        rewind(again, {**source.state_dict(), "extra": torch.zeros(1)}, mask)
    partial = {key: value for key, value in source.state_dict().items() if key != "2.bias"}
    with pytest.raises(ValueError, match="missing keys \\['2.bias'\\]"):
        rewind(again, partial, mask)
