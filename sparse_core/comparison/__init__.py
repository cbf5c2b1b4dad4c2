"""The MNIST method comparison: the core's algorithms side by side on real digits.

Not part of the algorithms: a demonstration of them (:mod:`~sparse_core.comparison.compare`),
the small training loop it uses (:mod:`~sparse_core.comparison.training`), its command
line (``sparseworks core``, :mod:`~sparse_core.comparison.cli`) and its demo stage.
"""
