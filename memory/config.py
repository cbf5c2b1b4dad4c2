"""Frozen configurations of the memory: the code selection algorithm, a level, a hierarchy, preprocessing.

The values of :class:`CSAConfig` follow the code selection algorithm (CSA) of Rinkus
(2010, Frontiers in Neuroanatomy 4:17, Table 1 and Fig. 2; 2014, Frontiers in
Computational Neuroscience 8:160, Fig. 4). G⁻ = 0.1, γ = 2 and χ = 100 are the values
seen in ports of the reference code; the sigmoid is steeper (λ = 28) than the ports'
λ = 4 so that a familiar input's stored cell wins its module with probability close to 1.

:class:`CSASettings` holds the part of the CSA that every command of ``sparseworks
memory`` shares (one memory, one set of settings): the familiarity → choice mapping,
the normalisation of the U sums and the freezing rule. Only the sizes (Q, K) of the macs
differ between commands, each saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, setting

__all__ = ["NORMALISATIONS", "CSAConfig", "CSASettings", "HierarchyConfig", "LevelConfig", "PreprocessConfig"]

NORMALISATIONS = ("max", "active")
FILTERS = ("none", "edges", "skeleton")


@config
class CSASettings:
    """The code selection settings every memory command shares (one memory, one set of settings).

    Attributes:
        g_minus: G-, the global familiarity below which a code is chosen at random.
        gamma: gamma, the exponent of the expansivity's rise with G.
        chi: chi, the expansivity's scale (eta reaches 1 + chi K at G = 1).
        sigmoid_lambda: lambda, the steepness of the V -> mu sigmoid.
        sigmoid_center: c, the input match V (0 to 1) at the midpoint of the V -> mu sigmoid.
        normalise: how U sums are normalised: max (by the larger of the active inputs and
            the cell's set weights, so that cells which absorbed many inputs are not
            favoured) or active (by the active inputs, as in Sparsey).
        freeze_fraction: a mac stops learning once this fraction of its U weights is set
            (1: never before every weight is set).
    """

    g_minus: float = setting(0.1, ge=0.0, lt=1.0)
    gamma: float = setting(2.0, gt=0.0)
    chi: float = setting(100.0, ge=0.0)
    sigmoid_lambda: float = setting(28.0, gt=0.0)
    sigmoid_center: float = setting(0.9, ge=0.0, le=1.0)
    normalise: str = setting("max", choices=NORMALISATIONS)
    freeze_fraction: float = setting(1.0, gt=0.0, le=1.0)

    def mac(self, cms: int, cells_per_cm: int, **extra) -> CSAConfig:
        """The full CSA configuration of a mac of Q = ``cms`` modules of K = ``cells_per_cm`` cells."""
        return CSAConfig(
            cms=cms,
            cells_per_cm=cells_per_cm,
            g_minus=self.g_minus,
            gamma=self.gamma,
            chi=self.chi,
            sigmoid_lambda=self.sigmoid_lambda,
            sigmoid_center=self.sigmoid_center,
            normalise=self.normalise,
            freeze_fraction=self.freeze_fraction,
            **extra,
        )


@config
class CSAConfig:
    """Parameters of the code selection algorithm of one macrocolumn (mac).

    The defaults of the shared fields are those of :class:`CSASettings`.

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

    cms: int = setting(8, ge=1)
    cells_per_cm: int = setting(8, ge=2)
    g_minus: float = setting(0.1, ge=0.0, lt=1.0)
    gamma: float = setting(2.0, gt=0.0)
    chi: float = setting(100.0, ge=0.0)
    sigmoid_lambda: float = setting(28.0, gt=0.0)
    sigmoid_center: float = setting(0.9, ge=0.0, le=1.0)
    freeze_fraction: float = setting(1.0, gt=0.0, le=1.0)
    min_active: int = setting(1, ge=0)
    max_active: int = setting(0, ge=0)
    normalise: str = setting("max", choices=NORMALISATIONS)

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
        if len(self.grid) != 2 or len(self.rf) != 2 or min(self.grid) < 1 or min(self.rf) < 1:
            raise ConfigError(
                f"LevelConfig: expected positive (rows, cols) grid and rf, found grid={self.grid}, rf={self.rf}"
            )
        if self.h_radius < -1:
            raise ConfigError(
                f"LevelConfig.h_radius: expected -1 (no H inputs) or a radius >= 0, found {self.h_radius}"
            )

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
            raise ConfigError("HierarchyConfig.levels: expected at least one level, found none")
        if len(self.input_shape) != 2 or min(self.input_shape) < 1:
            raise ConfigError(f"HierarchyConfig.input_shape: expected positive (rows, cols), found {self.input_shape}")
        below = self.input_shape
        for number, level in enumerate(self.levels):
            if level.rf[0] > below[0] or level.rf[1] > below[1]:
                raise ConfigError(
                    f"HierarchyConfig.levels[{number}].rf: expected an RF within the {below[0]}x{below[1]} "
                    f"grid below, found {level.rf[0]}x{level.rf[1]}"
                )
            below = level.grid


@config
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
    shape: tuple[int, int] = setting((0, 0), ge=0)
    threshold: float = setting(0.5, gt=0.0, lt=1.0)
    filter: str = setting("none", choices=FILTERS)
    dilate: int = setting(0, ge=0)

    def __post_init__(self) -> None:
        if len(self.shape) != 2 or (0 in self.shape and tuple(self.shape) != (0, 0)):
            raise ConfigError(f"PreprocessConfig.shape: expected (rows, cols) > 0 or (0, 0), found {self.shape}")
