"""The suite's own error types: what the command line reports as ``error: ...`` (exit 2).

Any exception of these types is a problem with what the user gave (a setting, a file, a
dataset) and reaches the user as one line naming what was wrong. Every other exception
is a bug and keeps its traceback. Each type also derives from the built-in type that
code outside the suite would expect (``ValueError`` for a bad value).
"""

from __future__ import annotations

__all__ = ["ConfigError", "InputError", "SparseWorksError"]


class SparseWorksError(Exception):
    """Base of the errors that the command line shows as ``error: <message>``."""


class ConfigError(SparseWorksError, ValueError):
    """A setting that cannot give a meaningful result.

    Attributes:
        field: the config field at fault (``"density"``), when one is; the command line
            names the option that sets it.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InputError(SparseWorksError, ValueError):
    """A file or dataset given by the user is missing, malformed or inconsistent."""
