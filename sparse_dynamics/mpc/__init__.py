"""Model-predictive control on learned ReLU dynamics: exact mixed-integer MPC and its baselines.

After Liu et al., "Model-Based Control with Sparse Neural Dynamics" (NeurIPS 2023):
planning on a sparsified ReLU network (`sparse_dynamics.CompactNetwork`) is a mixed-integer
program with one binary per ReLU. This package builds it better than a generic encoder
(OMLT): bounds from interval propagation over the horizon, optionally tightened by LPs
(`propagate_bounds`), so that ReLUs proven stable need no binary and big-M constants are
as small as the bounds (`MIPEncoding`); the Pyomo model is built once and updated per
step, solved by HiGHS with warm starts, a time limit and a hard deadline
(`MIPController`). Sampling and gradient baselines (`MPPIPlanner`, `CEMPlanner`,
`GradientPlanner`) plan on the same network and cost through the same `Planner`
interface; `run_episode` / `evaluate_planners` run them in closed loop against the true
simulator. Settings: `sparse_dynamics.mpc.config` (torch-free).

Public names are imported lazily (PEP 562; docs/style.md, rule 2): importing the package
imports neither torch nor Pyomo.
"""

from __future__ import annotations

from sparse_core.infra.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "CEMConfig": "config",
    "ClosedLoopConfig": "config",
    "ComparisonConfig": "config",
    "ControlConfig": "config",
    "GradientConfig": "config",
    "MIPConfig": "config",
    "MPPIConfig": "config",
    "ProblemConfig": "config",
    "ControlProblem": "problem",
    "problem_for_task": "problem",
    "rollout": "problem",
    "HorizonBounds": "bounds",
    "propagate_bounds": "bounds",
    "MIPEncoding": "encoder",
    "MIPController": "controller",
    "Planner": "base",
    "MPPIPlanner": "planners",
    "CEMPlanner": "planners",
    "GradientPlanner": "planners",
    "make_planner": "planners",
    "ExactPWAPlanner": "oracle",
    "EpisodeResult": "closed_loop",
    "run_episode": "closed_loop",
    "evaluate_planners": "closed_loop",
    "compare_planners": "closed_loop",
    "run_control": "closed_loop",
    "Comparison": "closed_loop",
    "compare_episodes": "closed_loop",
    "run_episodes": "closed_loop",
    "comparison_planners": "closed_loop",
    "NETWORK_KINDS": "config",
    "load_dynamics": "graph",
    "unroll_graph": "graph",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
