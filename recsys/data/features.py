"""Encoding categorical CTR fields as integer ids, one vocabulary per field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from recsys.data.vocab import Vocabulary

__all__ = ["FieldEncoder"]


class FieldEncoder:
    """One :class:`Vocabulary` per field, fitted on training rows only.

    Values first seen in validation or test rows map to the out-of-vocabulary id 0.

    Args:
        fields: Field names, in column order.
        min_count: Values seen fewer times in training become out-of-vocabulary.
    """

    def __init__(self, fields: Sequence[str], min_count: int = 1):
        self.fields = tuple(fields)
        self.min_count = min_count

    def fit(self, values: Mapping[str, np.ndarray], rows: np.ndarray | None = None) -> FieldEncoder:
        """Fits every field's vocabulary on ``values[field][rows]``."""
        self.vocabularies_ = {}
        for field in self.fields:
            column = values[field] if rows is None else values[field][rows]
            self.vocabularies_[field] = Vocabulary.fit(column, min_count=self.min_count, name=field)
        return self

    def transform(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Encodes the fields column by column.

        Shapes:
            - return: ``(rows, fields)`` int64.
        """
        missing = [f for f in self.fields if f not in values]
        if missing:
            raise KeyError(f"fields {missing} missing from the data; available: {sorted(values)}")
        return np.stack([self.vocabularies_[f].encode(values[f]) for f in self.fields], axis=1)

    @property
    def cardinalities(self) -> list[int]:
        """Embedding rows per field (vocabulary size including the out-of-vocabulary id)."""
        return [len(self.vocabularies_[f]) for f in self.fields]

    def state_dict(self) -> dict:
        return {
            "fields": list(self.fields),
            "min_count": self.min_count,
            "vocabularies": {f: v.state_dict() for f, v in self.vocabularies_.items()},
        }

    def load_state_dict(self, state: Mapping) -> None:
        self.fields = tuple(state["fields"])
        self.min_count = int(state["min_count"])
        self.vocabularies_ = {f: Vocabulary.from_state_dict(v) for f, v in state["vocabularies"].items()}
