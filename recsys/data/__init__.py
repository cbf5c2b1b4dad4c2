"""Data for recommendation: MovieLens-100k, the user's own files, splits, vocabularies.

User files are read by :mod:`~recsys.data.ctr_file` (CTR: Criteo / Avazu / CSV, streaming)
and :func:`~recsys.data.movielens.read_interactions` (RecBole atomic ``.inter`` files),
plain or compressed (:mod:`~recsys.data.textio`); a bad file is an
:class:`~sparse_core.infra.errors.InputError` naming the file and the line.
"""

from recsys.data.atomic import AtomicFormatError, read_atomic
from recsys.data.ctr_file import CTRFile, open_ctr_file
from recsys.data.ctr_reader import CTRFormatError
from recsys.data.movielens import (
    CTRTable,
    Interactions,
    find_inter_file,
    load_ctr_table,
    load_interactions,
    ml100k_folder,
    read_interactions,
)
from recsys.data.splits import TopKSplit, random_split, split_per_user
from recsys.data.vocab import OOV_INDEX, Vocabulary

__all__ = [
    "AtomicFormatError",
    "CTRFile",
    "CTRFormatError",
    "CTRTable",
    "Interactions",
    "OOV_INDEX",
    "TopKSplit",
    "Vocabulary",
    "find_inter_file",
    "load_ctr_table",
    "load_interactions",
    "ml100k_folder",
    "open_ctr_file",
    "random_split",
    "read_interactions",
    "read_atomic",
    "split_per_user",
]
