"""The Marshall–Molteni (1993) three-level quasi-geostrophic model at T21.

Written for SparseWorks; proven against pyshqg 1.0.1's test store (``tests/blocking``).
"""

from sparse_core.infra.lazy import lazy_exports

_EXPORTS = {
    "QG3Config": "config",
    "SimulationConfig": "config",
    "FastTendency": "fast",
    "GaussianGrid": "grid",
    "gaussian_grid": "grid",
    "legendre_tables": "grid",
    "InputError": "inputs",
    "load_t63_inputs": "inputs",
    "quintic_to_grid": "inputs",
    "read_forcing_file": "inputs",
    "LEVELS_HPA": "model",
    "QG3Model": "model",
    "PackedLayout": "packed",
    "from_reference_grid": "reference",
    "from_reference_spectral": "reference",
    "to_reference_spectral": "reference",
    "rk3_step": "stepping",
    "rk4_step": "stepping",
    "step_function": "stepping",
    "SimulationDiverged": "run",
    "SpectralTransform": "transforms",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
