"""Data for recommendation: MovieLens-100k, splits, vocabularies and a streaming CTR reader."""

from recsys.data.atomic import AtomicFormatError, read_atomic
from recsys.data.movielens import CTRTable, Interactions, load_ctr_table, load_interactions, ml100k_folder
from recsys.data.splits import TopKSplit, random_split, split_per_user
from recsys.data.vocab import OOV_INDEX, Vocabulary

__all__ = [
    "AtomicFormatError",
    "CTRTable",
    "Interactions",
    "OOV_INDEX",
    "TopKSplit",
    "Vocabulary",
    "load_ctr_table",
    "load_interactions",
    "ml100k_folder",
    "random_split",
    "read_atomic",
    "split_per_user",
]
