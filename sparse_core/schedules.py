"""Schedules as pure functions of the training step.

Steps are integers counted from 0. Nothing here holds state; a training loop calls these
with its current step.
"""

from __future__ import annotations

import math

__all__ = ["cosine_decay", "cubic_sparsity", "is_update_step", "linear_decay", "training_window"]


def _check_window(start_step: int, end_step: int) -> None:
    if end_step < start_step:
        raise ValueError(f"end_step ({end_step}) must not be before start_step ({start_step})")


def _check_fraction(value: float, what: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} must lie in [0, 1], found {value}")


def cubic_sparsity(
    step: int,
    final_sparsity: float,
    initial_sparsity: float = 0.0,
    start_step: int = 0,
    end_step: int | None = None,
    frequency: int = 1,
) -> float:
    """Gradual pruning ramp of Zhu & Gupta 2017, "To prune, or not to prune", eq. 1.

    ``s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3`` with ``t0 = start_step``,
    ``n * dt = end_step - start_step`` and ``dt = frequency``. The sparsity changes only on
    steps ``t0 + k * dt`` and is constant in between; it is ``s_i`` before ``start_step`` and
    ``s_f`` from ``end_step`` on.

    Args:
        step: Current training step.
        final_sparsity: ``s_f`` in [0, 1].
        initial_sparsity: ``s_i`` in [0, 1].
        start_step: ``t0``, first step of the ramp.
        end_step: Step at which the final sparsity is reached (required).
        frequency: ``dt``, steps between pruning events (>= 1).

    Returns:
        The target sparsity at ``step``.
    """
    if end_step is None:
        raise TypeError("cubic_sparsity() needs end_step, the step at which final_sparsity is reached")
    _check_window(start_step, end_step)
    _check_fraction(final_sparsity, "final_sparsity")
    _check_fraction(initial_sparsity, "initial_sparsity")
    if frequency < 1:
        raise ValueError(f"frequency must be >= 1, found {frequency}")
    if step < start_step:
        return float(initial_sparsity)
    if step >= end_step:
        return float(final_sparsity)
    last_update = start_step + (step - start_step) // frequency * frequency
    progress = (last_update - start_step) / (end_step - start_step)
    return float(final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - progress) ** 3)


def cosine_decay(step: int, initial_fraction: float, end_step: int, start_step: int = 0) -> float:
    """Cosine decay of the update fraction, RigL (Evci et al. 2020, Sec. 3, "Update schedule").

    ``f(t) = alpha / 2 * (1 + cos(pi * (t - start_step) / (end_step - start_step)))``;
    ``alpha`` before ``start_step`` and 0 from ``end_step`` on.

    Args:
        step: Current training step.
        initial_fraction: ``alpha``, fraction of the active weights updated at the start.
        end_step: ``T_end``, the step after which masks no longer change.
        start_step: Step at which the decay begins.

    Returns:
        The fraction of weights to drop and regrow at ``step``.
    """
    _check_window(start_step, end_step)
    _check_fraction(initial_fraction, "initial_fraction")
    if step < start_step:
        return float(initial_fraction)
    if step >= end_step:
        return 0.0
    progress = (step - start_step) / (end_step - start_step)
    return float(initial_fraction / 2.0 * (1.0 + math.cos(math.pi * progress)))


def linear_decay(step: int, initial_fraction: float, end_step: int, start_step: int = 0) -> float:
    """Linear decay ``alpha * (1 - (t - start_step) / (end_step - start_step))``, 0 from ``end_step`` on.

    Same arguments and returns as :func:`cosine_decay`.
    """
    _check_window(start_step, end_step)
    _check_fraction(initial_fraction, "initial_fraction")
    if step < start_step:
        return float(initial_fraction)
    if step >= end_step:
        return 0.0
    return float(initial_fraction * (1.0 - (step - start_step) / (end_step - start_step)))


def is_update_step(step: int, every: int, start_step: int = 0, end_step: int | None = None) -> bool:
    """Whether a mask update happens at ``step``: every ``every`` steps (RigL's ``delta T``).

    Updates happen at ``start_step + k * every`` for ``k >= 1`` (never on ``start_step``
    itself, before any training), up to and including ``end_step`` when given.

    Args:
        step: Current training step.
        every: ``delta T``, steps between updates (>= 1).
        start_step: Updates begin ``every`` steps after this step.
        end_step: Last step on which an update may happen; ``None`` for no end.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, found {every}")
    if step <= start_step or (end_step is not None and step > end_step):
        return False
    return (step - start_step) % every == 0


def training_window(total_steps: int, start_fraction: float = 0.0, end_fraction: float = 0.75) -> tuple[int, int]:
    """Converts fractions of training into ``(start_step, end_step)``.

    RigL stops updating masks at 75% of training (``end_fraction=0.75``).

    Args:
        total_steps: Number of training steps.
        start_fraction: Fraction of training before the first update.
        end_fraction: Fraction of training after which masks are frozen.

    Returns:
        ``(round(start_fraction * total_steps), round(end_fraction * total_steps))``.
    """
    _check_fraction(start_fraction, "start_fraction")
    _check_fraction(end_fraction, "end_fraction")
    if end_fraction < start_fraction:
        raise ValueError(f"end_fraction ({end_fraction}) must not be below start_fraction ({start_fraction})")
    return round(start_fraction * total_steps), round(end_fraction * total_steps)
