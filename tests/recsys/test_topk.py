import numpy as np
import pytest

from recsys.dsl import DSLConfig
from recsys.topk import TopKConfig, sample_negatives, train_topk
from recsys.trainer import TrainerConfig


def test_negatives_are_never_known_items():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(3), 4)
    items = np.array([0, 1, 2, 3, 0, 2, 4, 5, 1, 3, 5, 6])
    known = np.sort(users * 8 + items)
    for _ in range(20):
        negatives = sample_negatives(users, known, 8, rng)
        assert not np.isin(users * 8 + negatives, known).any()


def tiny(model, density, **kw):
    return TopKConfig(
        model=model,
        embedding_dim=8,
        layers=2,
        batch_size=64,
        learning_rate=0.05,
        trainer=TrainerConfig(epochs=12, patience=10, eval_every=3),
        dsl=DSLConfig(density=density, update_every=5),
        **kw,
    )


@pytest.mark.parametrize("model", ["mf", "lightgcn"])
def test_training_learns_the_taste_groups(topk_split, model):
    metrics = train_topk(tiny(model, 1.0), topk_split, seed=0)
    # random ranking would give Recall@10 ~ 10 / 50 remaining items; the groups halve the candidates
    assert metrics["recall@10"] > 0.3
    assert metrics["nonzeros"] == metrics["dense_parameters"] == (40 + 60) * 8
    assert len(metrics["epochs"]) == 12 and "valid_recall@20" in metrics["epochs"][2]


@pytest.mark.parametrize("separate", [False, True])
def test_dsl_keeps_the_budget(topk_split, separate):
    metrics = train_topk(tiny("lightgcn", 0.2, separate_tables=separate), topk_split, seed=0)
    assert metrics["nonzeros"] == round(0.2 * metrics["dense_parameters"])
    assert metrics["mask_updates"] > 0
    assert metrics["inference_macs"] < metrics["dense_inference_macs"]
    assert metrics["train_macs_per_step"] < metrics["dense_train_macs_per_step"]


def test_same_seed_same_result(topk_split):
    a = train_topk(tiny("mf", 0.5), topk_split, seed=3)
    b = train_topk(tiny("mf", 0.5), topk_split, seed=3)
    assert a["recall@20"] == b["recall@20"] and a["ndcg@20"] == b["ndcg@20"]


def test_negatives_of_a_user_who_knows_almost_every_item():
    from sparse_core.infra.errors import InputError

    rng = np.random.default_rng(0)
    known = np.sort(np.array([0 * 50 + i for i in range(50) if i != 17]))  # user 0 knows all but item 17
    negatives = sample_negatives(np.zeros(200, dtype=np.int64), known, 50, rng)
    assert (negatives == 17).all()
    with pytest.raises(InputError, match="every one of the 49 items"):
        sample_negatives(np.zeros(3, dtype=np.int64), np.arange(49), 49, rng)
