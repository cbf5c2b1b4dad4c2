"""The settings of ``dynamics control`` and ``dynamics compare`` (torch-free, so ``--help`` stays fast).

The planners' settings are those of `sparse_dynamics.mpc.config`; these command configs
only wrap them, because a command's config.toml reserves the ``[run]`` table (seed,
threads) that `ControlConfig.run` / `ComparisonConfig.run` would need: the episodes are
the field ``loop`` here (options ``--task``, ``--episodes``, ``--steps``,
``--success-cost``), and `ControlRunConfig.control_config` /
`CompareRunConfig.comparison_config` give the library's configs. The network path is
``--model`` like ``dynamics sparsify``'s.
"""

from __future__ import annotations

from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, setting
from sparse_dynamics.mpc.config import (
    PLANNER_NAMES,
    CEMConfig,
    ClosedLoopConfig,
    ComparisonConfig,
    ControlConfig,
    GradientConfig,
    MIPConfig,
    MPPIConfig,
    ProblemConfig,
)

__all__ = ["NETWORK_KINDS", "CompareRunConfig", "ControlRunConfig"]

NETWORK_KINDS = ("sparse", "dense")


@config
class ControlRunConfig:
    """One planner in closed loop against the task's simulator (``dynamics control``).

    Attributes:
        network: The compact dynamics network to plan with (``compact_dynamics.npz`` written by ``dynamics sparsify``).
        planner: Which planner plans: mip, mppi, cem or gd.
        loop: The episodes.
        problem: The planning problem.
        mip: Settings of the MIP planner.
        mppi: Settings of MPPI.
        cem: Settings of CEM.
        gd: Settings of gradient shooting.
    """

    network: str = setting(cli="--model")
    planner: str = setting("mip", choices=PLANNER_NAMES)
    loop: ClosedLoopConfig = setting(factory=ClosedLoopConfig)
    problem: ProblemConfig = setting(factory=ProblemConfig)
    mip: MIPConfig = setting(factory=MIPConfig, prefix="mip-")
    mppi: MPPIConfig = setting(factory=MPPIConfig, prefix="mppi-")
    cem: CEMConfig = setting(factory=CEMConfig, prefix="cem-")
    gd: GradientConfig = setting(factory=GradientConfig, prefix="gd-")

    def __post_init__(self) -> None:
        if not self.network:
            raise ConfigError("ControlRunConfig.network: give the compact network (.npz) to plan with", field="network")

    def control_config(self) -> ControlConfig:
        """The library's `ControlConfig` of these settings."""
        return ControlConfig(
            network=self.network, planner=self.planner, run=self.loop, problem=self.problem,
            mip=self.mip, mppi=self.mppi, cem=self.cem, gd=self.gd,
        )  # fmt: skip


@config
class CompareRunConfig:
    """Every planner on the same start states, goals and per-step budget (``dynamics compare``).

    Attributes:
        network: The sparsified compact network (``compact_dynamics.npz`` written by ``dynamics sparsify``).
        dense_network: A dense compact network of the same task; when given, the MIP also plans on it (mip_dense).
        planners: The planners compared (mip, mppi, cem, gd); mip runs on each network given.
        baseline_network: The network the sampling and gradient planners plan on: sparse or dense.
        step_budget_seconds: One wall-clock budget per step for every planner (the MIP's time
            limit and the baselines' budget; 0 = each planner's own settings).
        loop: The episodes.
        problem: The planning problem.
        mip: Settings of the MIP planner.
        mppi: Settings of MPPI.
        cem: Settings of CEM.
        gd: Settings of gradient shooting.
    """

    network: str = setting(cli="--model")
    dense_network: str = setting("", cli="--dense-model")
    planners: tuple[str, ...] = setting(PLANNER_NAMES, choices=PLANNER_NAMES)
    baseline_network: str = setting("sparse", choices=NETWORK_KINDS)
    step_budget_seconds: float = setting(0.25, ge=0.0)
    loop: ClosedLoopConfig = setting(factory=ClosedLoopConfig)
    problem: ProblemConfig = setting(factory=ProblemConfig)
    mip: MIPConfig = setting(factory=MIPConfig, prefix="mip-")
    mppi: MPPIConfig = setting(factory=MPPIConfig, prefix="mppi-")
    cem: CEMConfig = setting(factory=CEMConfig, prefix="cem-")
    gd: GradientConfig = setting(factory=GradientConfig, prefix="gd-")

    def __post_init__(self) -> None:
        if not self.network:
            raise ConfigError("CompareRunConfig.network: give the compact network (.npz) to plan with", field="network")
        if self.baseline_network == "dense" and not self.dense_network:
            raise ConfigError(
                "CompareRunConfig.baseline_network: 'dense' needs the dense network (--dense-model)",
                field="baseline_network",
            )
        if self.dense_network and "mip" not in self.planners and self.baseline_network != "dense":
            raise ConfigError(
                "CompareRunConfig.dense_network: no planner would use it (add mip to --planners or set "
                "--baseline-network dense)",
                field="dense_network",
            )
        self.comparison_config()  # the planners' own checks (none empty, none twice)

    def comparison_config(self) -> ComparisonConfig:
        """The library's `ComparisonConfig` of these settings (on the sparsified network)."""
        return ComparisonConfig(
            network=self.network, planners=self.planners, step_budget_seconds=self.step_budget_seconds,
            run=self.loop, problem=self.problem, mip=self.mip, mppi=self.mppi, cem=self.cem, gd=self.gd,
        )  # fmt: skip
