"""Gradient regrowth from row-sparse lookups (sparse_core.masks.embedding_lookup) equals the dense capture."""

import copy

import torch
from torch import nn

from sparse_core.dynamic import DynamicSparseConfig, DynamicSparseUpdater
from sparse_core.masks import Mask, apply_mask, embedding_lookup, masked_parameters
from sparse_core.pruning import random_mask


def masked_table(seed=0, rows=20, dim=6, density=0.3):
    generator = torch.Generator().manual_seed(seed)
    table = nn.Embedding(rows, dim)
    with torch.no_grad():
        table.weight.normal_(generator=generator)
    model = nn.ModuleDict({"table": table})
    apply_mask(model, random_mask(model, density, generator))
    return model


def loss_dense(model, ids):
    return (model["table"].weight[ids] ** 2).sum() + model["table"].weight[ids].sum()


def loss_sparse(model, ids):
    rows = embedding_lookup(model["table"], ids)
    return (rows**2).sum() + rows.sum()


def test_lookup_gradient_is_sparse_masked_and_equal_to_the_dense_one():
    dense, sparse = masked_table(), masked_table()
    ids = torch.tensor([[3, 3, 7], [0, 19, 7]])
    loss_dense(dense, ids).backward()
    loss_sparse(sparse, ids).backward()
    (d_original, mask), (s_original, _) = (next(iter(masked_parameters(m).values())) for m in (dense, sparse))
    assert s_original.grad.is_sparse and s_original.grad._nnz() == ids.numel()
    torch.testing.assert_close(s_original.grad.to_dense(), d_original.grad)
    assert torch.all(s_original.grad.to_dense()[~mask] == 0)


def test_updater_captures_lookups_and_regrows_as_with_dense_capture():
    config = DynamicSparseConfig(regrowth="gradient", update_every=2, end_step=10, initial_fraction=0.5)
    models = [masked_table(), masked_table()]
    updaters = [DynamicSparseUpdater(m, torch.optim.SGD(m.parameters(), lr=0.0), config) for m in models]
    generator = torch.Generator().manual_seed(1)
    for step in (1, 2):
        ids = torch.randint(0, 20, (8,), generator=generator)
        for model, loss in zip(models, (loss_dense, loss_sparse)):
            model.zero_grad()
            loss(model, ids).backward()
            loss(model, ids).backward()  # two backward passes before one step: summed
        if step == 2:
            assert sorted(updaters[1]._row_gradients) == ["table.weight"] and not updaters[1]._dense_gradients
        for updater in updaters:
            updater.step(step)
    assert updaters[0].updates_done == updaters[1].updates_done == 1
    assert Mask.from_model(models[0]) == Mask.from_model(models[1])
    assert updaters[1]._row_gradients == {}


def test_lookup_hooks_of_a_deep_copy_do_not_feed_the_original_updater():
    model = masked_table()
    config = DynamicSparseConfig(regrowth="gradient", update_every=1, end_step=10)
    updater = DynamicSparseUpdater(model, torch.optim.SGD(model.parameters(), lr=0.0), config)
    clone = copy.deepcopy(model)
    loss_sparse(clone, torch.tensor([1, 2])).backward()
    assert updater._row_gradients == {}
    updater.close()
    loss_sparse(model, torch.tensor([1, 2])).backward()
    assert updater._row_gradients == {}
