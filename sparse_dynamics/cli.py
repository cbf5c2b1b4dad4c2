"""``sparseworks dynamics ...``: collect data, train, sparsify and compare dynamics models."""

from __future__ import annotations

from typing import Annotated

import typer

from sparse_core.infra.clikit import JsonOption, OutOption, SeedOption, ThreadsOption

app = typer.Typer(
    help="Learned dynamics of control tasks (pwa, push, sort, rope), sparsified neuron by neuron "
    "(Liu et al., NeurIPS 2023) for exact mixed-integer planning.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

TaskOption = Annotated[str, typer.Option("--task", help="Task: pwa, push, sort or rope.")]
EpisodesOption = Annotated[int, typer.Option(help="Episodes to collect (when --data is not given).", min=3)]
StepsOption = Annotated[int, typer.Option(help="Control steps per episode (10 Hz for the pymunk tasks).", min=1)]
DataOption = Annotated[str, typer.Option("--data", help="A dataset .npz written by `collect`; empty = collect one now.")]
HiddenOption = Annotated[str, typer.Option(help="Hidden widths, comma-separated (of each MLP for graph tasks).")]
TrainStepsOption = Annotated[int, typer.Option(help="Optimizer steps of dense training.", min=0)]
RolloutOption = Annotated[int, typer.Option(help="Steps of the multi-step rollout loss (1 = one-step loss).", min=1)]


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}", param_hint=option) from None
    if not values or min(values) < 1:
        raise typer.BadParameter(f"expected positive integers, got {text!r}", param_hint=option)
    return values


def _check_task(task: str) -> None:
    from sparse_dynamics.tasks import TASK_NAMES

    if task not in TASK_NAMES:
        raise typer.BadParameter(f"unknown task {task!r}; available: {', '.join(TASK_NAMES)}", param_hint="--task")


def _source(task: str, data: str, episodes: int, steps: int, seed: int):
    from sparse_dynamics.data import CollectConfig
    from sparse_dynamics.experiments import DataSource

    _check_task(task)
    return DataSource(task=task, data=data, collect=CollectConfig(episodes=episodes, steps=steps, seed=seed))


def _fail(error: Exception) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(code=2)


@app.command()
def collect(
    task: TaskOption = "push",
    episodes: EpisodesOption = 300,
    steps: StepsOption = 30,
    scripted_fraction: Annotated[float, typer.Option(help="Share of scripted (vs uniformly random) actions.", min=0.0, max=1.0)] = 0.7,
    frames: Annotated[int, typer.Option(help="Render this many PNG frames of episode 0 into frames/.", min=0)] = 0,
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
    threads: ThreadsOption = None,
) -> None:
    """Collect transitions (random + scripted actions) into dataset.npz + dataset.json.

    Examples:

      sparseworks dynamics collect --task push --episodes 300 --frames 20

      sparseworks dynamics collect --task pwa --episodes 200 --steps 20 --json --out runs/pwa-data
    """
    from sparse_core.infra.clikit import finish_run, start_run
    from sparse_dynamics.data import CollectConfig
    from sparse_dynamics.experiments import DataSource, collect_run

    _check_task(task)
    source = DataSource(task, collect=CollectConfig(episodes, steps, scripted_fraction, seed))
    run = start_run("dynamics", "collect", source, out=out, seed=seed, threads=threads)
    metrics = collect_run(source, run.folder, frames=frames, progress=not json_output)
    finish_run(run, metrics, json_output, summary=f"{metrics['transitions']} transitions of {task} in {metrics['dataset']}")


@app.command()
def train(
    task: TaskOption = "push",
    data: DataOption = "",
    episodes: EpisodesOption = 300,
    steps: StepsOption = 30,
    hidden: HiddenOption = "128,128",
    train_steps: TrainStepsOption = 4000,
    rollout_steps: RolloutOption = 1,
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
    threads: ThreadsOption = None,
) -> None:
    """Train a dense dynamics model (MLP; graph network for sort and rope); report held-out errors.

    Examples:

      sparseworks dynamics train --task push --data runs/push-data/dataset.npz

      sparseworks dynamics train --task pwa --hidden 64,64 --rollout-steps 5 --json
    """
    from sparse_core.infra.clikit import finish_run, start_run
    from sparse_dynamics.experiments import TrainRunConfig, train_run
    from sparse_dynamics.training import TrainConfig

    config = TrainRunConfig(_source(task, data, episodes, steps, seed), _ints(hidden, "--hidden"),
                            TrainConfig(steps=train_steps, rollout_steps=rollout_steps), seed)
    run = start_run("dynamics", "train", config, out=out, seed=seed, threads=threads)
    try:
        metrics = train_run(config, run.folder, progress=not json_output)
    except (ValueError, FileNotFoundError) as error:
        _fail(error)
    horizon = metrics["rollout_horizon"]
    finish_run(run, metrics, json_output, summary=(
        f"{task}: one-step error {metrics['one_step_error']:.3e}, {horizon}-step error "
        f"{metrics[f'rollout{horizon}_error']:.3e} (MSE / state std², held-out)"))


@app.command()
def sparsify(
    relu_budget: Annotated[int, typer.Option("--relu-budget", help="ReLUs to keep (per MLP for graph tasks).", min=0)],
    task: TaskOption = "push",
    data: DataOption = "",
    model: Annotated[str, typer.Option(help="A dense model.pt from `train`; empty = train one now.")] = "",
    episodes: EpisodesOption = 300,
    steps: StepsOption = 30,
    hidden: HiddenOption = "128,128",
    train_steps: TrainStepsOption = 4000,
    sparsify_steps: Annotated[int, typer.Option(help="Gated training steps.", min=1)] = 3000,
    finetune_steps: Annotated[int, typer.Option(help="Fine-tuning steps after hardening.", min=0)] = 1500,
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
    threads: ThreadsOption = None,
) -> None:
    """Sparsify a dense model to a ReLU budget; export compact_*.npz + .json (readable without torch).

    Examples:

      sparseworks dynamics sparsify --task pwa --relu-budget 4

      sparseworks dynamics sparsify --task push --relu-budget 16 --model runs/push-train/model.pt --data runs/push-data/dataset.npz
    """
    from sparse_core.infra.clikit import finish_run, start_run
    from sparse_dynamics.experiments import SparsifyRunConfig, sparsify_run
    from sparse_dynamics.training import TrainConfig

    config = SparsifyRunConfig(_source(task, data, episodes, steps, seed), relu_budget, model, _ints(hidden, "--hidden"),
                               TrainConfig(steps=train_steps), sparsify_steps, finetune_steps, seed)
    run = start_run("dynamics", "sparsify", config, out=out, seed=seed, threads=threads)
    try:
        metrics = sparsify_run(config, run.folder, progress=not json_output)
    except (ValueError, FileNotFoundError) as error:
        _fail(error)
    finish_run(run, metrics, json_output, summary=(
        f"{task}: ReLUs {metrics['relu_counts']} (budget {relu_budget}); one-step {metrics['one_step_error']:.3e} "
        f"(dense {metrics['dense_one_step_error']:.3e}); compact vs gated max diff {metrics['compact_max_abs_diff']:.1e}"))


@app.command()
def pareto(
    task: TaskOption = "push",
    data: DataOption = "",
    budgets: Annotated[str, typer.Option(help="ReLU budgets, comma-separated (per MLP for graph tasks).")] = "64,32,16,8,4",
    episodes: EpisodesOption = 300,
    steps: StepsOption = 30,
    hidden: HiddenOption = "128,128",
    train_steps: TrainStepsOption = 4000,
    sparsify_steps: Annotated[int, typer.Option(help="Gated training steps per budget.", min=1)] = 3000,
    finetune_steps: Annotated[int, typer.Option(help="Fine-tuning steps after hardening.", min=0)] = 1500,
    rollout_steps: RolloutOption = 1,
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
    threads: ThreadsOption = None,
) -> None:
    """Prediction error against the number of ReLUs: sparsified large model vs small dense model.

    Writes pareto.png, pareto.csv and metrics.json (budgets, one_step_error, rollout10_error,
    small_dense_rollout10_error, ...).

    Examples:

      sparseworks dynamics pareto --task pwa --budgets 32,16,8,4,2

      sparseworks dynamics pareto --task sort --hidden 64,64 --budgets 32,16,8 --threads 1 --json
    """
    from sparse_core.infra.clikit import finish_run, start_run
    from sparse_dynamics.experiments import pareto_run
    from sparse_dynamics.pareto import ParetoConfig
    from sparse_dynamics.training import TrainConfig

    source = _source(task, data, episodes, steps, seed)
    hidden_widths, budget_list = _ints(hidden, "--hidden"), _ints(budgets, "--budgets")
    if max(budget_list) > sum(hidden_widths):
        raise typer.BadParameter(f"budget {max(budget_list)} is larger than the network ({sum(hidden_widths)} hidden "
                                 f"neurons per MLP)", param_hint="--budgets")
    config = ParetoConfig(hidden_widths, budget_list, TrainConfig(steps=train_steps, rollout_steps=rollout_steps),
                          sparsify_steps, finetune_steps, seed, rollout_horizon=min(10, steps))
    run = start_run("dynamics", "pareto", config, out=out, seed=seed, threads=threads)
    try:
        metrics, table = pareto_run(source, config, run.folder, progress=not json_output)
    except (ValueError, FileNotFoundError) as error:
        _fail(error)
    finish_run(run, metrics, json_output, summary=table)
