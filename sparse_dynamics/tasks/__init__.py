"""The control tasks: `make_task` builds one by name."""

from __future__ import annotations

from sparse_dynamics.tasks.base import GraphLayout, Task

__all__ = ["TASK_NAMES", "GraphLayout", "Task", "make_task"]

TASK_NAMES = ("pwa", "push", "sort", "rope")


def make_task(name: str, **options) -> Task:
    """The task called ``name`` (one of `TASK_NAMES`), built with ``options``."""
    if name == "pwa":
        from sparse_dynamics.tasks.pwa import PiecewiseAffineTask as cls
    elif name == "push":
        from sparse_dynamics.tasks.push import PushTask as cls
    elif name == "sort":
        from sparse_dynamics.tasks.sort import SortTask as cls
    elif name == "rope":
        from sparse_dynamics.tasks.rope import RopeTask as cls
    else:
        raise ValueError(f"unknown task {name!r}; available: {', '.join(TASK_NAMES)}")
    return cls(**options)
