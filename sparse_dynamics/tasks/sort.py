"""Object sorting: a circular pusher pushes discs of two classes towards class target points.

State ``(pusher x, pusher y, disc_1 x, disc_1 y, ...)`` in cm (discs are round, so no
angle is needed); action = pusher displacement per control step (cm). The goal holds one
target point per class; the cost is the L1 distance of every disc to its class's target.
After the compositional sorting task of Liu et al. (NeurIPS 2023, sec. 5), whose
dynamics are learned by a graph network over the pusher and the objects
(`GraphLayout`: node 0 = pusher, type 0; disc nodes have type 1 + class).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymunk

from sparse_dynamics.tasks.base import GraphLayout, Task, check_count, check_size
from sparse_dynamics.tasks.physics import PhysicsConfig, add_table_friction, make_space, max_penetration, move_within

__all__ = ["SortTask"]

WORKSPACE_CM = 25.0
MAX_OBJECTS = 12
"""Most discs a sort task may have."""
PLACEMENT_ATTEMPTS = 10000
"""Random draws `SortTask.reset` tries per disc before it gives up (discs too large to fit)."""
_COLOURS = ("tab:red", "tab:orange", "tab:purple")


class SortTask(Task):
    """Pushing discs of several classes towards their class targets.

    Args:
        objects: Number of discs (their classes alternate 0, 1, 0, ...).
        classes: Number of classes (1 to 3).
        disc_radius: Disc radius (cm).
        action_bound: Largest pusher displacement per control step and axis (cm).
        pusher_radius: Pusher radius (cm).
        physics: Timing and friction constants.
    """

    name = "sort"
    action_names = ("pusher_dx_cm", "pusher_dy_cm")

    def __init__(
        self,
        objects: int = 3,
        classes: int = 2,
        disc_radius: float = 2.5,
        action_bound: float = 2.0,
        pusher_radius: float = 1.5,
        physics: PhysicsConfig | None = None,
    ) -> None:
        self.objects = check_count(self.name, "objects", objects, 1, MAX_OBJECTS)
        self.classes = check_count(self.name, "classes", classes, 1, 3)
        self.labels = tuple(i % self.classes for i in range(self.objects))
        self.disc_radius = check_size(self.name, "disc_radius", disc_radius)
        self.pusher_radius = check_size(self.name, "pusher_radius", pusher_radius)
        self.action_bound = check_size(self.name, "action_bound", action_bound)
        self.physics = physics or PhysicsConfig()
        self.state_names = ("pusher_x_cm", "pusher_y_cm") + tuple(
            f"disc{i}_{axis}_cm" for i in range(self.objects) for axis in "xy"
        )
        self.reset(0)

    def options(self) -> dict:
        return {
            "objects": self.objects,
            "classes": self.classes,
            "disc_radius": self.disc_radius,
            "action_bound": self.action_bound,
            "pusher_radius": self.pusher_radius,
        }

    @property
    def graph_layout(self) -> GraphLayout:
        return GraphLayout(self.objects + 1, 2, (0, *(1 + label for label in self.labels)), 1 + self.classes, 0)

    def _build(self, positions: np.ndarray) -> None:
        self.space = make_space(self.physics)
        self.pusher = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
        self.pusher.position = tuple(positions[0])
        self.pusher_shape = pymunk.Circle(self.pusher, self.pusher_radius)
        self.discs, self.disc_shapes = [], []
        mass = np.pi * self.disc_radius**2
        for xy in positions[1:]:
            body = pymunk.Body(mass, pymunk.moment_for_circle(mass, 0.0, self.disc_radius))
            body.position = tuple(xy)
            self.discs.append(body)
            self.disc_shapes.append(pymunk.Circle(body, self.disc_radius))
        for shape in [self.pusher_shape, *self.disc_shapes]:
            shape.friction, shape.elasticity = self.physics.contact_friction, 0.0
        self.space.add(self.pusher, self.pusher_shape, *self.discs, *self.disc_shapes)
        for body in self.discs:
            add_table_friction(self.space, body, self.physics.table_friction)

    def reset(self, seed: int) -> np.ndarray:
        """Discs at random non-overlapping places in ``[-10, 10]^2``; the pusher at a free place."""
        rng = np.random.default_rng(seed)
        radii = [self.pusher_radius] + [self.disc_radius] * self.objects
        placed: list[np.ndarray] = []
        for index, radius in enumerate(radii):
            box = 15.0 if index == 0 else 10.0
            for _ in range(PLACEMENT_ATTEMPTS):
                candidate = rng.uniform(-box, box, size=2)
                if all(np.linalg.norm(candidate - other) > radius + radii[j] + 0.5 for j, other in enumerate(placed)):
                    placed.append(candidate)
                    break
            else:
                raise ValueError(
                    f"sort: cannot place {self.objects} discs of radius {self.disc_radius} cm and a pusher "
                    f"of radius {self.pusher_radius} cm apart in the table (seed {seed}); use fewer or "
                    f"smaller discs"
                )
        self._build(np.stack(placed))
        self._script_target = int(rng.integers(self.objects))
        return self.state

    def set_state(self, state: np.ndarray) -> np.ndarray:
        """Places pusher and discs at ``state`` (at rest); returns the state."""
        self._build(np.asarray(state, dtype=np.float64).reshape(-1, 2))
        return self.state

    def step(self, action: np.ndarray) -> np.ndarray:
        move_within(self.space, self.pusher, self.clip_action(action), WORKSPACE_CM, self.physics)
        return self.state

    @property
    def state(self) -> np.ndarray:
        return np.array([*self.pusher.position, *(c for body in self.discs for c in body.position)], dtype=np.float64)

    def penetration(self) -> float:
        """Largest overlap depth among pusher and discs (cm)."""
        return max_penetration([self.pusher_shape, *self.disc_shapes])

    def cost(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Sum over discs of the L1 distance to their class target; goal shape ``(classes, 2)``."""
        state, goal = np.asarray(state), np.asarray(goal).reshape(self.classes, 2)
        discs = state[..., 2:].reshape(*state.shape[:-1], self.objects, 2)
        return np.abs(discs - goal[list(self.labels)]).sum(axis=(-1, -2))

    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        """One target point per class, spread along x."""
        xs = np.linspace(-12.0, 12.0, self.classes) if self.classes > 1 else np.zeros(1)
        return np.stack([xs, rng.uniform(-5.0, 5.0, size=self.classes)], axis=1)

    def scripted_action(self, rng: np.random.Generator) -> np.ndarray:
        """Heads for a (now and then re-drawn) disc, with noise: mostly pushes."""
        if rng.random() < 0.1:
            self._script_target = int(rng.integers(self.objects))
        state = self.state
        heading = state[2 + 2 * self._script_target : 4 + 2 * self._script_target] - state[:2]
        command = heading / max(np.linalg.norm(heading), 1e-9) * self.action_bound
        return np.clip(
            command + rng.normal(0.0, 0.3 * self.action_bound, size=2), -self.action_bound, self.action_bound
        )

    def render(self, path: Path | str, goal: np.ndarray | None = None) -> Path:
        from sparse_dynamics.tasks.render import draw_scene

        state = self.state.reshape(-1, 2)
        circles = [(state[0], self.pusher_radius, "tab:blue")] + [
            (xy, self.disc_radius, _COLOURS[label]) for xy, label in zip(state[1:], self.labels)
        ]
        goals = [] if goal is None else [(xy, 2 * self.disc_radius) for xy in np.asarray(goal).reshape(-1, 2)]
        return draw_scene(
            path,
            limits=(-WORKSPACE_CM, WORKSPACE_CM, -WORKSPACE_CM, WORKSPACE_CM),
            circles=circles,
            goal_circles=goals,
            title="sort: discs, pusher (blue), targets (dashed)",
        )
