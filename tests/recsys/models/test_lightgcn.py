import numpy as np
import pytest
import torch

from recsys.models.lightgcn import LightGCN, normalized_adjacency
from recsys.models.mf import MF, bpr_loss

USERS = np.array([0, 0, 1, 2])
ITEMS = np.array([0, 1, 1, 2])


def dense_adjacency():
    a = np.zeros((6, 6))
    for u, i in zip(USERS, ITEMS):
        a[u, 3 + i] = a[3 + i, u] = 1
    d = a.sum(1)
    return a / np.sqrt(np.outer(d, d))


def test_normalized_adjacency_by_hand():
    adjacency = normalized_adjacency(USERS, ITEMS, 3, 3).to_dense().numpy()
    np.testing.assert_allclose(adjacency, dense_adjacency(), rtol=1e-6)
    assert adjacency[0, 3] == pytest.approx(1 / np.sqrt(2 * 1))  # user 0 (degree 2) - item 0 (degree 1)


def test_propagation_is_the_mean_of_powers():
    adjacency = normalized_adjacency(USERS, ITEMS, 3, 3)
    model = LightGCN(3, 3, adjacency, dim=4, layers=2, generator=torch.Generator().manual_seed(0))
    e0 = model.embedding.all().detach().double().numpy()
    a = dense_adjacency()
    expected = (e0 + a @ e0 + a @ a @ e0) / 3
    np.testing.assert_allclose(model.propagate().detach().numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("joint", [True, False])
def test_scores_agree_between_forward_and_full_ranking(joint):
    adjacency = normalized_adjacency(USERS, ITEMS, 3, 3)
    for model in (MF(3, 3, dim=4, joint=joint), LightGCN(3, 3, adjacency, dim=4, joint=joint)):
        users, pos, neg = torch.tensor([0, 2]), torch.tensor([1, 2]), torch.tensor([0, 1])
        s_pos, s_neg, l2 = model(users, pos, neg)
        full = model.score_users(users)
        torch.testing.assert_close(s_pos, full[torch.arange(2), pos])
        torch.testing.assert_close(s_neg, full[torch.arange(2), neg])
        assert l2.item() > 0
        names = [name for name, _ in model.named_parameters()]
        assert names == (["embedding.table.weight"] if joint else ["embedding.users.weight", "embedding.items.weight"])


def test_bpr_loss_by_hand():
    assert bpr_loss(torch.tensor([2.0]), torch.tensor([0.0])).item() == pytest.approx(np.log1p(np.exp(-2.0)))


def test_adjacency_shape_is_checked():
    with pytest.raises(ValueError, match="expected \\(6, 6\\)"):
        LightGCN(3, 3, normalized_adjacency(USERS, ITEMS, 3, 4))
