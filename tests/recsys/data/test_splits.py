import numpy as np
import pytest

from recsys.data.movielens import Interactions
from recsys.data.splits import random_split, split_per_user


def toy(users=20, per_user=10, items=50, seed=0):
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(users), per_user)
    i = np.concatenate([rng.choice(items, per_user, replace=False) for _ in range(users)])
    return Interactions(u, i, users, items, tuple(map(str, range(users))), tuple(map(str, range(items))))


def pairs(x):
    return set(zip(x.users.tolist(), x.items.tolist()))


def test_per_user_split_partitions_each_users_interactions():
    data = toy()
    split = split_per_user(data, test_fraction=0.2, valid_fraction=0.25, seed=1)
    train, valid, test = pairs(split.train), pairs(split.valid), pairs(split.test)
    assert train | valid | test == pairs(data)
    assert not (train & valid or train & test or valid & test)
    assert np.all(np.bincount(split.test.users, minlength=20) == 2)  # 20% of 10
    assert np.all(np.bincount(split.valid.users, minlength=20) == 2)  # 25% of 8
    assert len(split.train) == 20 * 6


def test_per_user_split_is_seeded():
    data = toy()
    assert pairs(split_per_user(data, seed=3).test) == pairs(split_per_user(data, seed=3).test)
    assert pairs(split_per_user(data, seed=3).test) != pairs(split_per_user(data, seed=4).test)


def test_random_split_is_a_seeded_partition():
    parts = random_split(1000, (0.8, 0.1, 0.1), seed=2020)
    assert [len(p) for p in parts] == [800, 100, 100]
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(1000))
    again = random_split(1000, (0.8, 0.1, 0.1), seed=2020)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


def test_random_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(10, (0.5, 0.2))
