"""Vocabularies: categorical values -> contiguous integer ids with an out-of-vocabulary slot.

Index 0 is reserved for values not seen when the vocabulary was fitted (or seen fewer than
``min_count`` times), so a model can always embed an unknown id at inference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np

__all__ = ["OOV_INDEX", "Vocabulary"]

OOV_INDEX = 0


class Vocabulary:
    """A fitted mapping from values (str) to ids ``1..len-1``; unknown values map to 0.

    Args:
        tokens: The known values, in id order (id ``i + 1`` for ``tokens[i]``).
        name: The field this vocabulary encodes, used in messages.
    """

    def __init__(self, tokens: Iterable[str], name: str = "field"):
        self.name = name
        self.tokens_ = list(tokens)
        self.index_ = {token: i + 1 for i, token in enumerate(self.tokens_)}
        if len(self.index_) != len(self.tokens_):
            raise ValueError(f"vocabulary {name!r}: tokens are not unique")

    @classmethod
    def fit(cls, values: Iterable[str], min_count: int = 1, name: str = "field") -> Vocabulary:
        """Keeps values seen at least ``min_count`` times, ordered by decreasing count then value."""
        return cls.from_counts(Counter(values), min_count=min_count, name=name)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], min_count: int = 1, name: str = "field") -> Vocabulary:
        """Builds the vocabulary from precomputed counts (the streaming reader's first pass)."""
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, found {min_count}")
        kept = sorted((v for v, c in counts.items() if c >= min_count), key=lambda v: (-counts[v], v))
        return cls(kept, name=name)

    def __len__(self) -> int:
        """Number of ids including the out-of-vocabulary slot."""
        return len(self.tokens_) + 1

    def encode(self, values: Iterable[str]) -> np.ndarray:
        """Maps values to int64 ids; unknown values get :data:`OOV_INDEX`."""
        get = self.index_.get
        return np.fromiter((get(v, OOV_INDEX) for v in values), dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str | None]:
        """Maps ids back to values; the out-of-vocabulary id decodes to ``None``."""
        return [self.tokens_[i - 1] if i > 0 else None for i in ids]

    def state_dict(self) -> dict:
        return {"name": self.name, "tokens": list(self.tokens_)}

    @classmethod
    def from_state_dict(cls, state: Mapping) -> Vocabulary:
        return cls(state["tokens"], name=state["name"])
