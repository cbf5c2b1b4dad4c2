"""Explicit Runge–Kutta steps for the batched QG3 state (all members advance together)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["rk3_step", "rk4_step", "step_function"]

Tendency = Callable[[np.ndarray], np.ndarray]


def rk4_step(tendency: Tendency, state: np.ndarray, dt: float) -> np.ndarray:
    """Classical fourth-order Runge–Kutta (the reference's ``rk4`` integrator)."""
    k1 = tendency(state)
    k2 = tendency(state + (0.5 * dt) * k1)
    k3 = tendency(state + (0.5 * dt) * k2)
    k4 = tendency(state + dt * k3)
    return state + dt * (k1 / 6 + k2 / 3 + k3 / 3 + k4 / 6)


def rk3_step(tendency: Tendency, state: np.ndarray, dt: float) -> np.ndarray:
    """Kutta's third-order scheme: three tendencies per step instead of four.

    Its stability interval on the imaginary axis is ``|λ dt| ≤ √3`` (RK4: ``2√2``).
    """
    k1 = tendency(state)
    k2 = tendency(state + (0.5 * dt) * k1)
    k3 = tendency(state + dt * (2.0 * k2 - k1))
    return state + dt * (k1 / 6 + 2.0 * k2 / 3 + k3 / 6)


def step_function(scheme: str) -> Callable[[Tendency, np.ndarray, float], np.ndarray]:
    """The step of ``scheme`` (``"rk4"`` or ``"rk3"``)."""
    steps = {"rk4": rk4_step, "rk3": rk3_step}
    if scheme not in steps:
        raise ValueError(f"unknown time scheme {scheme!r}; expected one of {sorted(steps)}")
    return steps[scheme]
