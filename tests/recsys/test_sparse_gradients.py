"""Row-sparse embedding gradients (--sparse-gradients): the masked lookup, SparseAdam, DSL regrowth."""

import pytest
import torch

from recsys.config import CTRConfig, CTRFileConfig
from recsys.dsl import DSLConfig, make_updater, sparsify
from recsys.models.lightgcn import LightGCN, normalized_adjacency
from recsys.models.mf import MF, bpr_loss
from recsys.topk import table_parameters
from recsys.trainer import OptimizerChain, make_optimizer
from sparse_core.infra.errors import ConfigError
from sparse_core.masks import Mask, apply_mask, embedding_lookup, masked_parameters


def masked_pair(joint=True, users=10, items=12, dim=8, density=0.4, seed=0):
    """The same masked MF twice: dense gradients and row-sparse gradients."""
    models = []
    for sparse in (False, True):
        generator = torch.Generator().manual_seed(seed)
        model = MF(users, items, dim=dim, joint=joint, generator=generator, sparse_gradients=sparse)
        sparsify(model, density, generator)
        models.append(model)
    return models


def batch(generator, users=10, items=12, size=16):
    return (
        torch.randint(0, users, (size,), generator=generator),
        torch.randint(0, items, (size,), generator=generator),
        torch.randint(0, items, (size,), generator=generator),
    )


def loss_of(model, triple, l2=1e-2):
    positive, negative, penalty = model(*triple)
    return bpr_loss(positive, negative) + l2 * penalty


@pytest.mark.parametrize("joint", [True, False])
def test_gradient_is_sparse_and_equals_the_dense_gradient_on_touched_rows(joint):
    dense, sparse = masked_pair(joint)
    triple = batch(torch.Generator().manual_seed(1))
    loss_of(dense, triple).backward()
    loss_of(sparse, triple).backward()
    touched = 0
    for (name, (d_original, mask)), (_, (s_original, _)) in zip(
        sorted(masked_parameters(dense).items()), sorted(masked_parameters(sparse).items())
    ):
        assert not d_original.grad.is_sparse and s_original.grad.is_sparse, name
        coalesced = s_original.grad.coalesce()
        rows = coalesced.indices()[0]
        torch.testing.assert_close(coalesced.to_dense(), d_original.grad, rtol=1e-6, atol=1e-8)
        untouched = torch.ones(mask.shape[0], dtype=torch.bool)
        untouched[rows] = False
        assert torch.all(d_original.grad[untouched] == 0)
        assert torch.all(coalesced.values()[~mask[rows]] == 0)  # values already masked
        touched += rows.numel()
    assert 0 < touched < 22  # only the batch's users and items


def test_lookup_of_an_unmasked_table_and_errors():
    table = torch.nn.Embedding(5, 3)
    ids = torch.tensor([[0, 4], [4, 4]])
    rows = embedding_lookup(table, ids)
    assert rows.shape == (2, 2, 3)
    rows.sum().backward()
    assert table.weight.grad.is_sparse
    assert torch.equal(table.weight.grad.to_dense()[4], torch.full((3,), 3.0))
    torch.nn.utils.parametrize.register_parametrization(table, "weight", torch.nn.Identity())
    with pytest.raises(ValueError, match="tables masked by apply_mask only"):
        embedding_lookup(table, ids)


def lazy_adam_reference(param, grads, lr, steps, betas=(0.9, 0.999), eps=1e-8):
    """Adam's rule on the touched rows only (what SparseAdam computes), written out on dense tensors."""
    m, v = torch.zeros_like(param), torch.zeros_like(param)
    for step, grad in enumerate(grads[:steps], start=1):
        rows = grad.abs().sum(1) > 0
        m[rows] = betas[0] * m[rows] + (1 - betas[0]) * grad[rows]
        v[rows] = betas[1] * v[rows] + (1 - betas[1]) * grad[rows] ** 2
        step_size = lr * (1 - betas[1] ** step) ** 0.5 / (1 - betas[0] ** step)
        param[rows] -= step_size * m[rows] / (v[rows].sqrt() + eps)
    return param


def test_sparse_adam_steps_match_lazy_adam_on_the_dense_path():
    generator = torch.Generator().manual_seed(3)
    dense, sparse = (MF(10, 12, dim=8, generator=torch.Generator().manual_seed(0), sparse_gradients=s) for s in (0, 1))
    reference = dense.embedding.table.weight.detach().clone()
    optimizer = make_optimizer(sparse.parameters(), 0.05, sparse=table_parameters(sparse))
    assert isinstance(optimizer, torch.optim.SparseAdam)
    gradients = []
    for _ in range(4):
        triple = batch(generator)
        dense.zero_grad()
        with torch.no_grad():
            dense.embedding.table.weight.copy_(sparse.embedding.table.weight)
        loss_of(dense, triple).backward()
        gradients.append(dense.embedding.table.weight.grad.clone())
        optimizer.zero_grad()
        loss_of(sparse, triple).backward()
        optimizer.step()
    lazy_adam_reference(reference, gradients, 0.05, 4)
    torch.testing.assert_close(sparse.embedding.table.weight.detach(), reference, rtol=1e-5, atol=1e-6)


def test_dsl_update_moves_the_same_weights_with_sparse_and_dense_gradients():
    dense, sparse = masked_pair(joint=True, density=0.3)
    config = DSLConfig(density=0.3, update_every=1, initial_fraction=0.5)
    updaters = []
    for model in (dense, sparse):
        optimizer = make_optimizer(model.parameters(), 0.01, sparse=table_parameters(model) if model is sparse else ())
        updaters.append(make_updater(model, optimizer, config, planned_steps=10))
    triple = batch(torch.Generator().manual_seed(5))
    for model in (dense, sparse):
        loss_of(model, triple).backward()  # no optimizer step: equal weights, equal gradient scores
    before = Mask.from_model(dense)
    assert all(updater.step(1) for updater in updaters)
    assert Mask.from_model(dense) == Mask.from_model(sparse) != before
    for (d_original, _), (s_original, _) in zip(masked_parameters(dense).values(), masked_parameters(sparse).values()):
        assert torch.equal(d_original.detach(), s_original.detach())


def test_regrown_weights_restart_at_zero_with_zero_sparse_adam_moments():
    _, model = masked_pair(joint=True, density=0.3)
    optimizer = make_optimizer(model.parameters(), 0.05, sparse=table_parameters(model))
    updater = make_updater(model, optimizer, DSLConfig(density=0.3, update_every=3), planned_steps=30)
    generator = torch.Generator().manual_seed(7)
    original, mask = masked_parameters(model)["embedding.table.weight"]
    for step in range(1, 7):
        before = mask.clone()
        optimizer.zero_grad()
        loss_of(model, batch(generator)).backward()
        optimizer.step()
        if updater.step(step):
            grown = mask & ~before
            assert grown.any()
            state = optimizer.state[original]
            assert torch.all(original.detach()[grown] == 0)
            assert torch.all(state["exp_avg"][grown] == 0) and torch.all(state["exp_avg_sq"][grown] == 0)
            assert torch.all(original.detach()[~mask] == 0) and torch.all(state["exp_avg_sq"][~mask] == 0)
            assert int(mask.sum()) == int(before.sum())
    assert updater.updates_done == 2


def test_a_million_row_table_gets_no_dense_gradient():
    generator = torch.Generator().manual_seed(0)
    model = MF(500_000, 500_000, dim=16, generator=generator, sparse_gradients=True)  # 10^6 x 16
    keep = torch.zeros(10**6, 16, dtype=torch.bool)
    keep[:, :4] = True  # DSL's column start at density 0.25, without drawing 16M random numbers
    apply_mask(model, Mask({"embedding.table.weight": keep}))
    optimizer = make_optimizer(model.parameters(), 0.01, sparse=table_parameters(model))
    updater = make_updater(model, optimizer, DSLConfig(density=0.25, update_every=2), planned_steps=10)
    original, mask = masked_parameters(model)["embedding.table.weight"]
    for step in (1, 2):
        triple = batch(generator, 500_000, 500_000, size=256)
        optimizer.zero_grad()
        loss_of(model, triple).backward()
        assert original.grad.is_sparse and original.grad._nnz() == 3 * 256  # one row per lookup, not 10^6
        if step == 2:
            assert all(grad.numel() == 256 * 16 for _, grad in updater._row_gradients["embedding.table.weight"])
        optimizer.step()
        updater.step(step)
    assert updater.updates_done == 1 and int(mask.sum()) == 4 * 10**6
    assert optimizer.state[original]["exp_avg"].shape == (10**6, 16)  # SparseAdam's moments stay dense


def test_lightgcn_sparse_gradients_match_the_dense_path():
    users, items = torch.arange(10).repeat(3), torch.randint(0, 12, (30,), generator=torch.Generator().manual_seed(2))
    adjacency = normalized_adjacency(users.numpy(), items.numpy(), 10, 12)
    models = []
    for sparse in (False, True):
        generator = torch.Generator().manual_seed(0)
        model = LightGCN(10, 12, adjacency, dim=8, layers=2, generator=generator, sparse_gradients=sparse)
        sparsify(model, 0.5, generator)
        models.append(model)
    triple = batch(torch.Generator().manual_seed(4))
    for model in models:
        loss_of(model, triple).backward()
    dense_grad = models[0].embedding.table.parametrizations.weight.original.grad
    sparse_grad = models[1].embedding.table.parametrizations.weight.original.grad
    assert sparse_grad.is_sparse
    torch.testing.assert_close(sparse_grad.to_dense(), dense_grad, rtol=1e-5, atol=1e-7)


def test_optimizer_chain_steps_both_and_merges_state():
    linear, table = torch.nn.Linear(2, 1), torch.nn.Embedding(4, 2, sparse=True)
    optimizer = make_optimizer([*linear.parameters(), table.weight], 0.1, sparse=[table.weight])
    assert isinstance(optimizer, OptimizerChain) and len(optimizer.param_groups) == 2
    (linear(table(torch.tensor([1, 2]))).sum()).backward()
    optimizer.step()
    assert set(optimizer.state) == {linear.weight, linear.bias, table.weight}
    optimizer.load_state_dict(optimizer.state_dict())
    optimizer.zero_grad()
    assert table.weight.grad is None
    with pytest.raises(ValueError, match="SparseAdam has no weight decay"):
        make_optimizer([table.weight], 0.1, sparse=[table.weight], weight_decay=0.1)


def test_ctr_config_rejects_weight_decay_with_sparse_gradients(tmp_path):
    with pytest.raises(ConfigError, match="SparseAdam, which has no") as caught:
        CTRConfig(sparse_gradients=True, weight_decay=1e-5)
    assert caught.value.field == "weight_decay"
    assert CTRConfig(sparse_gradients=True, data=CTRFileConfig()).sparse_gradients


def test_row_sparse_autoint_has_the_dense_models_gradient_on_touched_rows():
    from recsys.models.autoint import AutoInt

    cardinalities = [5, 7, 3]
    models = [AutoInt(cardinalities, generator=torch.Generator().manual_seed(0)) for _ in range(2)]
    models[1].embedding.sparse = True
    assert torch.equal(models[0].embedding.weight, models[1].embedding.weight)
    ids = torch.tensor([[1, 2, 0], [4, 6, 2], [1, 0, 0]])
    for model in models:
        logits, _ = model(ids)
        logits.sum().backward()
    dense, sparse = models[0].embedding.weight.grad, models[1].embedding.weight.grad
    assert sparse.is_sparse and sparse._nnz() == ids.numel()
    torch.testing.assert_close(sparse.to_dense(), dense, rtol=1e-5, atol=1e-7)
    for a, b in zip(models[0].interacting.parameters(), models[1].interacting.parameters()):
        torch.testing.assert_close(a.grad, b.grad)


def test_ctr_trains_with_sparse_gradients(ctr_table):
    from recsys.config import TrainerConfig
    from recsys.ctr import prepare_ctr, train_ctr

    config = CTRConfig(
        sparse_gradients=True, batch_size=256, trainer=TrainerConfig(epochs=2, patience=2, monitor="auc", mode="max")
    )
    metrics = train_ctr(config, prepare_ctr(ctr_table, config), seed=0)
    assert metrics["test_auc"] > 0.7 and metrics["train_cpu_seconds"] > 0
