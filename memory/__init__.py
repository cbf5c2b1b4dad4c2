"""A Sparsey-style sparse distributed representation (SDR) associative memory.

After Rinkus (2010, 2014, 2017): macrocolumns of winner-take-all competitive modules,
familiarity-contingent code selection and single-trial Hebbian learning.
"""

from memory.config import CSAConfig, HierarchyConfig, LevelConfig
from memory.hierarchy import Hierarchy
from memory.level import Level, LevelStep
from memory.model import ClassifierConfig, MemoryClassifier
from memory.preprocess import PreprocessConfig, preprocess, tile_channels
from memory.readout import HebbianReadout, NearestCode, cell_indices

__all__ = [
    "CSAConfig",
    "ClassifierConfig",
    "Hierarchy",
    "HebbianReadout",
    "HierarchyConfig",
    "Level",
    "LevelConfig",
    "LevelStep",
    "MemoryClassifier",
    "NearestCode",
    "PreprocessConfig",
    "cell_indices",
    "preprocess",
    "tile_channels",
]
