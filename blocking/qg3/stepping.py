"""Explicit Runge–Kutta steps for the batched QG3 state (all members advance together).

The steps work on any array layout (natural complex or the packed real state of
:mod:`blocking.qg3.fast`) and accumulate in place, so a step costs its tendency
evaluations plus a few passes over the state.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["rk3_step", "rk4_step", "step_function"]

Tendency = Callable[[np.ndarray], np.ndarray]


def _axpy(state: np.ndarray, factor: float, slope: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = state + factor · slope``."""
    np.multiply(slope, factor, out=out)
    out += state
    return out


def rk4_step(tendency: Tendency, state: np.ndarray, dt: float) -> np.ndarray:
    """Classical fourth-order Runge–Kutta (the reference's ``rk4`` integrator)."""
    stage = np.empty_like(state)
    total = tendency(state)  # k1
    slope = tendency(_axpy(state, 0.5 * dt, total, stage))  # k2
    total += 2.0 * slope
    slope = tendency(_axpy(state, 0.5 * dt, slope, stage))  # k3
    total += 2.0 * slope
    slope = tendency(_axpy(state, dt, slope, stage))  # k4
    total += slope
    return _axpy(state, dt / 6.0, total, stage)


def rk3_step(tendency: Tendency, state: np.ndarray, dt: float) -> np.ndarray:
    """Kutta's third-order scheme: three tendencies per step instead of four.

    ``k1 = f(y)``, ``k2 = f(y + dt/2 k1)``, ``k3 = f(y + dt (2 k2 − k1))``,
    ``y + dt (k1 + 4 k2 + k3)/6``. Its stability interval on the imaginary axis is
    ``|λ dt| ≤ √3`` (RK4: ``2√2``).
    """
    stage = np.empty_like(state)
    first = tendency(state)
    second = tendency(_axpy(state, 0.5 * dt, first, stage))
    np.multiply(second, 2.0, out=stage)
    stage -= first
    stage *= dt
    stage += state
    third = tendency(stage)
    first += 4.0 * second
    first += third
    return _axpy(state, dt / 6.0, first, stage)


def step_function(scheme: str) -> Callable[[Tendency, np.ndarray, float], np.ndarray]:
    """The step of ``scheme`` (``"rk4"`` or ``"rk3"``)."""
    steps = {"rk4": rk4_step, "rk3": rk3_step}
    if scheme not in steps:
        raise ValueError(f"unknown time scheme {scheme!r}; expected one of {sorted(steps)}")
    return steps[scheme]
