"""Atlantic blocking with a QG3 climate model, explainable AI and transfer learning.

After Zhang, Finkel, Abbot, Gerber & Weare (JGR: Machine Learning and Computation, 2024)
and the three-level quasi-geostrophic model of Marshall & Molteni (1993).
"""

from blocking import qg3

__all__ = ["qg3"]
