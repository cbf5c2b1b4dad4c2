"""Declaring a setting once: its default, bounds, choices and help live on the config field.

A config is a frozen dataclass (docs/style.md, rule 4: TOML -> frozen
dataclass -> function arguments). :func:`setting` makes one of its fields and
:func:`config` makes the class; the command line (:mod:`sparse_core.infra.clikit`), the
``--help`` text and validation are all generated from that one declaration::

    @config
    class DSLConfig:
        \"\"\"Dynamic sparse learning.

        Attributes:
            density: Fraction of embedding weights kept (1 = dense).
        \"\"\"

        density: float = setting(1.0, gt=0.0, le=1.0)

The help text of a field is the line of the class docstring's ``Attributes:`` section
that names it (Google style), unless ``help=`` is given. Bounds are checked whenever the
config is built, from the command line, from a TOML file or from Python, so a value that
cannot give a meaningful result is rejected before any work starts.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import re
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sparse_core.infra.errors import ConfigError

__all__ = ["ConfigError", "check_settings", "config", "field_help", "setting"]

T = TypeVar("T")
_MISSING = dataclasses.MISSING
_BOUNDS = {
    "ge": (">=", lambda v, b: v >= b),
    "gt": (">", lambda v, b: v > b),
    "le": ("<=", lambda v, b: v <= b),
    "lt": ("<", lambda v, b: v < b),
}


def setting(
    default: Any = _MISSING,
    *,
    factory: Callable[[], Any] | None = None,
    help: str | None = None,  # noqa: A002 - the word every CLI library uses
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Iterable[Any] | None = None,
    cli: str | bool | None = None,
    prefix: str | None = None,
    allow_nonfinite: bool = False,
) -> Any:
    """A config field with its default and what the command line and validation need.

    Args:
        default: the default value (or ``factory`` for a mutable / nested default).
        help: help text; by default the field's entry in the class's ``Attributes:``.
        ge, gt, le, lt: bounds for numbers (and for every item of a tuple of numbers).
        choices: the allowed values (every item, for a tuple).
        cli: the option name (``"--lr"``), ``False`` for a field the command line does
            not set (derived or internal), ``None`` for ``--field-name``.
        prefix: for a nested config field, a prefix of its options' names
            (``"dense-"`` -> ``--dense-epochs``); by default nested options are flat.
        allow_nonfinite: accept NaN / infinity (rejected by default).
    """
    metadata = {
        key: value
        for key, value in {
            "help": help,
            "ge": ge,
            "gt": gt,
            "le": le,
            "lt": lt,
            "choices": tuple(choices) if choices is not None else None,
            "cli": cli,
            "prefix": prefix,
        }.items()
        if value is not None
    }
    metadata["allow_nonfinite"] = allow_nonfinite
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def config(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen dataclass whose settings are checked when it is built.

    The bounds and choices given to :func:`setting` are checked before the class's own
    ``__post_init__`` (which stays the place for checks across fields).
    """
    own = cls.__dict__.get("__post_init__")

    def __post_init__(self) -> None:
        check_settings(self)
        if own is not None:
            own(self)

    cls.__post_init__ = __post_init__
    return dataclasses.dataclass(frozen=True)(cls)


def check_settings(instance: Any) -> None:
    """Check every field of a dataclass against its :func:`setting` bounds and choices.

    Raises:
        ConfigError: naming ``Class.field``, what was expected and what was found.
    """
    name = type(instance).__name__
    try:
        hints = typing.get_type_hints(type(instance))
    except (NameError, TypeError):  # a hint this module cannot resolve: skip type checks
        hints = {}
    for f in dataclasses.fields(instance):
        value = getattr(instance, f.name)
        meta = f.metadata
        problem = _type_problem(hints.get(f.name), value)
        if problem:
            raise ConfigError(f"{name}.{f.name} must be {problem}, got {value!r}", field=f.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, bool) or item is None:
                continue
            where = f"{name}.{f.name}"
            if isinstance(item, float) and not math.isfinite(item) and not meta.get("allow_nonfinite", False):
                raise ConfigError(f"{where} must be a finite number, got {item}", field=f.name)
            if isinstance(item, (int, float)):
                for key, (_symbol, test) in _BOUNDS.items():
                    bound = meta.get(key)
                    if bound is not None and not test(item, bound):
                        raise ConfigError(f"{where} must be {describe_bounds(meta)}, got {item}", field=f.name)
            choices = meta.get("choices")
            if choices is not None and item not in choices:
                listed = ", ".join(repr(c) for c in choices)
                raise ConfigError(f"{where} must be one of {listed}; got {item!r}", field=f.name)


def _type_problem(hint: Any, value: Any) -> str | None:
    """What ``value`` should have been for a field typed ``hint`` (None when it fits)."""
    if hint is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        return _type_problem(rest[0], value) if len(rest) == 1 else None
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            return "a list"
        inner = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return next((p for v in value if inner and (p := _type_problem(inner[0], v))), None)
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is int:
        return None if isinstance(value, numbers.Integral) and not isinstance(value, bool) else "an integer"
    if hint is float:
        return None if isinstance(value, numbers.Real) and not isinstance(value, bool) else "a number"
    if hint is str:
        return None if isinstance(value, str) else "a string"
    return None


def describe_bounds(meta: Any) -> str:
    """``"> 0 and <= 1"`` from a field's bounds ('' when it has none)."""
    parts = [f"{_BOUNDS[key][0]} {meta[key]:g}" for key in ("gt", "ge", "lt", "le") if meta.get(key) is not None]
    return " and ".join(parts)


_ATTRIBUTE = re.compile(r"^(\s*)(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")


def field_help(cls: type) -> dict[str, str]:
    """Help text per field: ``help=`` of :func:`setting`, else the docstring's ``Attributes:``.

    The docstring is read in the Google style: a line ``name: text`` under
    ``Attributes:``, continued by more deeply indented lines.
    """
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        found.update(_docstring_attributes(inspect.getdoc(klass) or ""))
    result = {}
    for f in dataclasses.fields(cls):
        text = f.metadata.get("help") or found.get(f.name, "")
        result[f.name] = " ".join(text.split())
    return result


def _docstring_attributes(doc: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    inside, entry_indent, current = False, None, None
    for line in doc.splitlines():
        if not line.strip():
            continue
        if line.strip() in ("Attributes:", "Args:", "Fields:"):
            inside, entry_indent, current = True, None, None
            continue
        if not inside:
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            inside = False
            continue
        match = _ATTRIBUTE.match(line)
        if match and (entry_indent is None or indent == entry_indent):
            entry_indent = indent
            current = match.group(2)
            entries[current] = match.group(3)
        elif current is not None and indent > (entry_indent or 0):
            entries[current] += " " + line.strip()
    return entries
