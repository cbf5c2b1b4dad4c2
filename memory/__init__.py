"""A Sparsey-style sparse distributed representation (SDR) associative memory.

After Rinkus (2010, 2014, 2017): macrocolumns of winner-take-all competitive modules,
familiarity-contingent code selection and single-trial Hebbian learning.
"""

from sparse_core.infra.lazy import lazy_exports

# `preprocess()` itself is not re-exported: its name is that of the submodule
# `memory.preprocess`, which would shadow it once imported.

_EXPORTS = {
    "CSAConfig": "config",
    "CSASettings": "config",
    "SizeGrid": "experiments",
    "PatternMemory": "patterns",
    "read_mnist_csv": "data",
    "read_png_folder": "data",
    "read_ts": "data",
    "CapacityConfig": "experiments",
    "ClassifyConfig": "experiments",
    "SequenceConfig": "experiments",
    "TimingConfig": "experiments",
    "global_familiarity": "csa",
    "input_sums": "csa",
    "run_capacity": "capacity",
    "run_classify": "classify",
    "run_sequence": "sequence",
    "run_timing": "timing",
    "HierarchyConfig": "config",
    "LevelConfig": "config",
    "Hierarchy": "hierarchy",
    "Level": "level",
    "LevelStep": "level",
    "ClassifierConfig": "model",
    "MemoryClassifier": "model",
    "PreprocessConfig": "config",
    "tile_channels": "preprocess",
    "HebbianReadout": "readout",
    "NearestCode": "readout",
    "cell_indices": "readout",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
