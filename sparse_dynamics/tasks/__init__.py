"""The control tasks, by name: the registry (`TASK_NAMES`, `make_task`).

The task modules (numpy, scipy, pymunk) are imported only when a task is built, so that
the command line can check a task name without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparse_core.infra.lazy import lazy_exports

if TYPE_CHECKING:
    from sparse_dynamics.tasks.base import Task

__all__ = ["TASK_NAMES", "GraphLayout", "Task", "make_task"]

TASK_NAMES = ("pwa", "push", "sort", "rope")
_EXPORTS = {"GraphLayout": "base", "Task": "base"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


def make_task(name: str, **options) -> Task:
    """The task called ``name`` (one of `TASK_NAMES`), built with ``options``.

    Raises:
        ValueError: If ``name`` is not a task.
    """
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
