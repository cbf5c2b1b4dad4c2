"""Frozen configurations of the memory: the code selection algorithm, a level, a hierarchy, preprocessing.

The values of :class:`CSAConfig` follow the code selection algorithm (CSA) of Rinkus
(2010, Frontiers in Neuroanatomy 4:17, Table 1 and Fig. 2; 2014, Frontiers in
Computational Neuroscience 8:160, Fig. 4). G⁻ = 0.1, γ = 2 and χ = 100 are the values
seen in ports of the reference code; the sigmoid is steeper (λ = 28) than the ports'
λ = 4 so that a familiar input's stored cell wins its module with probability close to 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CSAConfig", "HierarchyConfig", "LevelConfig", "PreprocessConfig"]


@dataclass(frozen=True)
class CSAConfig:
    """Parameters of the code selection algorithm of one macrocolumn (mac).

    Attributes:
        cms: Q, the number of competitive modules (CMs) per mac; a code has Q winners.
        cells_per_cm: K, the number of binary cells per CM.
        g_minus: G⁻, the global familiarity below which the code is chosen at random.
        gamma: γ, the exponent of the expansivity's rise with G.
        chi: χ, the expansivity's scale (η reaches 1 + χ·K at G = 1).
        sigmoid_lambda: λ, the steepness of the V → μ sigmoid.
        sigmoid_center: c, the V at the sigmoid's midpoint.
        freeze_fraction: a mac stops learning once this fraction of its U weights is set.
        min_active: a mac is active only with at least this many active inputs in its RF.
        max_active: ... and at most this many (0: no upper bound).
        normalise: how U sums become u in [0, 1]: "active" divides by the number of active
            inputs (Rinkus 2014, Table 1, step 2); "max" by the larger of that and the
            cell's number of set U weights, so that cells which have absorbed many
            inputs (and would match anything) are not favoured.
    """

    cms: int = 8
    cells_per_cm: int = 8
    g_minus: float = 0.1
    gamma: float = 2.0
    chi: float = 100.0
    sigmoid_lambda: float = 28.0
    sigmoid_center: float = 0.5
    freeze_fraction: float = 0.5
    min_active: int = 1
    max_active: int = 0
    normalise: str = "active"

    def __post_init__(self) -> None:
        if self.cms < 1 or self.cells_per_cm < 2:
            raise ValueError(f"CSAConfig: expected cms >= 1 and cells_per_cm >= 2, found cms={self.cms}, cells_per_cm={self.cells_per_cm}")
        if not 0.0 <= self.g_minus < 1.0:
            raise ValueError(f"CSAConfig.g_minus: expected a value in [0, 1), found {self.g_minus}")
        if not 0.0 < self.freeze_fraction <= 1.0:
            raise ValueError(f"CSAConfig.freeze_fraction: expected a value in (0, 1], found {self.freeze_fraction}")
        if self.normalise not in ("active", "max"):
            raise ValueError(f"CSAConfig.normalise: expected 'active' or 'max', found {self.normalise!r}")
        if self.min_active < 0 or self.max_active < 0:
            raise ValueError(f"CSAConfig: expected min_active, max_active >= 0, found {self.min_active}, {self.max_active}")

    @property
    def cells(self) -> int:
        """Q·K, the number of cells of one mac."""
        return self.cms * self.cells_per_cm


@dataclass(frozen=True)
class LevelConfig:
    """One level of macs on a grid, each with a rectangular receptive field (RF).

    Attributes:
        grid: (rows, columns) of macs.
        rf: (rows, columns) of the RF, in units of the level below (pixels for level 0,
            macs for the levels above, whose RF takes all the cells of those macs).
        h_radius: horizontal (H) inputs come from the level's own macs within this grid
            (Chebyshev) distance at the previous frame; -1 for none.
        csa: the code selection parameters of every mac of the level.
    """

    grid: tuple[int, int] = (1, 1)
    rf: tuple[int, int] = (28, 28)
    h_radius: int = -1
    csa: CSAConfig = field(default_factory=CSAConfig)

    def __post_init__(self) -> None:
        if min(self.grid) < 1 or min(self.rf) < 1:
            raise ValueError(f"LevelConfig: expected positive grid and rf, found grid={self.grid}, rf={self.rf}")

    @property
    def n_macs(self) -> int:
        """The number of macs of the level."""
        return self.grid[0] * self.grid[1]


@dataclass(frozen=True)
class HierarchyConfig:
    """A hierarchy of levels over a binary input image (a frame).

    Attributes:
        input_shape: (rows, columns) of the binary input frame.
        levels: the levels, bottom first.
        use_d: top-down (D) inputs from the level above at the previous frame.
        backoff_threshold: at recognition, a mac whose G with all its input kinds (HUD)
            is below this tries HU and UD, then U alone.
        u_fallback: allow the U-only back-off (disable it to expose novelty of order).
    """

    input_shape: tuple[int, int] = (28, 28)
    levels: tuple[LevelConfig, ...] = (LevelConfig(),)
    use_d: bool = False
    backoff_threshold: float = 0.9
    u_fallback: bool = True

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError("HierarchyConfig.levels: expected at least one level, found none")
        below = self.input_shape
        for number, level in enumerate(self.levels):
            if level.rf[0] > below[0] or level.rf[1] > below[1]:
                raise ValueError(
                    f"HierarchyConfig.levels[{number}].rf: expected an RF within the {below[0]}x{below[1]} "
                    f"grid below, found {level.rf[0]}x{level.rf[1]}"
                )
            below = level.grid


@dataclass(frozen=True)
class PreprocessConfig:
    """How raw grey images become binary frames.

    Attributes:
        deskew: straighten slanted digits by their second moments.
        shape: (rows, cols) after resizing; (0, 0) keeps the input size.
        threshold: binarisation threshold as a fraction of each image's maximum.
        filter: "none", "edges" (boundary pixels of the binary shape) or "skeleton".
        dilate: grow the final binary image by this many pixels (tolerance to shifts).
    """

    deskew: bool = True
    shape: tuple[int, int] = (0, 0)
    threshold: float = 0.5
    filter: str = "none"
    dilate: int = 0

    def __post_init__(self) -> None:
        if self.filter not in ("none", "edges", "skeleton"):
            raise ValueError(f"PreprocessConfig.filter: expected 'none', 'edges' or 'skeleton', found {self.filter!r}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"PreprocessConfig.threshold: expected a fraction in (0, 1), found {self.threshold}")
