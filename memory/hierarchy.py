"""A hierarchy of levels of macs over binary frames: the memory model itself.

After Rinkus (2014, Frontiers in Computational Neuroscience 8:160, Fig. 3 and Table 1):
each frame is processed bottom-up; a mac's U inputs are the level below at this frame,
its H inputs its own level's codes at the previous frame, its D inputs the level above's
codes at the previous frame. One seeded :class:`numpy.random.Generator` per model.
"""

from __future__ import annotations

import numpy as np

from memory import geometry
from memory.config import HierarchyConfig
from memory.level import Level, LevelStep, codes_to_cells

__all__ = ["Hierarchy", "check_binary_frames"]


def check_binary_frames(frames: np.ndarray, shape: tuple[int, int], where: str = "frames") -> np.ndarray:
    """Validate a stack of binary frames and return it as bool.

    Raises:
        ValueError: wrong frame shape, an empty stack, or values other than 0 and 1.
    """
    frames = np.asarray(frames)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3 or frames.shape[1:] != tuple(shape):
        raise ValueError(
            f"{where}: expected frames of {shape[0]}x{shape[1]} pixels (array of shape (n, {shape[0]}, {shape[1]})), "
            f"found shape {frames.shape}; resize the images (memory.preprocess) or change input_shape"
        )
    if frames.shape[0] == 0:
        raise ValueError(f"{where}: expected at least one frame, found an empty array")
    if frames.dtype != bool:
        values = np.unique(frames)
        if not np.isin(values, (0, 1)).all():
            raise ValueError(
                f"{where}: expected binary input (0/1 or bool), found values such as {values[~np.isin(values, (0, 1))][:5].tolist()}; "
                "binarise first (memory.preprocess.binarise)"
            )
        frames = frames.astype(bool)
    return frames


class Hierarchy:
    """Levels of macs on grids with local receptive fields; learns in a single trial.

    Args:
        config: the hierarchy's configuration.
        seed: seed of the model's random generator (code sampling during learning).
    """

    def __init__(self, config: HierarchyConfig, seed: int = 0) -> None:
        self.config = config
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        below, below_cells = config.input_shape, 1
        rf_units = []
        for level in config.levels:
            rf_units.append(geometry.rf_units(level.grid, level.rf, below))
            below, below_cells = level.grid, level.csa.cells
        self.levels: list[Level] = []
        below_cells = 1
        for number, level in enumerate(config.levels):
            u_index = geometry.unit_cells(rf_units[number], below_cells)
            h_index = None
            if level.h_radius >= 0:
                h_index = geometry.unit_cells(geometry.neighbour_macs(level.grid, level.h_radius), level.csa.cells)
            d_index = None
            if config.use_d and number + 1 < len(config.levels):
                above = config.levels[number + 1]
                cover = geometry.covering_macs(rf_units[number + 1], level.n_macs)
                d_index = geometry.unit_cells(cover, above.csa.cells)
            self.levels.append(Level(level, u_index, h_index, d_index))
            below_cells = level.csa.cells
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (call at the start of every sequence)."""
        self._previous: list[np.ndarray | None] = [None] * len(self.levels)

    def _padded_cells(self, number: int, codes: np.ndarray) -> np.ndarray:
        cells = self.config.levels[number].csa.cells
        return np.r_[codes_to_cells(codes, self.config.levels[number].csa.cells_per_cm).ravel(), np.zeros(cells, bool)]

    def present(self, frame: np.ndarray, *, learn: bool) -> list[LevelStep]:
        """Process one binary frame through every level, bottom-up.

        Args:
            frame: a binary image of ``config.input_shape``.
            learn: learn (sample codes, set weights) or recognise (argmax, back-off).

        Returns:
            One :class:`LevelStep` per level.

        Shapes:
            frame: (rows, cols) → codes of level l: (macs_l, Q_l).
        """
        frame = check_binary_frames(frame, self.config.input_shape, "frame")[0]
        source = frame.ravel()
        steps: list[LevelStep] = []
        current: list[np.ndarray] = []
        for number, level in enumerate(self.levels):
            previous = self._previous[number]
            above = self._previous[number + 1] if number + 1 < len(self.levels) else None
            step = level.step(
                source,
                previous if level.index["h"] is not None else None,
                above if level.index["d"] is not None else None,
                learn=learn,
                rng=self.rng,
                backoff_threshold=self.config.backoff_threshold,
                u_fallback=self.config.u_fallback,
            )
            steps.append(step)
            padded = self._padded_cells(number, step.codes)
            current.append(padded)
            source = padded[: -self.config.levels[number].csa.cells]
        self._previous = current
        return steps

    def encode(self, frames: np.ndarray, *, learn: bool, sequence: bool = False) -> list[np.ndarray]:
        """Present a stack of frames: independent images, or one sequence.

        Args:
            frames: binary frames. (n, rows, cols)
            learn: learning or recognition.
            sequence: keep H/D context from frame to frame (else reset before each).

        Returns:
            Codes per level, each (n, macs_l, Q_l) int16.
        """
        frames = check_binary_frames(frames, self.config.input_shape)
        codes: list[list[np.ndarray]] = [[] for _ in self.levels]
        self.reset()
        for frame in frames:
            if not sequence:
                self.reset()
            for number, step in enumerate(self.present(frame, learn=learn)):
                codes[number].append(step.codes)
        return [np.stack(level_codes) for level_codes in codes]

    def state_dict(self) -> dict[str, np.ndarray]:
        """All levels' weights and freezing state, plus the generator state (as JSON text)."""
        state: dict[str, np.ndarray] = {}
        for number, level in enumerate(self.levels):
            state.update({f"level{number}.{key}": value for key, value in level.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`."""
        for number, level in enumerate(self.levels):
            prefix = f"level{number}."
            level.load_state_dict({key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)})
