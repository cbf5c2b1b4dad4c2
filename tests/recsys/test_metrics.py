import math

import numpy as np
import pytest
import torch

from recsys.metrics import auc, logloss, rank_metrics, topk_metrics, user_item_matrix


def test_rank_metrics_by_hand():
    # user 0: hits at ranks 0 and 2 of top-3, 2 test items; user 1: one hit at rank 1, 4 test items
    hits = torch.tensor([[True, False, True], [False, True, False]])
    positives = torch.tensor([2, 4])
    out = rank_metrics(hits, positives, ks=(1, 3))
    assert out["recall@1"].tolist() == pytest.approx([0.5, 0.0])
    assert out["recall@3"].tolist() == pytest.approx([1.0, 0.25])
    idcg_u0 = 1 + 1 / math.log2(3)
    assert out["ndcg@3"][0].item() == pytest.approx((1 + 1 / math.log2(4)) / idcg_u0)
    idcg_u1 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert out["ndcg@3"][1].item() == pytest.approx((1 / math.log2(3)) / idcg_u1)


def test_topk_metrics_excludes_training_items_and_batches_users():
    # 3 users, 5 items. Scores rank items 4 > 3 > 2 > 1 > 0 for everyone.
    scores = torch.arange(5.0).repeat(3, 1)
    train = user_item_matrix(np.array([0, 1]), np.array([4, 4]), 3, 5)
    test = user_item_matrix(np.array([0, 0, 1, 2]), np.array([3, 0, 2, 1]), 3, 5)
    for batch in (1, 2, 10):
        out = topk_metrics(lambda u: scores[u], test, train, ks=(1, 2), batch_users=batch)
        # user 0: item 4 excluded, top-2 = [3, 2]: 1 of 2 hits; user 1: top-2 = [3, 2]: hit at rank 1
        # user 2: nothing excluded, top-2 = [4, 3]: no hit
        assert out["users"] == 3
        assert out["recall@1"] == pytest.approx((0.5 + 0 + 0) / 3)
        assert out["recall@2"] == pytest.approx((0.5 + 1 + 0) / 3)
        ndcg_u0 = 1 / (1 + 1 / math.log2(3))
        ndcg_u1 = (1 / math.log2(3)) / 1
        assert out["ndcg@2"] == pytest.approx((ndcg_u0 + ndcg_u1) / 3)


def test_users_without_test_items_are_skipped():
    test = user_item_matrix(np.array([1]), np.array([0]), 3, 4)
    out = topk_metrics(lambda u: torch.zeros(len(u), 4).index_fill_(1, torch.tensor([0]), 1.0), test, None, ks=(1,))
    assert out["users"] == 1 and out["recall@1"] == 1.0


def test_auc_by_hand_with_ties():
    # positives 0.8, 0.4; negatives 0.4, 0.1 -> pairs: (0.8>0.4), (0.8>0.1), (0.4=0.4 -> 1/2), (0.4>0.1)
    assert auc([1, 1, 0, 0], [0.8, 0.4, 0.4, 0.1]) == pytest.approx(3.5 / 4)
    assert auc([0, 1], [0.2, 0.9]) == 1.0 and auc([1, 0], [0.2, 0.9]) == 0.0


def test_auc_matches_scikit_learn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = np.round(rng.random(500), 2)  # many ties
    assert auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))


def test_auc_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        auc([1, 1], [0.1, 0.2])


def test_logloss_by_hand():
    assert logloss([1, 0], [0.8, 0.25]) == pytest.approx(-(math.log(0.8) + math.log(0.75)) / 2)
    assert math.isfinite(logloss([1], [0.0]))  # clipped
