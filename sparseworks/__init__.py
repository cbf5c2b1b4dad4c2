"""SparseWorks: scientific and control applications built on sparse neural models.

This package is the front door only: the umbrella command line ``sparseworks``
(:mod:`sparseworks.cli`). The algorithms live in :mod:`sparse_core` and the applications
(:mod:`sparse_dynamics`, :mod:`blocking`, :mod:`recsys`, :mod:`memory`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sparseworks")
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
