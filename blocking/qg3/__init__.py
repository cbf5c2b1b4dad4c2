"""The Marshall–Molteni (1993) three-level quasi-geostrophic model at T21.

Written for SparseWorks; proven against pyshqg 1.0.1's test store (``tests/blocking``).
"""

from blocking.qg3.config import QG3Config
from blocking.qg3.fast import FastTendency
from blocking.qg3.grid import GaussianGrid, gaussian_grid, legendre_tables
from blocking.qg3.inputs import InputError, load_t63_inputs, quintic_to_grid, read_forcing_file
from blocking.qg3.model import LEVELS_HPA, QG3Model
from blocking.qg3.packed import PackedLayout
from blocking.qg3.reference import from_reference_grid, from_reference_spectral, to_reference_spectral
from blocking.qg3.stepping import rk3_step, rk4_step, step_function
from blocking.qg3.transforms import SpectralTransform

__all__ = [
    "LEVELS_HPA",
    "FastTendency",
    "GaussianGrid",
    "InputError",
    "QG3Config",
    "PackedLayout",
    "QG3Model",
    "SpectralTransform",
    "from_reference_grid",
    "from_reference_spectral",
    "gaussian_grid",
    "legendre_tables",
    "load_t63_inputs",
    "quintic_to_grid",
    "read_forcing_file",
    "rk3_step",
    "rk4_step",
    "step_function",
    "to_reference_spectral",
]
