import copy
import io

import pytest
import torch
from torch import nn

from sparse_core.masks import (
    Mask,
    MaskParametrization,
    apply_mask,
    default_prunable,
    effective_parameters,
    masked_parameters,
    named_parameters,
    remove_masks,
    set_mask,
    zero_masked_,
)


def make_mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def half_mask() -> Mask:
    first = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    second = torch.tensor([[1, 0, 0], [0, 1, 1]], dtype=torch.bool)
    return Mask({"0.weight": first, "2.weight": second})


def test_counts_and_densities():
    mask = half_mask()
    assert mask.nonzeros() == 9
    assert mask.numel() == 18
    assert mask.density() == pytest.approx(0.5)
    assert mask.sparsity() == pytest.approx(0.5)
    assert mask.layer_densities() == pytest.approx({"0.weight": 6 / 12, "2.weight": 3 / 6})


def test_report_is_a_table_with_every_layer_and_the_total():
    text = half_mask().report()
    lines = text.splitlines()
    assert lines[0].split() == ["name", "shape", "nonzeros", "total", "density"]
    assert lines[2].split() == ["0.weight", "(3,", "4)", "6", "12", "0.5000"]
    assert lines[-1].split() == ["total", "9", "18", "0.5000"]
    assert repr(half_mask()) == text


def test_non_bool_tensors_are_rejected_naming_the_key():
    with pytest.raises(TypeError, match="'0.weight'.*torch.float32"):
        Mask({"0.weight": torch.ones(2, 2)})


def test_logical_operations_and_their_errors():
    mask = half_mask()
    assert (mask & ~mask).nonzeros() == 0
    assert (mask | ~mask).nonzeros() == mask.numel()
    with pytest.raises(ValueError, match="2.weight"):
        mask & Mask({"0.weight": mask["0.weight"]})
    with pytest.raises(ValueError, match="'2.weight'.*\\(2, 3\\).*\\(3, 2\\)"):
        mask | Mask({"0.weight": mask["0.weight"], "2.weight": torch.ones(3, 2, dtype=torch.bool)})


def test_json_and_file_round_trip(tmp_path):
    mask = half_mask()
    odd = Mask({"e.weight": torch.rand(7, 5, 3, generator=torch.Generator().manual_seed(1)) > 0.3})
    assert Mask.from_json(mask.to_json()) == mask
    odd.save(tmp_path / "mask.json")
    assert Mask.load(tmp_path / "mask.json") == odd


def test_from_json_rejects_foreign_text():
    with pytest.raises(ValueError, match="not a serialised Mask"):
        Mask.from_json('{"tensors": {}}')


def test_default_prunable_takes_every_matrix_and_no_vector():
    model = nn.Sequential(nn.Embedding(5, 2), nn.LayerNorm(2), nn.Linear(2, 2), nn.Conv1d(1, 1, 3))
    selected = [name for name, p in model.named_parameters() if default_prunable(name, p)]
    assert selected == ["0.weight", "2.weight", "3.weight"]
    assert list(Mask.ones_like(model)) == selected


def test_apply_mask_zeroes_originals_and_effective_weights():
    model = apply_mask(make_mlp(), half_mask())
    original = model[0].parametrizations.weight.original
    assert torch.all(original[~half_mask()["0.weight"]] == 0)
    assert torch.all(model[0].weight[~half_mask()["0.weight"]] == 0)
    assert isinstance(model[0].parametrizations.weight[0], MaskParametrization)
    assert Mask.from_model(model) == half_mask()
    assert list(dict(named_parameters(model))) == ["0.bias", "0.weight", "2.bias", "2.weight"]


def test_apply_mask_errors_name_the_problem():
    with pytest.raises(KeyError, match="1.weight.*valid names.*0.weight"):
        apply_mask(make_mlp(), Mask({"1.weight": torch.ones(3, 4, dtype=torch.bool)}))
    with pytest.raises(ValueError, match="'0.weight'.*\\(4, 3\\).*\\(3, 4\\)"):
        apply_mask(make_mlp(), Mask({"0.weight": torch.ones(4, 3, dtype=torch.bool)}))


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
        lambda p: torch.optim.Adam(p, lr=0.1, weight_decay=0.1),
        lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.1),
    ],
)
def test_masked_weights_stay_exactly_zero_under_optimizers(make_optimizer):
    model = apply_mask(make_mlp(), half_mask())
    optimizer = make_optimizer(model.parameters())
    inputs = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    for _ in range(5):
        optimizer.zero_grad()
        model(inputs).square().sum().backward()
        optimizer.step()
    for name, (original, mask) in masked_parameters(model).items():
        assert torch.all(original[~mask] == 0), name
        assert torch.all(effective_parameters(model)[name][~mask] == 0), name
    assert not torch.equal(model[0].bias, make_mlp()[0].bias)  # training did happen


def test_zero_masked_cleans_originals_moved_by_hand():
    model = apply_mask(make_mlp(), half_mask())
    with torch.no_grad():
        model[0].parametrizations.weight.original.fill_(1.0)
    assert torch.all(model[0].weight[~half_mask()["0.weight"]] == 0)
    zero_masked_(model)
    assert int(model[0].parametrizations.weight.original.count_nonzero()) == 6


def test_set_mask_edits_buffers_in_place_and_keeps_the_optimizer_tensor():
    model = apply_mask(make_mlp(), half_mask())
    original_before, buffer_before = masked_parameters(model)["0.weight"]
    new = Mask({"0.weight": torch.ones(3, 4, dtype=torch.bool)})
    set_mask(model, new)
    original_after, buffer_after = masked_parameters(model)["0.weight"]
    assert original_after is original_before and buffer_after is buffer_before
    assert buffer_after.all()
    assert Mask.from_model(model)["2.weight"].equal(half_mask()["2.weight"])
    with pytest.raises(KeyError, match="masked names"):
        set_mask(model, Mask({"0.bias": torch.ones(3, dtype=torch.bool)}))


def test_apply_mask_twice_updates_instead_of_stacking():
    model = apply_mask(make_mlp(), half_mask())
    apply_mask(model, ~half_mask())
    assert len(model[0].parametrizations.weight) == 1
    assert Mask.from_model(model) == ~half_mask()
    # positions kept now were masked before, so they restart from exactly zero
    assert int(model[0].weight.count_nonzero()) == 0


def test_deepcopy_keeps_masks_and_outputs():
    model = apply_mask(make_mlp(), half_mask())
    clone = copy.deepcopy(model)
    inputs = torch.randn(5, 4)
    assert Mask.from_model(clone) == half_mask()
    assert torch.equal(clone(inputs), model(inputs))


def test_state_dict_round_trip_through_weights_only_load():
    model = apply_mask(make_mlp(seed=0), half_mask())
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    fresh = apply_mask(make_mlp(seed=1), Mask.ones_like(make_mlp()))
    fresh.load_state_dict(state)
    inputs = torch.randn(5, 4)
    assert Mask.from_model(fresh) == half_mask()
    assert torch.equal(fresh(inputs), model(inputs))


def test_remove_masks_bakes_zeros_into_plain_parameters():
    model = apply_mask(make_mlp(), half_mask())
    inputs = torch.randn(5, 4)
    expected = model(inputs)
    weight_before = masked_parameters(model)["0.weight"][0]
    remove_masks(model)
    assert sorted(name for name, _ in model.named_parameters()) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert masked_parameters(model) == {}
    assert model[0].weight is weight_before  # optimizers keep working on the same tensor
    assert torch.equal(model(inputs), expected)
    assert int(model[0].weight.count_nonzero()) <= 6


def test_mask_follows_the_model_between_devices_and_to_copies():
    mask = half_mask().to("cpu")
    assert mask == half_mask()
    model = apply_mask(make_mlp().double(), mask).float()
    assert masked_parameters(model)["0.weight"][1].dtype == torch.bool


def test_shared_modules_are_masked_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    apply_mask(model, Mask({"0.weight": torch.eye(3, dtype=torch.bool)}))
    assert list(masked_parameters(model)) == ["0.weight"]
    remove_masks(model)
    assert torch.equal(model[2].weight, model[2].weight * torch.eye(3))


def test_from_model_is_a_snapshot():
    model = apply_mask(make_mlp(), half_mask())
    snapshot = Mask.from_model(model)
    set_mask(model, Mask.ones_like(model))
    assert snapshot == half_mask()


def _train_under_momentum_then_shrink_mask(steps: int = 3):
    """Trains dense, masks to `half_mask`, trains on: momentum moves the masked originals."""
    model = apply_mask(make_mlp(), Mask.ones_like(make_mlp()))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    inputs = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))

    def train():
        for _ in range(steps):
            optimizer.zero_grad()
            model(inputs).square().sum().backward()
            optimizer.step()

    train()
    set_mask(model, half_mask())
    train()
    for name, (original, _) in masked_parameters(model).items():
        assert bool((original[~half_mask()[name]] != 0).any()), name  # the hidden values drifted
    return model, optimizer


@pytest.mark.parametrize("grow", ["apply_mask", "set_mask"])
def test_grown_weights_restart_at_exactly_zero_after_momentum_moved_them(grow):
    model, _ = _train_under_momentum_then_shrink_mask()
    before = {name: original.detach().clone() for name, (original, _) in masked_parameters(model).items()}
    (apply_mask if grow == "apply_mask" else set_mask)(model, Mask.ones_like(model))
    for name, (original, mask) in masked_parameters(model).items():
        kept, grown = half_mask()[name], ~half_mask()[name]
        assert mask.all()
        assert torch.all(original[grown] == 0), name
        assert torch.all(effective_parameters(model)[name][grown] == 0), name
        assert torch.equal(original[kept], before[name][kept]), name  # active before and after: untouched


def test_set_mask_with_the_optimizer_zeroes_its_state_where_weights_are_not_active_throughout():
    model, optimizer = _train_under_momentum_then_shrink_mask()
    grown_mask = Mask({"0.weight": torch.ones(3, 4, dtype=torch.bool), "2.weight": torch.zeros(2, 3, dtype=torch.bool)})
    buffers = {
        name: optimizer.state[original]["momentum_buffer"].clone()
        for name, (original, _) in masked_parameters(model).items()
    }
    set_mask(model, grown_mask, optimizer)
    for name, (original, _) in masked_parameters(model).items():
        after = optimizer.state[original]["momentum_buffer"]
        throughout = half_mask()[name] & grown_mask[name]
        assert torch.all(after[~throughout] == 0), name
        assert torch.equal(after[throughout], buffers[name][throughout]), name
    assert int(masked_parameters(model)["0.weight"][0].count_nonzero()) == 6  # grown entries are zero
    assert int(masked_parameters(model)["2.weight"][0].count_nonzero()) == 0
