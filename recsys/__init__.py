"""Sparse recommendation: dynamic sparse learning and AutoInt CTR models.

After Wang et al., "Dynamic Sparse Learning: A Novel Paradigm for Efficient
Recommendation" (WSDM 2024) and Song et al., "AutoInt" (CIKM 2019).
"""

__all__: list[str] = []
