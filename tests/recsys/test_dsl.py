import pytest
import torch

from recsys.dsl import DSLConfig, make_updater, parameter_counts, sparsify
from recsys.models.mf import MF, bpr_loss
from sparse_core.masks import Mask


def train_steps(model, updater, optimizer, steps, generator):
    for step in range(1, steps + 1):
        users = torch.randint(0, 10, (16,), generator=generator)
        pos, neg = torch.randint(0, 12, (16,), generator=generator), torch.randint(0, 12, (16,), generator=generator)
        s_pos, s_neg, _ = model(users, pos, neg)
        optimizer.zero_grad()
        bpr_loss(s_pos, s_neg).backward()
        optimizer.step()
        updater.step(step)


@pytest.mark.parametrize("joint", [True, False])
def test_budget_is_exact_and_constant(joint):
    generator = torch.Generator().manual_seed(0)
    model = MF(10, 12, dim=8, joint=joint, generator=generator)
    dense = sum(p.numel() for p in model.parameters())
    sparsify(model, 0.2, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    updater = make_updater(model, optimizer, DSLConfig(density=0.2, update_every=5), planned_steps=40)
    before = Mask.from_model(model)
    train_steps(model, updater, optimizer, 30, generator)
    after = Mask.from_model(model)
    counts = parameter_counts(model)
    assert counts["dense_parameters"] == dense == 176
    assert counts["nonzeros"] == ((round(0.2 * 80) + round(0.2 * 96)) if not joint else round(0.2 * 176))
    for name in before:  # per-tensor budget: every table keeps its own count
        assert int(after[name].sum()) == int(before[name].sum())
    assert after != before  # the topology moved
    assert updater.updates_done == 6 and updater.exploration_rate() > 0.2


def test_masked_embeddings_are_zero_in_the_forward_pass():
    generator = torch.Generator().manual_seed(1)
    model = MF(5, 5, dim=4, generator=generator)
    mask = sparsify(model, 0.5, generator)
    weight = model.embedding.table.weight
    assert torch.all(weight[~mask["embedding.table.weight"]] == 0)
    assert parameter_counts(model)["density"] == pytest.approx(0.5)


def test_config_is_validated():
    with pytest.raises(ValueError, match="density must be > 0 and <= 1"):
        DSLConfig(density=0.0)
    assert not DSLConfig().sparse and DSLConfig(density=0.5).sparse


def test_column_initial_mask_fills_whole_columns_with_the_exact_budget():
    generator = torch.Generator().manual_seed(3)
    model = MF(10, 12, dim=8, joint=True, generator=generator)
    mask = sparsify(model, 0.3, generator, initial_mask="columns")
    table = mask["embedding.table.weight"]
    assert int(table.sum()) == round(0.3 * 22 * 8) == 53  # 2 whole columns of 22 rows + 9 rows of a third
    per_column = sorted(table.sum(0).tolist(), reverse=True)
    assert per_column == [22, 22, 9, 0, 0, 0, 0, 0]
    assert parameter_counts(model)["nonzeros"] == 53


def test_rescaled_initialisation_divides_by_root_density():
    plain, scaled = (MF(10, 12, dim=8, generator=torch.Generator().manual_seed(0)) for _ in range(2))
    sparsify(plain, 0.25, torch.Generator().manual_seed(1))
    sparsify(scaled, 0.25, torch.Generator().manual_seed(1), rescale=True)
    assert torch.allclose(scaled.embedding.table.weight, 2.0 * plain.embedding.table.weight)
    with pytest.raises(ValueError, match="initial_mask"):
        DSLConfig(density=0.5, initial_mask="rows")
