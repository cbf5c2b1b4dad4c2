"""Rope: a chain of rigid segments joined by pin joints, moved by grasping one segment.

State = the centres of the segments ``(seg_0 x, seg_0 y, seg_1 x, ...)`` in cm; action =
displacement (cm) of a kinematic gripper pinned to the centre of the grasped segment.
Segments do not collide with each other; each has table friction. The goal is a target
position per segment centre (a rope shape) and the cost their summed L1 distance. After
the rope manipulation task of Liu et al. (NeurIPS 2023, sec. 5), learned by a graph
network over segments (`GraphLayout`: type 1 = grasped segment, type 0 = the others).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymunk

from sparse_dynamics.tasks.base import GraphLayout, Task, check_count, check_size
from sparse_dynamics.tasks.physics import PhysicsConfig, add_table_friction, make_space, move_within

__all__ = ["RopeTask"]

WORKSPACE_CM = 25.0
MAX_SEGMENTS = 64
"""Most rope segments a task may have."""


class RopeTask(Task):
    """A chain of ``segments`` rigid segments of ``segment_length`` cm.

    Args:
        segments: Number of segments.
        segment_length: Length of each segment (cm).
        grasped_segment: Index of the segment the gripper holds.
        action_bound: Largest gripper displacement per control step and axis (cm).
        physics: Timing and friction constants.
    """

    name = "rope"
    action_names = ("gripper_dx_cm", "gripper_dy_cm")

    def __init__(
        self,
        segments: int = 6,
        segment_length: float = 3.0,
        grasped_segment: int = 0,
        action_bound: float = 2.0,
        physics: PhysicsConfig | None = None,
    ) -> None:
        self.segments = check_count(self.name, "segments", segments, 2, MAX_SEGMENTS)
        self.grasped_segment = check_count(self.name, "grasped_segment", grasped_segment, 0, self.segments - 1)
        self.segment_length = check_size(self.name, "segment_length", segment_length)
        self.action_bound = check_size(self.name, "action_bound", action_bound)
        self.physics = physics or PhysicsConfig()
        self.state_names = tuple(f"seg{i}_{axis}_cm" for i in range(self.segments) for axis in "xy")
        self.reset(0)

    def options(self) -> dict:
        return {
            "segments": self.segments,
            "segment_length": self.segment_length,
            "grasped_segment": self.grasped_segment,
            "action_bound": self.action_bound,
        }

    @property
    def graph_layout(self) -> GraphLayout:
        types = tuple(int(i == self.grasped_segment) for i in range(self.segments))
        return GraphLayout(self.segments, 2, types, 2, self.grasped_segment)

    def _random_shape(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Centres ``(segments, 2)`` and angles ``(segments,)`` of a randomly bent chain."""
        angles = rng.uniform(-np.pi, np.pi) + np.cumsum(rng.normal(0.0, 0.35, size=self.segments))
        directions = np.stack([np.cos(angles), np.sin(angles)], axis=1) * self.segment_length
        joints = np.concatenate([np.zeros((1, 2)), np.cumsum(directions, axis=0)])
        joints += rng.uniform(-4.0, 4.0, size=2) - joints.mean(axis=0)
        return 0.5 * (joints[:-1] + joints[1:]), angles

    def _build(self, centres: np.ndarray, angles: np.ndarray) -> None:
        self.space = make_space(self.physics)
        half = 0.5 * self.segment_length
        mass = self.segment_length
        no_self_collision = pymunk.ShapeFilter(group=1)
        self.bodies, shapes = [], []
        for centre, angle in zip(centres, angles):
            body = pymunk.Body(mass, pymunk.moment_for_segment(mass, (-half, 0.0), (half, 0.0), 0.5))
            body.position, body.angle = tuple(centre), float(angle)
            shape = pymunk.Segment(body, (-half, 0.0), (half, 0.0), 0.5)
            shape.filter = no_self_collision
            self.bodies.append(body)
            shapes.append(shape)
        self.space.add(*self.bodies, *shapes)
        for body in self.bodies:
            add_table_friction(self.space, body, self.physics.table_friction)
        for first, second in zip(self.bodies[:-1], self.bodies[1:]):
            self.space.add(pymunk.PivotJoint(first, second, (half, 0.0), (-half, 0.0)))
        self.gripper = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
        self.gripper.position = self.bodies[self.grasped_segment].position
        self.space.add(self.gripper, pymunk.PivotJoint(self.gripper, self.bodies[self.grasped_segment], (0, 0), (0, 0)))

    def reset(self, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        self._build(*self._random_shape(rng))
        self._script_target = rng.uniform(-12.0, 12.0, size=2)
        return self.state

    def step(self, action: np.ndarray) -> np.ndarray:
        move_within(self.space, self.gripper, self.clip_action(action), WORKSPACE_CM, self.physics)
        return self.state

    @property
    def state(self) -> np.ndarray:
        return np.array([c for body in self.bodies for c in body.position], dtype=np.float64)

    def joint_gaps(self) -> np.ndarray:
        """Distance (cm) between the touching ends of neighbouring segments (0 for a perfect pin)."""
        half = 0.5 * self.segment_length
        ends = [(b.local_to_world((-half, 0.0)), b.local_to_world((half, 0.0))) for b in self.bodies]
        return np.array([np.hypot(*(np.array(a[1]) - np.array(b[0]))) for a, b in zip(ends[:-1], ends[1:])])

    def cost(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Summed L1 distance of segment centres to the goal centres (goal shape ``(segments * 2,)``)."""
        return np.abs(np.asarray(state) - np.asarray(goal).reshape(-1)).sum(axis=-1)

    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        """A random rope shape (flat centres)."""
        return self._random_shape(rng)[0].reshape(-1)

    def scripted_action(self, rng: np.random.Generator) -> np.ndarray:
        """Drags the grasped segment towards a (now and then re-drawn) point, with noise."""
        if rng.random() < 0.15:
            self._script_target = rng.uniform(-12.0, 12.0, size=2)
        heading = self._script_target - np.array(self.gripper.position)
        command = heading / max(np.linalg.norm(heading), 1e-9) * self.action_bound
        return np.clip(
            command + rng.normal(0.0, 0.3 * self.action_bound, size=2), -self.action_bound, self.action_bound
        )

    def render(self, path: Path | str, goal: np.ndarray | None = None) -> Path:
        from sparse_dynamics.tasks.render import draw_scene

        half = 0.5 * self.segment_length
        lines = [np.array([b.local_to_world((-half, 0.0)), b.local_to_world((half, 0.0))]) for b in self.bodies]
        grasped = np.array(self.bodies[self.grasped_segment].position)
        goals = [] if goal is None else [(xy, 0.4) for xy in np.asarray(goal).reshape(-1, 2)]
        return draw_scene(
            path,
            limits=(-WORKSPACE_CM, WORKSPACE_CM, -WORKSPACE_CM, WORKSPACE_CM),
            lines=lines,
            circles=[(grasped, 0.8, "tab:blue")],
            goal_circles=goals,
            title="rope: segments, gripper (blue), goal centres (dashed)",
        )
