"""Planar pushing: a circular pusher moves a T-shaped or box-shaped object on a table.

State ``(pusher x, pusher y, object x, object y, object angle)`` in cm and rad (the
object's centre of mass; the angle is continuous, not wrapped); action = pusher
displacement per control step (cm), each entry bounded. 10 Hz control over 100 Hz
physics, table friction and contacts from pymunk (see `sparse_dynamics.tasks.physics`).
After the Push-T task (Chi et al., RSS 2023) and the pushing task of Liu et al.
(NeurIPS 2023, sec. 5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymunk

from sparse_dynamics.tasks.base import Task, check_size
from sparse_dynamics.tasks.physics import PhysicsConfig, add_table_friction, make_space, max_penetration, move_within

__all__ = ["PushTask", "object_parts"]

WORKSPACE_CM = 25.0
"""The pusher stays inside ``[-WORKSPACE_CM, WORKSPACE_CM]^2``."""


def _shift_to_centroid(parts: list[np.ndarray]) -> list[np.ndarray]:
    areas = [abs(pymunk.area_for_poly([tuple(v) for v in part])) for part in parts]
    centroids = [part.mean(axis=0) for part in parts]  # rectangles: vertex mean = centroid
    centre = sum(a * c for a, c in zip(areas, centroids)) / sum(areas)
    return [part - centre for part in parts]


def object_parts(shape: str) -> list[np.ndarray]:
    """Convex parts (vertex arrays, cm) of the pushed object, centred on its centre of mass.

    Args:
        shape: ``"T"`` (12 x 3 cm bar on a 3 x 9 cm stem) or ``"box"`` (8 x 8 cm).
    """
    rectangle = lambda x0, x1, y0, y1: np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)  # noqa: E731
    if shape == "T":
        return _shift_to_centroid([rectangle(-6, 6, 0, 3), rectangle(-1.5, 1.5, -9, 0)])
    if shape == "box":
        return [rectangle(-4, 4, -4, 4)]
    raise ValueError(f"object shape must be 'T' or 'box', got {shape!r}")


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    return points @ np.array([[cos, sin], [-sin, cos]])


class PushTask(Task):
    """Pushing a T or a box to a goal pose.

    Args:
        shape: ``"T"`` or ``"box"``.
        action_bound: Largest pusher displacement per control step and axis (cm).
        pusher_radius: Radius of the pusher (cm).
        angle_weight: cm of cost per radian of angle error in `cost`.
        physics: Timing and friction constants.
    """

    name = "push"
    state_names = ("pusher_x_cm", "pusher_y_cm", "object_x_cm", "object_y_cm", "object_angle_rad")
    action_names = ("pusher_dx_cm", "pusher_dy_cm")

    def __init__(
        self,
        shape: str = "T",
        action_bound: float = 2.0,
        pusher_radius: float = 1.5,
        angle_weight: float = 5.0,
        physics: PhysicsConfig | None = None,
    ) -> None:
        self.shape = shape
        self.parts = object_parts(shape)
        self.action_bound = check_size(self.name, "action_bound", action_bound)
        self.pusher_radius = check_size(self.name, "pusher_radius", pusher_radius)
        self.angle_weight = check_size(self.name, "angle_weight", angle_weight, zero=True)
        self.physics = physics or PhysicsConfig()
        self._script_offset = np.zeros(2)
        self.reset(0)

    def options(self) -> dict:
        return {
            "shape": self.shape,
            "action_bound": self.action_bound,
            "pusher_radius": self.pusher_radius,
            "angle_weight": self.angle_weight,
        }

    def _build(self, pusher_xy: np.ndarray, object_pose: np.ndarray) -> None:
        self.space = make_space(self.physics)
        mass_per_cm2 = 1.0
        masses = [mass_per_cm2 * abs(pymunk.area_for_poly([tuple(v) for v in part])) for part in self.parts]
        moment = sum(pymunk.moment_for_poly(m, [tuple(v) for v in part]) for m, part in zip(masses, self.parts))
        self.object = pymunk.Body(sum(masses), moment)
        self.object.position = (float(object_pose[0]), float(object_pose[1]))
        self.object.angle = float(object_pose[2])
        self.object_shapes = [pymunk.Poly(self.object, [tuple(v) for v in part]) for part in self.parts]
        self.pusher = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
        self.pusher.position = (float(pusher_xy[0]), float(pusher_xy[1]))
        self.pusher_shape = pymunk.Circle(self.pusher, self.pusher_radius)
        for shape in [*self.object_shapes, self.pusher_shape]:
            shape.friction = self.physics.contact_friction
            shape.elasticity = 0.0
        self.space.add(self.object, *self.object_shapes, self.pusher, self.pusher_shape)
        add_table_friction(self.space, self.object, self.physics.table_friction)

    def reset(self, seed: int) -> np.ndarray:
        """Object at a random pose near the centre; pusher 10-16 cm away from it."""
        rng = np.random.default_rng(seed)
        object_pose = np.array([*rng.uniform(-5.0, 5.0, size=2), rng.uniform(-np.pi, np.pi)])
        direction = rng.uniform(-np.pi, np.pi)
        distance = rng.uniform(10.0, 16.0)
        pusher = object_pose[:2] + distance * np.array([np.cos(direction), np.sin(direction)])
        self._build(np.clip(pusher, -WORKSPACE_CM, WORKSPACE_CM), object_pose)
        self._script_rng = np.random.default_rng([seed, 1])
        self._script_offset = self._script_rng.uniform(-3.0, 3.0, size=2)
        return self.state

    def set_state(self, state: np.ndarray) -> np.ndarray:
        """Places pusher and object at ``state`` (at rest); returns the state."""
        state = np.asarray(state, dtype=np.float64)
        self._build(state[:2], state[2:5])
        return self.state

    def step(self, action: np.ndarray) -> np.ndarray:
        move_within(self.space, self.pusher, self.clip_action(action), WORKSPACE_CM, self.physics)
        return self.state

    @property
    def state(self) -> np.ndarray:
        return np.array([*self.pusher.position, *self.object.position, self.object.angle], dtype=np.float64)

    def penetration(self) -> float:
        """Current overlap depth between pusher and object (cm), for contact checks."""
        return max_penetration([*self.object_shapes, self.pusher_shape])

    def cost(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """``|dx| + |dy| + angle_weight * |wrapped dangle|`` of the object against goal ``(x, y, angle)``."""
        state, goal = np.asarray(state), np.asarray(goal)
        angle_error = np.angle(np.exp(1j * (state[..., 4] - goal[..., 2])))
        return np.abs(state[..., 2:4] - goal[..., :2]).sum(axis=-1) + self.angle_weight * np.abs(angle_error)

    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([*rng.uniform(-8.0, 8.0, size=2), rng.uniform(-np.pi, np.pi)])

    def scripted_action(self, rng: np.random.Generator) -> np.ndarray:
        """Heads for a point inside the object (re-drawn now and then), with noise: mostly pushes."""
        if rng.random() < 0.1:
            self._script_offset = rng.uniform(-3.0, 3.0, size=2)
        state = self.state
        target = state[2:4] + _rotate(self._script_offset[None], state[4])[0]
        heading = target - state[:2]
        command = heading / max(np.linalg.norm(heading), 1e-9) * self.action_bound
        return np.clip(
            command + rng.normal(0.0, 0.3 * self.action_bound, size=2), -self.action_bound, self.action_bound
        )

    def object_outline(self, pose: np.ndarray) -> list[np.ndarray]:
        """World-frame vertices of the object's parts at ``pose = (x, y, angle)``."""
        return [_rotate(part, pose[2]) + pose[:2] for part in self.parts]

    def render(self, path: Path | str, goal: np.ndarray | None = None) -> Path:
        from sparse_dynamics.tasks.render import draw_scene

        state = self.state
        return draw_scene(
            path,
            limits=(-WORKSPACE_CM, WORKSPACE_CM, -WORKSPACE_CM, WORKSPACE_CM),
            polygons=[(part, "tab:gray") for part in self.object_outline(state[2:5])],
            circles=[(state[:2], self.pusher_radius, "tab:blue")],
            goal_polygons=[] if goal is None else self.object_outline(np.asarray(goal)),
            title=f"push ({self.shape}): object, pusher (blue), goal (dashed)",
        )
