"""Train / validation / test splits for the two tasks.

- Top-K: per user, a seeded random ``1 - test_fraction`` / ``test_fraction`` split of the
  user's interactions (the LightGCN and DSL protocol), then a validation slice of each
  user's training part for early stopping; or, by time, each user's latest interactions
  for test and the next latest for validation.
- CTR: one random split of all rows by fractions (80/10/10 with seed 2020, as BARS /
  FuxiCTR split their MovieLens data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.data.movielens import Interactions

__all__ = ["TopKSplit", "random_split", "split_per_user"]


@dataclass(frozen=True)
class TopKSplit:
    """Disjoint interaction sets sharing one id space.

    Attributes:
        train: What the model is fitted on.
        valid: A slice of each user's training interactions, held out for early stopping.
        test: Each user's held-out ``test_fraction`` of interactions.
    """

    train: Interactions
    valid: Interactions
    test: Interactions


def _take(count: int, fraction: float) -> int:
    """How many of ``count`` items go to the held-out side: round, but at least 1 of 2+."""
    if count < 2 or fraction <= 0:
        return 0
    return min(count - 1, max(1, int(round(count * fraction))))


def split_per_user(
    interactions: Interactions,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
    seed: int = 2020,
    by_time: bool = False,
) -> TopKSplit:
    """Splits every user's interactions at random, seeded (or by time).

    Args:
        interactions: All interactions.
        test_fraction: Share of each user's interactions held out for test.
        valid_fraction: Share of each user's *training* interactions held out for validation.
        seed: Seed of the split (independent of the training seed).
        by_time: Hold out each user's latest interactions for test and the next latest for
            validation (ties kept in file order); needs ``interactions.timestamps``.

    Returns:
        The split. A user with a single interaction keeps it in train.
    """
    for name, value in (("test_fraction", test_fraction), ("valid_fraction", valid_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must lie in [0, 1), found {value}")
    if by_time and interactions.timestamps is None:
        raise ValueError(f"{interactions.source}: a split by time needs timestamps")
    rng = np.random.default_rng(seed)
    order = np.argsort(interactions.users, kind="stable")
    bounds = np.searchsorted(interactions.users[order], np.arange(interactions.num_users + 1))
    train, valid, test = [], [], []
    for user in range(interactions.num_users):
        rows = order[bounds[user] : bounds[user + 1]]
        if by_time:  # latest first, so that the held-out parts are the latest
            rows = rows[np.argsort(-interactions.timestamps[rows], kind="stable")]
        else:
            rows = rows[rng.permutation(rows.size)]
        n_test = _take(rows.size, test_fraction)
        test.append(rows[:n_test])
        rest = rows[n_test:]
        n_valid = _take(rest.size, valid_fraction)
        valid.append(rest[:n_valid])
        train.append(rest[n_valid:])
    as_set = lambda parts: interactions.subset(np.sort(np.concatenate(parts)))  # noqa: E731
    return TopKSplit(train=as_set(train), valid=as_set(valid), test=as_set(test))


def random_split(rows: int, fractions: tuple[float, ...] = (0.8, 0.1, 0.1), seed: int = 2020) -> tuple[np.ndarray, ...]:
    """A seeded random partition of ``range(rows)`` by fractions.

    Args:
        rows: Number of rows.
        fractions: Shares of each part; must sum to 1.
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        One sorted int64 index array per fraction; the last part takes the rounding remainder.
    """
    if abs(sum(fractions) - 1.0) > 1e-9 or any(f < 0 for f in fractions):
        raise ValueError(f"fractions must be non-negative and sum to 1, found {fractions}")
    permutation = np.random.default_rng(seed).permutation(rows)
    cuts = np.round(np.cumsum(fractions)[:-1] * rows).astype(int)
    return tuple(np.sort(part) for part in np.split(permutation, cuts))
