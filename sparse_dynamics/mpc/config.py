"""The settings of model-predictive control on learned ReLU dynamics (torch-free, so ``--help`` stays fast).

One config per piece, each setting declared once (docs/architecture.md, "Configs and
commands"; docs/style.md, rule 4):

- `ProblemConfig`: the planning problem every planner solves (horizon, cost, rate limit),
  so that planners compared on one task optimise the same thing;
- `MIPConfig`: the exact mixed-integer planner (`sparse_dynamics.mpc.MIPController`);
- `MPPIConfig`, `CEMConfig`, `GradientConfig`: the sampling and gradient baselines
  (`sparse_dynamics.mpc.planners`);
- `ClosedLoopConfig`: receding-horizon episodes against the task's true simulator;
- `ControlConfig`: one planner in closed loop (``dynamics control``);
  `ComparisonConfig`: several planners on the same episodes (``dynamics compare``).

The commands are generated from `ControlConfig` / `ComparisonConfig` themselves
(`sparse_dynamics.cli_control`): the episodes are the field ``loop`` (options ``--task``,
``--episodes``, ``--steps``, ``--success-cost``), because a command's config.toml reserves
the ``[run]`` table (seed, threads); the network is ``--model`` like ``dynamics
sparsify``'s.

`PLANNER_NAMES` lists the planners a `ControlConfig` / `ComparisonConfig` can name;
`NETWORK_KINDS` the networks of a comparison (the sparsified one and an optional dense
one); `COST_KINDS` the costs. HiGHS solves MILPs and convex QPs but no MIQPs, so the quadratic
cost is only solvable by the MIP planner when every ReLU is proven stable (then the
problem is a QP); otherwise it reports ``status = "unsupported"``: use ``cost = "l1"``.
"""

from __future__ import annotations

import dataclasses

from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, setting
from sparse_dynamics.tasks import TASK_NAMES

__all__ = [
    "COST_KINDS",
    "NETWORK_KINDS",
    "PLANNER_NAMES",
    "CEMConfig",
    "ClosedLoopConfig",
    "ComparisonConfig",
    "ControlConfig",
    "GradientConfig",
    "MIPConfig",
    "MPPIConfig",
    "ProblemConfig",
]

COST_KINDS = ("l1", "quadratic")
PLANNER_NAMES = ("mip", "mppi", "cem", "gd")
NETWORK_KINDS = ("sparse", "dense")


@config
class ProblemConfig:
    """The finite-horizon problem solved at every control step.

    Attributes:
        horizon: Planned control steps H.
        cost: l1 (sum of weighted absolute errors, a MILP) or quadratic (squares; a QP only
            when no ReLU needs a binary, HiGHS solves no MIQP).
        action_weight: Weight of the action cost |u|_1 (or u^2) per step (pwa's task weight is 0.1).
        terminal_weight: Factor on the state cost of the last planned step (1 = like the others).
        rate_limit: Largest change of each action entry between consecutive steps (0 = no limit).
        box_penalty: Cost per unit of state-box violation for the sampling and gradient planners
            (for the MIP the state box is a hard constraint).
    """

    horizon: int = setting(5, ge=1, le=50)
    cost: str = setting("l1", choices=COST_KINDS)
    action_weight: float = setting(0.1, ge=0.0)
    terminal_weight: float = setting(1.0, ge=0.0)
    rate_limit: float = setting(0.0, ge=0.0)
    box_penalty: float = setting(100.0, ge=0.0)


@config
class MIPConfig:
    """The exact mixed-integer planner: big-M ReLUs with bounds from propagation, solved by HiGHS.

    Attributes:
        eliminate_stable: Encode ReLUs proven stable over the horizon as linear (no binary).
        lp_tightening: Tighten every neuron's bounds by two LPs over the relaxation of the earlier layers.
        time_limit_seconds: Wall-clock limit of a whole step (bounds, LP tightening, solve); when it
            hits, the best plan found so far is used.
        deadline_grace_seconds: The controller interrupts a solve this long after the step's time limit.
        mip_gap: Relative MIP gap at which HiGHS stops (0 = prove optimality).
        threads: HiGHS threads (set once per process).
        warm_start: Start HiGHS from the previous plan shifted by one step.
    """

    eliminate_stable: bool = setting(True)
    lp_tightening: bool = setting(True)
    time_limit_seconds: float = setting(1.0, gt=0.0)
    deadline_grace_seconds: float = setting(0.05, ge=0.0)
    mip_gap: float = setting(1e-4, ge=0.0, lt=1.0, cli="--gap")
    threads: int = setting(1, ge=1)
    warm_start: bool = setting(True)


@config
class MPPIConfig:
    """Model-predictive path integral control (Williams et al., ICRA 2016), batched in torch.

    Attributes:
        samples: Action sequences sampled per iteration.
        iterations: Updates of the mean per step (when time_budget_seconds is 0).
        temperature: lambda of the exponential weights exp(-(cost - min cost) / lambda).
        noise_std: Standard deviation of the action noise, as a fraction of the action range.
        time_budget_seconds: Wall-clock budget per step (0 = run the given iterations).
        seed: Seeds the planner's torch generator.
    """

    samples: int = setting(256, ge=2)
    iterations: int = setting(8, ge=1)
    temperature: float = setting(0.05, gt=0.0)
    noise_std: float = setting(0.25, gt=0.0)
    time_budget_seconds: float = setting(0.0, ge=0.0)
    seed: int = 0


@config
class CEMConfig:
    """The cross-entropy method with elites and momentum, batched in torch.

    Attributes:
        samples: Action sequences sampled per iteration.
        elites: Lowest-cost samples that refit the Gaussian.
        iterations: Refits per step (when time_budget_seconds is 0).
        momentum: Share of the old mean and std kept at each refit.
        initial_std: Initial standard deviation, as a fraction of the action range.
        min_std: Floor of the standard deviation, as a fraction of the action range.
        time_budget_seconds: Wall-clock budget per step (0 = run the given iterations).
        seed: Seeds the planner's torch generator.
    """

    samples: int = setting(256, ge=2)
    elites: int = setting(16, ge=1)
    iterations: int = setting(8, ge=1)
    momentum: float = setting(0.1, ge=0.0, lt=1.0)
    initial_std: float = setting(0.3, gt=0.0)
    min_std: float = setting(0.01, ge=0.0)
    time_budget_seconds: float = setting(0.0, ge=0.0)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.elites > self.samples:
            raise ConfigError(
                f"CEMConfig.elites ({self.elites}) must not exceed samples ({self.samples})", field="elites"
            )


@config
class GradientConfig:
    """Shooting by gradient descent: Adam on action sequences through the torch model.

    Attributes:
        restarts: Action sequences optimised in parallel (the shifted previous plan and random ones).
        iterations: Adam steps per control step (when time_budget_seconds is 0).
        learning_rate: Adam step size, as a fraction of the action range.
        time_budget_seconds: Wall-clock budget per step (0 = run the given iterations).
        seed: Seeds the random restarts.
    """

    restarts: int = setting(16, ge=1)
    iterations: int = setting(50, ge=1)
    learning_rate: float = setting(0.05, gt=0.0)
    time_budget_seconds: float = setting(0.0, ge=0.0)
    seed: int = 0


@config
class ClosedLoopConfig:
    """Receding-horizon episodes against the task's true simulator.

    Attributes:
        task: Task name.
        episodes: Episodes (start state from task.reset(seed), goal from task.sample_goal).
        steps: Control steps per episode.
        success_cost: An episode succeeds when the final task cost is at most this (0 = the task's default).
        seed: Seeds the start states and goals.
    """

    task: str = setting("pwa", choices=TASK_NAMES)
    episodes: int = setting(20, ge=1)
    steps: int = setting(20, ge=1)
    success_cost: float = setting(0.0, ge=0.0)
    seed: int = 0


@config
class ControlConfig:
    """One planner in closed loop against the task's simulator (``dynamics control``).

    Attributes:
        network: The compact dynamics network to plan with, as ``dynamics sparsify`` writes it
            (``compact_dynamics.npz``; for sort / rope ``compact_edge.npz`` or ``compact_node.npz``
            or their folder, unrolled into one network).
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
            raise ConfigError("ControlConfig.network: give the compact network (.npz) to plan with", field="network")


@config
class ComparisonConfig:
    """Every planner on the same start states, goals, learned model and per-step budget (``dynamics compare``).

    The MIP plans on the sparsified network (``mip_sparse``) and, when ``dense_network``
    is given, on the dense one too (``mip_dense``); the sampling and gradient planners plan
    on the network ``baseline_network`` names.

    Attributes:
        network: The sparsified compact network, as ``dynamics sparsify`` writes it (``compact_dynamics.npz``; for
            sort / rope ``compact_edge.npz`` or ``compact_node.npz`` or their folder, unrolled into one network).
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
            raise ConfigError("ComparisonConfig.network: give the compact network (.npz) to plan with", field="network")
        if not self.planners:
            raise ConfigError("ComparisonConfig.planners: name at least one planner", field="planners")
        if len(set(self.planners)) != len(self.planners):
            raise ConfigError(f"ComparisonConfig.planners: {self.planners} names a planner twice", field="planners")
        if self.baseline_network == "dense" and not self.dense_network:
            raise ConfigError(
                "ComparisonConfig.baseline_network: 'dense' needs the dense network (--dense-model)",
                field="baseline_network",
            )
        if self.dense_network and "mip" not in self.planners and self.baseline_network != "dense":
            raise ConfigError(
                "ComparisonConfig.dense_network: no planner would use it (add mip to --planners or set "
                "--baseline-network dense)",
                field="dense_network",
            )

    def planner_configs(self) -> dict[str, object]:
        """Each compared planner's settings, with ``step_budget_seconds`` applied to all of them."""
        configs = {"mip": self.mip, "mppi": self.mppi, "cem": self.cem, "gd": self.gd}
        if self.step_budget_seconds > 0:
            budget = self.step_budget_seconds
            configs = {
                name: dataclasses.replace(value, time_limit_seconds=budget)
                if name == "mip"
                else dataclasses.replace(value, time_budget_seconds=budget)
                for name, value in configs.items()
            }
        return {name: configs[name] for name in self.planners}
