"""pymunk helpers shared by the 2-D tasks: a top-down table, friction, a kinematic mover.

Units are centimetres, seconds and grams-like mass units; the table is seen from above
(no gravity in the plane). Friction with the table is emulated as in Chipmunk's top-down
examples: a pivot joint and a gear joint to the static body with ``max_bias = 0`` (they
only damp velocity, never correct position) and ``max_force`` equal to the Coulomb limit
``mu m g`` (torque ``mu m g r_g`` with r_g the radius of gyration), so an object slides
only while something pushes it and stops by itself.

Control runs at 10 Hz over a 100 Hz physics step (the Push-T setting, Chi et al.,
"Diffusion Policy", RSS 2023): one action moves a kinematic body (pusher or gripper) by a
bounded displacement at constant velocity over ten physics steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pymunk

__all__ = ["PhysicsConfig", "add_table_friction", "make_space", "max_penetration", "move_kinematic", "move_within"]

GRAVITY_CM_S2 = 981.0


@dataclass(frozen=True)
class PhysicsConfig:
    """Timing and material constants of the table-top simulations.

    Attributes:
        physics_hz: Physics steps per second (100, as Push-T).
        control_hz: Control steps per second (10, as Push-T).
        table_friction: Coulomb coefficient between objects and the table.
        contact_friction: Friction coefficient between shapes.
        solver_iterations: Chipmunk solver iterations per physics step.
    """

    physics_hz: int = 100
    control_hz: int = 10
    table_friction: float = 0.4
    contact_friction: float = 0.3
    solver_iterations: int = 20

    def __post_init__(self) -> None:
        if self.physics_hz % self.control_hz:
            raise ValueError(f"physics_hz ({self.physics_hz}) must be a multiple of control_hz ({self.control_hz})")

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return self.physics_hz // self.control_hz

    @property
    def control_dt(self) -> float:
        """Seconds per control step."""
        return 1.0 / self.control_hz


def make_space(config: PhysicsConfig) -> pymunk.Space:
    """A fresh space without gravity (top view) and with the configured solver iterations."""
    space = pymunk.Space()
    space.gravity = (0.0, 0.0)
    space.iterations = config.solver_iterations
    return space


def add_table_friction(space: pymunk.Space, body: pymunk.Body, friction: float) -> None:
    """Adds Coulomb friction between ``body`` and the table (module docstring)."""
    normal_force = body.mass * GRAVITY_CM_S2
    linear = pymunk.PivotJoint(space.static_body, body, (0.0, 0.0), (0.0, 0.0))
    linear.max_bias = 0.0
    linear.max_force = friction * normal_force
    angular = pymunk.GearJoint(space.static_body, body, 0.0, 1.0)
    angular.max_bias = 0.0
    angular.max_force = friction * normal_force * math.sqrt(body.moment / body.mass)
    space.add(linear, angular)


def move_kinematic(space: pymunk.Space, body: pymunk.Body, displacement: np.ndarray, config: PhysicsConfig) -> None:
    """Moves a kinematic ``body`` by ``displacement`` (cm) at constant speed over one control step.

    Runs ``config.substeps`` physics steps, then stops the body.
    """
    dt = 1.0 / config.physics_hz
    body.velocity = (float(displacement[0]) / config.control_dt, float(displacement[1]) / config.control_dt)
    for _ in range(config.substeps):
        space.step(dt)
    body.velocity = (0.0, 0.0)


def move_within(
    space: pymunk.Space, body: pymunk.Body, action: np.ndarray, half_width_cm: float, config: PhysicsConfig
) -> None:
    """Moves a kinematic ``body`` by ``action`` (cm), stopping at the square workspace edge.

    The workspace is ``[-half_width_cm, half_width_cm]`` in x and y; see `move_kinematic`.
    """
    position = np.array(body.position)
    target = np.clip(position + action, -half_width_cm, half_width_cm)
    move_kinematic(space, body, target - position, config)


def max_penetration(shapes: Iterable[pymunk.Shape]) -> float:
    """The largest overlap depth (cm, >= 0) between any two of ``shapes`` with different bodies.

    Uses ``Space.shape_query`` (pymunk 7.3's ``Shape.shapes_collide`` fails on shapes that
    do not touch); all shapes must be in the same space.
    """
    shapes = list(shapes)
    wanted = set(map(id, shapes))
    deepest = 0.0
    for shape in shapes:
        for info in shape.space.shape_query(shape):
            if id(info.shape) not in wanted or info.shape.body is shape.body:
                continue
            for point in info.contact_point_set.points:
                deepest = max(deepest, -point.distance)
    return deepest
