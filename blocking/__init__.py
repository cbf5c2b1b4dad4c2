"""Atlantic blocking with a QG3 climate model, explainable AI and transfer learning.

After Zhang, Finkel, Abbot, Gerber & Weare (JGR: Machine Learning and Computation, 2024)
and the three-level quasi-geostrophic model of Marshall & Molteni (1993). The model lives
in :mod:`blocking.qg3`; its main names are shown here too (imported on first use).
"""

from blocking import qg3
from sparse_core.infra.lazy import lazy_exports

_EXPORTS = {
    "QG3Config": "qg3.config",
    "SimulationConfig": "qg3.config",
    "SimulateConfig": "qg3.config",
    "ForcingConfig": "qg3.config",
    "QG3Model": "qg3.model",
    "energy": "qg3.diagnostics",
    "enstrophy": "qg3.diagnostics",
    "roads_forcing": "qg3.roads",
    "run_forcing": "qg3.forcing_io",
    "run_simulate": "qg3.run",
    "simulate": "qg3.run",
}

__all__ = ["qg3", *sorted(_EXPORTS)]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
