import pytest
import torch
from torch import nn

from sparse_core.masks import Mask, apply_mask
from sparse_core.pruning import (
    keep_largest,
    largest_indices,
    magnitude_global,
    magnitude_per_layer,
    n_m,
    random_mask,
    smallest_indices,
    structured,
)

WEIGHTS = {
    "a.weight": torch.tensor([[0.1, -0.9, 0.3], [0.5, -0.2, 0.0]]),
    "b.weight": torch.tensor([[2.0, 0.05], [-0.4, 0.6]]),
    "a.bias": torch.tensor([9.0, 9.0]),
}


def make_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 4))


def test_magnitude_per_layer_keeps_the_largest_entries_of_each_matrix():
    mask = magnitude_per_layer(WEIGHTS, 0.5)
    assert set(mask) == {"a.weight", "b.weight"}  # biases are not prunable by default
    assert mask["a.weight"].tolist() == [[False, True, True], [True, False, False]]
    assert mask["b.weight"].tolist() == [[True, False], [False, True]]


def test_magnitude_per_layer_with_a_density_per_layer():
    mask = magnitude_per_layer(WEIGHTS, {"a.weight": 1 / 6, "b.weight": 1.0})
    assert mask["a.weight"].sum() == 1 and mask["a.weight"][0, 1]
    assert mask["b.weight"].all()
    with pytest.raises(KeyError, match="c.weight"):
        magnitude_per_layer(WEIGHTS, {"c.weight": 0.5})


def test_ties_are_broken_by_position_and_counts_are_exact():
    ties = {"w": torch.ones(3, 4)}
    mask = magnitude_per_layer(ties, 0.25)
    assert mask["w"].reshape(-1).tolist() == [True] * 3 + [False] * 9
    assert magnitude_global(ties, 0.5).nonzeros() == 6


def test_current_mask_keeps_pruned_weights_pruned():
    ties = {"w": torch.ones(2, 4)}
    current = Mask({"w": torch.tensor([[False, True, False, True], [True, True, False, True]])})
    mask = magnitude_per_layer(ties, 0.25, current=current)
    assert mask["w"].reshape(-1).tolist() == [False, True, False, True, False, False, False, False]
    with pytest.raises(ValueError, match="cannot keep 6 entries of 'w': 5 are eligible"):
        magnitude_per_layer(ties, 0.75, current=current)


def test_masked_models_are_read_through_effective_weights():
    model = make_model()
    first = magnitude_per_layer(model, 0.5)
    apply_mask(model, first)
    second = magnitude_per_layer(model, 0.25)
    assert (second & ~first).nonzeros() == 0  # only weights still alive can be kept
    assert second.layer_densities() == pytest.approx({"0.weight": 0.25, "2.weight": 0.25})


def test_magnitude_global_uses_one_threshold():
    mask = magnitude_global(WEIGHTS, 0.5)  # 5 of 10 weights: 2.0, 0.9, 0.6, 0.5, 0.4
    assert mask["a.weight"].tolist() == [[False, True, False], [True, False, False]]
    assert mask["b.weight"].tolist() == [[True, False], [True, True]]


def test_random_mask_has_exact_counts_and_is_reproducible():
    model = make_model()
    mask = random_mask(model, 0.3, torch.Generator().manual_seed(3))
    assert {k: int(v.sum()) for k, v in mask.items()} == {"0.weight": round(0.3 * 48), "2.weight": round(0.3 * 24)}
    assert mask == random_mask(model, 0.3, torch.Generator().manual_seed(3))
    assert mask != random_mask(model, 0.3, torch.Generator().manual_seed(4))


def test_two_four_sparsity_keeps_two_of_every_four():
    weight = torch.tensor([[1.0, -4.0, 3.0, 2.0, 0.0, 0.0, 5.0, 0.1]])
    mask = n_m({"w": weight}, 2, 4)
    assert mask["w"].tolist() == [[False, True, True, False, False, False, True, True]]
    model_mask = n_m(make_model(), 2, 4, include=lambda name, param: name == "0.weight")
    assert list(model_mask) == ["0.weight"]
    groups = model_mask["0.weight"].reshape(6, 2, 4)
    assert torch.all(groups.sum(-1) == 2)


def test_n_m_along_another_dim_and_its_errors():
    weight = torch.arange(12.0).reshape(4, 3)
    mask = n_m({"w": weight}, 1, 2, dim=0)
    assert mask["w"].tolist() == [[False] * 3, [True] * 3, [False] * 3, [True] * 3]
    with pytest.raises(ValueError, match="'w' has size 3 along dim -1.*not divisible by m=2"):
        n_m({"w": weight}, 1, 2)
    with pytest.raises(ValueError, match="n=3, m=2"):
        n_m({"w": weight}, 3, 2, dim=0)


def test_structured_removes_the_rows_with_lowest_norm():
    weight = torch.tensor([[1.0, 1.0], [3.0, 0.0], [0.1, 0.1], [-2.0, 2.0]])
    by_l1 = structured({"w": weight}, "w", 0.5, score="l1")  # l1: 2, 3, 0.2, 4
    assert by_l1["w"][:, 0].tolist() == [False, True, False, True]
    assert by_l1["w"].all(dim=1).eq(by_l1["w"].any(dim=1)).all()  # whole rows
    by_l2 = structured({"w": weight}, "w", 1, score="l2")  # l2: 1.41, 3, 0.14, 2.83
    assert by_l2["w"][:, 0].tolist() == [True, True, False, True]
    by_score = structured({"w": weight}, "w", 3, score=torch.tensor([0.0, 1.0, 2.0, 3.0]))
    assert by_score["w"][:, 0].tolist() == [False, False, False, True]


def test_structured_columns_and_errors():
    weight = torch.tensor([[1.0, 0.0, 5.0], [1.0, 0.0, 5.0]])
    mask = structured({"w": weight}, "w", 2, dim=1)
    assert mask["w"].tolist() == [[False, False, True], [False, False, True]]
    with pytest.raises(KeyError, match="valid names"):
        structured({"w": weight}, "v", 1)
    with pytest.raises(ValueError, match="cannot remove 4 slices"):
        structured({"w": weight}, "w", 4, dim=1)
    with pytest.raises(ValueError, match="shape \\(2,\\)"):
        structured({"w": weight}, "w", 1, score=torch.ones(3))


def test_keep_largest_respects_eligibility_and_rejects_nan():
    scores = {"w": torch.tensor([5.0, 4.0, 3.0, 2.0])}
    eligible = Mask({"w": torch.tensor([False, True, False, True])})
    assert keep_largest(scores, {"w": 1}, eligible)["w"].tolist() == [False, True, False, False]
    with pytest.raises(ValueError, match="NaN"):
        keep_largest({"w": torch.tensor([float("nan")])}, {"w": 1})


def test_densities_outside_zero_one_are_rejected():
    with pytest.raises(ValueError, match="\\[0, 1\\].*1.5"):
        magnitude_per_layer(WEIGHTS, 1.5)


def _stable_order(values):
    return torch.sort(values.reshape(-1).double(), descending=True, stable=True).indices


@pytest.mark.parametrize("levels", [2, 5, 1000])
def test_largest_and_smallest_indices_match_a_stable_sort_with_ties(levels):
    generator = torch.Generator().manual_seed(levels)
    for trial in range(16):
        values = torch.randint(0, levels, (int(torch.randint(1, 40, (1,), generator=generator)),), generator=generator)
        values = values.float() if trial % 2 else values.reshape(1, -1).double()  # int-valued floats: many ties
        order = _stable_order(values)
        for count in range(values.numel() + 1):
            largest = sorted(largest_indices(values, count).tolist())
            assert largest == sorted(order[:count].tolist()), (values, count)
            # the smallest `count` are what keeping the `n - count` largest leaves out
            smallest = sorted(smallest_indices(values, count).tolist())
            assert smallest == sorted(order[values.numel() - count :].tolist()), (values, count)


def test_index_selection_checks_the_count_and_accepts_bool_and_half_scores():
    with pytest.raises(ValueError, match="cannot select 4 of 3 entries"):
        largest_indices(torch.zeros(3), 4)
    assert sorted(largest_indices(torch.tensor([False, True, True, False]), 1).tolist()) == [1]
    assert sorted(smallest_indices(torch.tensor([1.0, 0.5, 0.5], dtype=torch.float16), 1).tolist()) == [2]
    assert largest_indices(torch.zeros(0), 0).numel() == 0
