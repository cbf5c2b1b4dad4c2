"""Tests for sparse_core.dynamic: SET / RigL / DSL prune-and-regrow at a constant budget."""

import copy
import io

import pytest
import torch
from torch import nn

from sparse_core.dynamic import DynamicSparseConfig, DynamicSparseUpdater, drop_and_regrow, replacement_count
from sparse_core.masks import Mask, apply_mask, effective_parameters, masked_parameters
from sparse_core.pruning import random_mask

HAND_WEIGHT = torch.tensor([[0.5, -0.1, 0.0], [2.0, 0.3, -0.05]])
HAND_MASK = torch.tensor([[True, True, False], [True, True, False]])
HAND_GRADIENT = torch.tensor([[1.0, 9.0, 3.0], [0.0, 2.0, 5.0]])


def _hand_made_model(regrowth: str):
    model = nn.Sequential(nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(HAND_WEIGHT)
    apply_mask(model, Mask({"0.weight": HAND_MASK.clone()}))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    config = DynamicSparseConfig(regrowth=regrowth, update_every=1, end_step=10_000, initial_fraction=0.5)
    return model, optimizer, DynamicSparseUpdater(model, optimizer, config, torch.Generator().manual_seed(0))


def test_rigl_drops_smallest_magnitude_and_regrows_largest_dense_gradient():
    model, optimizer, updater = _hand_made_model("gradient")
    (model[0].weight * HAND_GRADIENT).sum().backward()
    original, _ = masked_parameters(model)["0.weight"]
    # The gradient of the trained original is zero at masked entries: the updater must not use it.
    assert original.grad[0, 2] == 0 and original.grad[1, 2] == 0
    optimizer.step()
    assert updater.step(1)
    # k = ceil(0.5 * 4) = 2: drop |-0.1| and |0.3|; the largest |grad| among the four entries
    # inactive after the drop are (0, 1) = 9 (just dropped, regrown) and (1, 2) = 5.
    expected_mask = torch.tensor([[True, True, False], [True, False, True]])
    new_mask = masked_parameters(model)["0.weight"][1]
    assert torch.equal(new_mask, expected_mask)
    # (0, 1) was dropped and regrown in place: it keeps -0.1; dropped (1, 1) and newly grown (1, 2) are zero.
    expected_weight = torch.tensor([[0.5, -0.1, 0.0], [2.0, 0.0, 0.0]])
    assert torch.equal(original.detach(), expected_weight)
    assert torch.equal(effective_parameters(model)["0.weight"], expected_weight)
    assert updater.exploration_rate() == pytest.approx(5 / 6)


def test_dense_gradients_are_summed_over_backward_passes_and_cleared_each_step():
    model, optimizer, updater = _hand_made_model("gradient")
    first = torch.tensor([[0.0, 4.5, 3.0], [0.0, -3.0, 2.5]])  # alone: regrow (0, 1) and (0, 2)
    second = torch.tensor([[1.0, 4.5, 0.0], [0.0, 4.0, 2.5]])  # alone: regrow (0, 1) and (1, 1)

    def two_backward_passes():
        (model[0].weight * first).sum().backward()
        (model[0].weight * second).sum().backward()

    two_backward_passes()
    optimizer.step()
    assert not updater.step(0)  # step 0 is never an update step; it still clears the sums
    with pytest.raises(RuntimeError, match="no gradient"):
        updater.step(1)
    two_backward_passes()
    assert updater.step(2)
    # The signed sum [[1, 9, 3], [0, 1, 5]] regrows (0, 1) and (1, 2).
    expected_mask = torch.tensor([[True, True, False], [True, False, True]])
    assert torch.equal(masked_parameters(model)["0.weight"][1], expected_mask)


def test_dense_gradients_are_captured_only_before_update_steps():
    model = _mlp_with_mask(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    config = DynamicSparseConfig(regrowth="gradient", update_every=4, end_step=10)
    updater = DynamicSparseUpdater(model, optimizer, config)
    captured = {}
    for step in range(1, 15):
        for micro in range(2):  # gradient accumulation: two backward passes per step
            x, y = _batch(10 * step + micro)
            nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        captured[step] = sorted(updater._dense_gradients)
        assert updater.step(step) == (step in (4, 8))
        optimizer.zero_grad()
    # A new updater captures before its first step; then only before steps 4 and 8 (end_step 10).
    assert captured[1] == sorted(masked_parameters(model))
    assert [step for step, names in captured.items() if names] == [1, 4, 8]
    assert updater.updates_done == 2


def test_captured_gradient_sums_every_backward_pass_before_an_update():
    model = _mlp_with_mask(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    updater = DynamicSparseUpdater(
        model, optimizer, DynamicSparseConfig(regrowth="gradient", update_every=3, end_step=99)
    )
    updater.step(1)  # arms nothing: step 2 is not an update step
    x, y = _batch(0)
    nn.functional.mse_loss(model(x), y).backward()
    assert updater._dense_gradients == {}
    updater.step(2)  # arms the capture for step 3
    reference = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    reference.load_state_dict(
        {name: tensor for name, tensor in effective_parameters(model).items()}
        | {n: p for n, p in model.named_parameters() if "bias" in n}
    )
    for micro in range(2):
        x, y = _batch(micro)
        nn.functional.mse_loss(model(x), y).backward()
        nn.functional.mse_loss(reference(x), y).backward()
    for name, gradient in updater._dense_gradients.items():
        assert torch.allclose(gradient, reference.get_parameter(name).grad, atol=1e-6), name


def test_set_regrows_only_inactive_positions_and_ignores_gradients():
    model, optimizer, updater = _hand_made_model("random")
    assert updater.step(1)
    original, new_mask = masked_parameters(model)["0.weight"]
    assert int(new_mask.sum()) == 4
    assert new_mask[0, 0] and new_mask[1, 0]  # the two largest weights survive
    assert original[0, 0] == 0.5 and original[1, 0] == 2.0
    assert torch.all(original[~new_mask] == 0)
    regrown = new_mask & ~torch.tensor([[True, False, False], [True, False, False]])
    assert int(regrown.sum()) == 2
    newly_active = new_mask & ~HAND_MASK
    assert torch.all(original[newly_active] == 0)
    in_place = regrown & HAND_MASK  # dropped and regrown by the same update: keeps its value
    assert torch.equal(original[in_place], HAND_WEIGHT[in_place])


def test_random_regrowth_is_uniform_over_candidates():
    mask = Mask({"w": torch.tensor([True] * 5 + [False] * 5)})
    magnitudes = {"w": torch.arange(1.0, 11.0)}
    generator = torch.Generator().manual_seed(0)
    trials = 2000
    counts = torch.zeros(10)
    for _ in range(trials):
        new_mask, regrown = drop_and_regrow(magnitudes, {"w": torch.rand(10, generator=generator)}, mask, 0.4)
        assert int(new_mask["w"].sum()) == 5 and torch.all(new_mask["w"][2:5])
        counts += regrown["w"].double()
    # k = 2 drawn from the 7 entries inactive after dropping the two smallest active ones.
    frequency = counts / trials
    assert torch.all(frequency[2:5] == 0)
    candidates = torch.tensor([0, 1, 5, 6, 7, 8, 9])
    assert torch.all((frequency[candidates] - 2 / 7).abs() < 0.035), frequency


def test_global_budget_moves_weights_between_tensors():
    mask = Mask({"a": torch.tensor([True, True, False]), "b": torch.tensor([True, True, False])})
    magnitudes = {"a": torch.tensor([0.1, 0.2, 0.0]), "b": torch.tensor([3.0, 4.0, 0.0])}
    scores = {"a": torch.tensor([0.0, 0.0, 1.0]), "b": torch.tensor([0.0, 0.0, 7.0])}
    new_mask, regrown = drop_and_regrow(magnitudes, scores, mask, 0.5, budget="global")
    # k = 2 over all four active entries: both of "a" go, then "b"[2] (7) and "a"[2] (1) grow.
    assert new_mask["a"].tolist() == [False, False, True]
    assert new_mask["b"].tolist() == [True, True, True]
    assert regrown["a"].tolist() == [False, False, True] and regrown["b"].tolist() == [False, False, True]
    per_tensor, _ = drop_and_regrow(magnitudes, scores, mask, 0.5, budget="per_tensor")
    assert per_tensor["a"].tolist() == [False, True, True] and per_tensor["b"].tolist() == [False, True, True]


def test_replacement_count_is_ceil_and_robust_to_float_error():
    assert replacement_count(0.3, 10) == 3  # 0.3 * 10 = 3.0000000000000004
    assert replacement_count(0.005, 100) == 1
    assert replacement_count(0.0, 100) == 0
    assert replacement_count(1.0, 7) == 7


def _mlp_with_mask(seed: int, density: float = 0.3):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    apply_mask(model, random_mask(model, density, torch.Generator().manual_seed(seed)))
    return model


def _batch(step: int):
    generator = torch.Generator().manual_seed(step)
    x = torch.randn(16, 4, generator=generator)
    return x, torch.stack([x[:, 0] * x[:, 1], x[:, 2].abs() - x[:, 3]], dim=1)


def _train(model, optimizer, updater, steps):
    updated = []
    for step in steps:
        x, y = _batch(step)
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        updated.append(updater.step(step))
        optimizer.zero_grad()
    return updated


@pytest.mark.parametrize(
    "regrowth, budget", [("gradient", "per_tensor"), ("random", "per_tensor"), ("gradient", "global")]
)
def test_nonzero_budget_is_invariant_over_1000_steps(regrowth, budget):
    model = _mlp_with_mask(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    config = DynamicSparseConfig(regrowth=regrowth, update_every=10, end_step=750, budget=budget)
    updater = DynamicSparseUpdater(model, optimizer, config, torch.Generator().manual_seed(1))
    initial = Mask.from_model(model)
    initial_counts = {name: int(m.sum()) for name, m in initial.items()}
    previous = initial
    changed_updates = 0
    for step in range(1, 1001):
        x, y = _batch(step)
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        assert updater.step(step) == (step % 10 == 0 and step <= 750)
        optimizer.zero_grad()
        current = Mask.from_model(model)
        counts = {name: int(m.sum()) for name, m in current.items()}
        if budget == "per_tensor":
            assert counts == initial_counts
        else:
            assert sum(counts.values()) == sum(initial_counts.values())
        changed_updates += current != previous
        if step > 750:
            assert current == previous
        previous = current
    effective = effective_parameters(model)
    assert all(torch.all(effective[name][~mask] == 0) for name, mask in current.items())
    assert updater.updates_done == 75 and changed_updates > 50
    assert initial.density() < updater.exploration_rate() <= 1.0


@pytest.mark.parametrize("regrowth, budget", [("random", "per_tensor"), ("gradient", "global")])
def test_state_dict_round_trip_continues_identically(regrowth, budget):
    config = DynamicSparseConfig(
        regrowth=regrowth, update_every=5, end_step=80, budget=budget, mask_optimizer_moments=True
    )
    model = _mlp_with_mask(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    updater = DynamicSparseUpdater(model, optimizer, config, torch.Generator().manual_seed(1))
    _train(model, optimizer, updater, range(1, 33))
    buffer = io.BytesIO()
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "updater": updater.state_dict()}
    torch.save(checkpoint, buffer)
    _train(model, optimizer, updater, range(33, 70))

    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)
    resumed = _mlp_with_mask(5)  # a different initial mask and weights, overwritten by the checkpoint
    resumed_optimizer = torch.optim.Adam(resumed.parameters(), lr=1e-2)
    resumed_updater = DynamicSparseUpdater(resumed, resumed_optimizer, config, torch.Generator().manual_seed(99))
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    resumed_updater.load_state_dict(checkpoint["updater"])
    _train(resumed, resumed_optimizer, resumed_updater, range(33, 70))

    for (name, tensor), (_, resumed_tensor) in zip(model.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(tensor, resumed_tensor), name
    assert resumed_updater.exploration_rate() == updater.exploration_rate()
    assert resumed_updater.updates_done == updater.updates_done == 13


def test_load_state_dict_rejects_other_parameters():
    model = _mlp_with_mask(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    config = DynamicSparseConfig(regrowth="random", update_every=5, end_step=50)
    state = DynamicSparseUpdater(model, optimizer, config).state_dict()
    state["ever_active"].pop("2.weight")
    with pytest.raises(ValueError, match="ever-active masks"):
        DynamicSparseUpdater(model, optimizer, config).load_state_dict(state)


@pytest.mark.parametrize("optimizer_name", ["adam", "sgd"])
@pytest.mark.parametrize("mask_moments", [True, False])
def test_optimizer_moments_are_masked_unless_turned_off(optimizer_name, mask_moments):
    model = _mlp_with_mask(0, density=0.5)
    if optimizer_name == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    config = DynamicSparseConfig(
        regrowth="gradient", update_every=5, end_step=100, initial_fraction=0.5, mask_optimizer_moments=mask_moments
    )
    updater = DynamicSparseUpdater(model, optimizer, config)
    _train(model, optimizer, updater, range(1, 5))
    old_mask = Mask.from_model(model)
    x, y = _batch(5)
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
    snapshots = {
        name: {key: value.clone() for key, value in optimizer.state[original].items() if value.shape == original.shape}
        for name, (original, _) in masked_parameters(model).items()
    }
    assert updater.step(5)
    new_mask = Mask.from_model(model)
    for name, (original, _) in masked_parameters(model).items():
        assert snapshots[name], "the optimizer should hold per-weight state"
        for key, before in snapshots[name].items():
            after = optimizer.state[original][key]
            if not mask_moments:
                assert torch.equal(after, before)
                continue
            assert torch.all(after[~(old_mask[name] & new_mask[name])] == 0), (name, key)
            kept = old_mask[name] & new_mask[name]  # also the weights dropped and regrown in place
            assert torch.equal(after[kept], before[kept]), (name, key)


def test_errors_explain_what_is_expected():
    with pytest.raises(ValueError, match="regrowth must be one of"):
        DynamicSparseConfig(regrowth="magnitude", update_every=10, end_step=100)
    with pytest.raises(ValueError, match="update_every must be >= 1"):
        DynamicSparseConfig(regrowth="random", update_every=0, end_step=100)
    model = nn.Linear(2, 2)
    config = DynamicSparseConfig(regrowth="random", update_every=10, end_step=100)
    with pytest.raises(ValueError, match="apply_mask"):
        DynamicSparseUpdater(model, torch.optim.SGD(model.parameters(), lr=0.1), config)


def test_update_fraction_follows_cosine_and_linear_decay():
    cosine = DynamicSparseConfig(regrowth="random", update_every=1, end_step=100, initial_fraction=0.4)
    linear = DynamicSparseConfig(regrowth="random", update_every=1, end_step=100, initial_fraction=0.4, decay="linear")
    assert cosine.update_fraction(0) == pytest.approx(0.4) and cosine.update_fraction(50) == pytest.approx(0.2)
    assert linear.update_fraction(25) == pytest.approx(0.3) and linear.update_fraction(100) == 0.0


def test_masking_optimizer_moments_is_the_default():
    assert DynamicSparseConfig(regrowth="random", update_every=1, end_step=10).mask_optimizer_moments is True


@pytest.mark.parametrize("optimizer_name", ["adam", "sgd"])
@pytest.mark.parametrize("default", [True, False])
def test_moments_are_exactly_zero_at_every_regrown_position_by_default(optimizer_name, default):
    model = _mlp_with_mask(0)
    if optimizer_name == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    options = {} if default else {"mask_optimizer_moments": False}
    config = DynamicSparseConfig(regrowth="gradient", update_every=2, end_step=40, initial_fraction=0.5, **options)
    updater = DynamicSparseUpdater(model, optimizer, config)
    keys = ("exp_avg", "exp_avg_sq") if optimizer_name == "adam" else ("momentum_buffer",)
    regrown_total = stale_total = 0
    for step in range(1, 21):
        x, y = _batch(step)
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        old_mask = Mask.from_model(model)
        stale = {
            name: sum((optimizer.state[original][key] != 0).int() for key in keys)
            for name, (original, _) in masked_parameters(model).items()
        }
        updated = updater.step(step)
        optimizer.zero_grad()
        if not updated:
            continue
        new_mask = Mask.from_model(model)
        for name, (original, _) in masked_parameters(model).items():
            regrown = new_mask[name] & ~old_mask[name]
            regrown_total += int(regrown.sum())
            stale_total += int((stale[name][regrown] > 0).sum())
            if default:
                for key in keys:
                    assert torch.all(optimizer.state[original][key][regrown] == 0), (step, name, key)
    assert regrown_total > 0
    # Turned off, weights dropped at one update and regrown at a later one bring back stale
    # moments; by default their moments were zeroed when they were dropped.
    assert (stale_total == 0) if default else (stale_total > 0)


def test_update_resets_only_newly_regrown_weights_and_keeps_unchanged_layers_bit_for_bit():
    model = nn.Sequential(nn.Linear(3, 2, bias=False), nn.Linear(2, 2, bias=False))
    second_weight = torch.tensor([[0.7, -0.2], [0.05, 1.5]])
    second_mask = torch.tensor([[True, True], [True, False]])
    with torch.no_grad():
        model[0].weight.copy_(HAND_WEIGHT)
        model[1].weight.copy_(second_weight)
    apply_mask(model, Mask({"0.weight": HAND_MASK.clone(), "1.weight": second_mask.clone()}))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    config = DynamicSparseConfig(regrowth="gradient", update_every=1, end_step=10_000, initial_fraction=0.5)
    updater = DynamicSparseUpdater(model, optimizer, config)
    # Layer 1: k = ceil(0.5 * 3) = 2 drops |0.05| and |-0.2|, whose gradients (7, 8) are the largest
    # of the inactive entries, so both are regrown in place and the mask does not change.
    second_gradient = torch.tensor([[0.0, 8.0], [7.0, 1.0]])
    ((model[0].weight * HAND_GRADIENT).sum() + (model[1].weight * second_gradient).sum()).backward()
    optimizer.step()
    second_before = masked_parameters(model)["1.weight"][0].detach().clone()
    assert updater.step(1)
    masks = Mask.from_model(model)
    assert torch.equal(masks["1.weight"], second_mask)
    assert torch.equal(masked_parameters(model)["1.weight"][0].detach(), second_before)
    assert torch.equal(second_before, second_weight * second_mask)
    # Layer 0: only (1, 2), inactive before and active after, is reset; (0, 1) regrown in place keeps -0.1.
    assert torch.equal(masks["0.weight"], torch.tensor([[True, True, False], [True, False, True]]))
    assert torch.equal(
        masked_parameters(model)["0.weight"][0].detach(), torch.tensor([[0.5, -0.1, 0.0], [2.0, 0.0, 0.0]])
    )


@pytest.mark.parametrize("regrowth", ["gradient", "random"])
def test_weights_active_before_and_after_an_update_keep_their_values(regrowth):
    model = _mlp_with_mask(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    config = DynamicSparseConfig(regrowth=regrowth, update_every=3, end_step=30, initial_fraction=0.5)
    updater = DynamicSparseUpdater(model, optimizer, config, torch.Generator().manual_seed(1))
    updates = 0
    for step in range(1, 31):
        x, y = _batch(step)
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        old_mask = Mask.from_model(model)
        before = {name: original.detach().clone() for name, (original, _) in masked_parameters(model).items()}
        if updater.step(step):
            updates += 1
            new_mask = Mask.from_model(model)
            for name, (original, _) in masked_parameters(model).items():
                survivors = old_mask[name] & new_mask[name]
                assert torch.equal(original.detach()[survivors], before[name][survivors]), (step, name)
                assert torch.all(original.detach()[~survivors] == 0), (step, name)
        optimizer.zero_grad()
    assert updates == 10


def _gradient_setup(seed: int = 0):
    model = _mlp_with_mask(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    config = DynamicSparseConfig(regrowth="gradient", update_every=2, end_step=100, initial_fraction=0.5)
    return model, optimizer, DynamicSparseUpdater(model, optimizer, config)


def test_training_a_deep_copy_of_the_model_does_not_feed_the_original_updater():
    reference_model, reference_optimizer, reference_updater = _gradient_setup()
    model, optimizer, updater = _gradient_setup()
    _train(reference_model, reference_optimizer, reference_updater, [1])
    _train(model, optimizer, updater, [1])  # step(1) arms the capture for update step 2
    clone = copy.deepcopy(model)
    clone_optimizer = torch.optim.Adam(clone.parameters(), lr=1e-2)
    for micro in range(3):
        x, y = _batch(100 + micro)
        nn.functional.mse_loss(clone(x), y).backward()
        clone_optimizer.step()
        clone_optimizer.zero_grad()
    assert updater._dense_gradients == {}
    _train(reference_model, reference_optimizer, reference_updater, range(2, 7))
    _train(model, optimizer, updater, range(2, 7))
    assert updater.updates_done == reference_updater.updates_done == 3
    assert Mask.from_model(model) == Mask.from_model(reference_model)
    for (name, tensor), (_, reference) in zip(model.state_dict().items(), reference_model.state_dict().items()):
        assert torch.equal(tensor, reference), name


def test_a_deep_copied_updater_drives_the_copied_model():
    model, optimizer, updater = _gradient_setup()
    _train(model, optimizer, updater, [1])
    clone, clone_optimizer, clone_updater = copy.deepcopy((model, optimizer, updater))
    assert clone_updater.model is clone and clone_updater.optimizer is clone_optimizer
    x, y = _batch(2)
    nn.functional.mse_loss(model(x), y).backward()
    nn.functional.mse_loss(clone(x), y).backward()
    assert (
        sorted(updater._dense_gradients) == sorted(clone_updater._dense_gradients) == sorted(masked_parameters(model))
    )
    for name, gradient in updater._dense_gradients.items():
        assert torch.equal(clone_updater._dense_gradients[name], gradient), name  # not summed into one updater
    optimizer.step()
    clone_optimizer.step()
    assert updater.step(2) and clone_updater.step(2)
    optimizer.zero_grad()
    clone_optimizer.zero_grad()
    _train(model, optimizer, updater, range(3, 9))
    _train(clone, clone_optimizer, clone_updater, range(3, 9))
    assert clone_updater.updates_done == updater.updates_done == 4
    for (name, tensor), (_, copied) in zip(model.state_dict().items(), clone.state_dict().items()):
        assert torch.equal(tensor, copied), name


def _reference_drop_and_regrow(magnitudes, scores, mask, fraction):
    """RigL's decision with full stable sorts (the definition the partial selection must match)."""
    new_mask, regrown = {}, {}
    for name, keep in mask.items():
        flat = keep.reshape(-1)
        active = flat.nonzero().squeeze(1)
        moved = replacement_count(fraction, active.numel())
        by_magnitude = torch.sort(magnitudes[name].reshape(-1)[active].double(), descending=True, stable=True).indices
        kept = torch.zeros_like(flat)
        kept[active[by_magnitude[: active.numel() - moved]]] = True
        candidates = (~kept).nonzero().squeeze(1)
        by_score = torch.sort(scores[name].reshape(-1)[candidates].double(), descending=True, stable=True).indices
        grown = torch.zeros_like(flat)
        grown[candidates[by_score[:moved]]] = True
        new_mask[name], regrown[name] = (kept | grown).reshape(keep.shape), grown.reshape(keep.shape)
    return Mask(new_mask), Mask(regrown)


def _concatenated(tensors):
    return {"all": torch.cat([tensor.reshape(-1) for tensor in tensors.values()])}


def test_drop_and_regrow_matches_full_stable_sorts_on_tied_values():
    generator = torch.Generator().manual_seed(0)
    for trial in range(60):
        shapes = {"a": (4, 7), "b": (9,)}
        mask = Mask({n: torch.rand(s, generator=generator) < 0.5 for n, s in shapes.items()})
        levels = 2 + trial % 4  # few distinct values: ties straddle the cut
        magnitudes = {n: torch.randint(0, levels, s, generator=generator).float() for n, s in shapes.items()}
        scores = {n: torch.randint(0, levels, s, generator=generator).float() for n, s in shapes.items()}
        fraction = float(torch.rand(1, generator=generator))
        assert drop_and_regrow(magnitudes, scores, mask, fraction) == _reference_drop_and_regrow(
            magnitudes, scores, mask, fraction
        )
        flat = Mask(_concatenated(mask))
        expected_new, expected_grown = _reference_drop_and_regrow(
            _concatenated(magnitudes), _concatenated(scores), flat, fraction
        )
        new_mask, grown = drop_and_regrow(magnitudes, scores, mask, fraction, budget="global")
        assert torch.equal(torch.cat([new_mask[n].reshape(-1) for n in shapes]), expected_new["all"])
        assert torch.equal(torch.cat([grown[n].reshape(-1) for n in shapes]), expected_grown["all"])


def test_drop_and_regrow_rejects_nan_and_handles_minus_infinite_scores():
    mask = Mask({"w": torch.tensor([True, True, False, False])})
    with pytest.raises(ValueError, match="magnitudes of 'w' contain NaN"):
        drop_and_regrow({"w": torch.tensor([float("nan"), 1.0, 0.0, 0.0])}, {"w": torch.zeros(4)}, mask, 0.5)
    with pytest.raises(ValueError, match="grow scores of 'w' contain NaN"):
        drop_and_regrow({"w": torch.ones(4)}, {"w": torch.tensor([0.0, 0.0, float("nan"), 0.0])}, mask, 0.5)
    scores = {"w": torch.full((4,), -float("inf"))}  # every candidate scores -inf: the lowest index grows
    new_mask, grown = drop_and_regrow({"w": torch.tensor([2.0, 1.0, 0.0, 0.0])}, scores, mask, 0.5)
    assert new_mask["w"].tolist() == [True, True, False, False] and grown["w"].tolist() == [False, True, False, False]


@pytest.mark.parametrize("mask_moments", [True, False])
def test_stale_inactive_weights_are_zeroed_and_regrown_weights_start_at_zero(mask_moments):
    model = _mlp_with_mask(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    config = DynamicSparseConfig(
        regrowth="gradient", update_every=2, end_step=100, initial_fraction=0.5, mask_optimizer_moments=mask_moments
    )
    updater = DynamicSparseUpdater(model, optimizer, config)
    _train(model, optimizer, updater, [1])
    original, live = masked_parameters(model)["2.weight"]
    stale = (~live).nonzero()[0].tolist()
    with torch.no_grad():
        original[stale[0], stale[1]] = 5.0  # a value left under the mask, e.g. by an outside edit
    _train(model, optimizer, updater, [2])  # the first update of this updater clears every inactive weight
    assert torch.all(original.detach()[~live] == 0)
    # Later on, a weight made stale under the mask starts at zero when it is regrown.
    _train(model, optimizer, updater, [3])
    target = (~live).nonzero()[0].tolist()
    with torch.no_grad():
        original[target[0], target[1]] = 7.0
    optimizer.state[original]["exp_avg"][target[0], target[1]] = 1.0
    x, y = _batch(4)
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
    updater._dense_gradients["2.weight"][target[0], target[1]] = 1e6  # the largest |dL/dW|: regrown
    assert updater.step(4)
    assert live[target[0], target[1]] and original[target[0], target[1]] == 0
    assert (optimizer.state[original]["exp_avg"][target[0], target[1]] == 0) == mask_moments
    if not mask_moments:  # moments keep moving masked weights: every update clears them
        assert torch.all(original.detach()[~live] == 0)
