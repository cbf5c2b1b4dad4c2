import numpy as np
import pytest

from recsys.data.movielens import CTR_FIELDS, CTRTable, Interactions
from recsys.data.splits import split_per_user


def synthetic_interactions(users=40, items=60, per_user=12, seed=0) -> Interactions:
    """Two taste groups: even users like even items, odd users odd items (learnable)."""
    rng = np.random.default_rng(seed)
    u, i = [], []
    for user in range(users):
        pool = np.arange(user % 2, items, 2)
        chosen = rng.choice(pool, per_user, replace=False)
        u += [user] * per_user
        i += chosen.tolist()
    return Interactions(
        np.array(u), np.array(i), users, items, tuple(map(str, range(users))), tuple(map(str, range(items)))
    )


@pytest.fixture
def topk_split():
    return split_per_user(synthetic_interactions(), test_fraction=0.2, valid_fraction=0.1, seed=1)


@pytest.fixture
def ctr_table():
    rng = np.random.default_rng(0)
    rows = 3000
    values = {f: rng.integers(0, 6, rows).astype(str).astype(object) for f in CTR_FIELDS}
    logits = (values["genre"].astype(int) - 2.5) + (values["age"].astype(int) % 2)
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logits))).astype(np.float32)
    return CTRTable(CTR_FIELDS, values, labels)
