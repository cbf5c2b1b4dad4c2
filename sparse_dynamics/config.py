"""The settings of every ``sparseworks dynamics`` command (torch-free, so that ``--help`` stays fast).

Each command's config is built from shared pieces, each setting declared once:

- `TaskData` / `DataSource`: the task and how its transitions are collected
  (`CollectConfig`), or a saved dataset;
- `DenseConfig`: the dense model's hidden widths and its training (`TrainConfig`);
- `SparsifyRecipe`: the one recipe that sparsifies a dense model to a ReLU budget
  (gated training under a shrinking budget, hardening, fine-tuning). ``dynamics
  sparsify --relu-budget B`` and the budget-B point of ``dynamics pareto`` both follow it
  (`sparse_dynamics.sparsify.sparsify_to_budget`), so on the same data, dense model and
  seed they give the same sparsified network.

Episodes are split 80% / 10% / rest into train / validation / test (`SPLIT_FRACTIONS`,
`split_sizes`); errors are measured over ``min(ROLLOUT_HORIZON, steps)`` steps
(`rollout_horizon`).

Every class is made with `_config`: the suite's `config` (bounds and choices of each
`setting`) plus a check of each value's type, so that a ``--config`` file holding
``episodes = "ten"`` is refused up front instead of failing inside the run. Settings
that cannot give a meaningful result are refused too: a collection of more than
`MAX_TRANSITIONS` transitions (it would not fit in memory), hidden widths above
`MAX_HIDDEN_WIDTH`, batches above `MAX_BATCH_SIZE`, learning rates above 1, a budget
larger than the network, a budget listed twice, seeds outside ``[0, 2**32)``.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from pathlib import Path

from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import check_settings, config, setting
from sparse_dynamics.tasks import TASK_NAMES

__all__ = [
    "BudgetPenalty",
    "CollectConfig",
    "CollectRunConfig",
    "DataSource",
    "DenseConfig",
    "MAX_BATCH_SIZE",
    "MAX_HIDDEN_WIDTH",
    "MAX_SEED",
    "MAX_TRANSITIONS",
    "ParetoConfig",
    "ParetoRunConfig",
    "ROLLOUT_HORIZON",
    "SPLIT_FRACTIONS",
    "SparsifyConfig",
    "SparsifyRecipe",
    "SparsifyRunConfig",
    "TASK_NAMES",
    "TaskData",
    "TrainConfig",
    "TrainRunConfig",
    "rollout_horizon",
    "split_sizes",
]

SPLIT_FRACTIONS = (0.8, 0.1)
ROLLOUT_HORIZON = 10
SCHEDULE_SHAPES = ("cubic", "linear")
MAX_TRANSITIONS = 10**7
"""Most transitions (episodes x steps) one collection may hold."""
MAX_HIDDEN_WIDTH = 8192
"""Widest hidden layer a dense model may have (two such layers hold 67 million weights; much wider ones exhaust memory)."""
MAX_BATCH_SIZE = 65536
"""Most windows per optimizer step."""
MAX_SEED = 2**32 - 1
"""Largest seed (numpy's and torch's global generators take 32-bit seeds)."""


def split_sizes(episodes: int, fractions: tuple[float, float] = SPLIT_FRACTIONS) -> tuple[int, int, int]:
    """Episodes in (train, validation, test) when ``episodes`` are split by ``fractions`` + the rest."""
    train = int(round(fractions[0] * episodes))
    validation = int(round(fractions[1] * episodes))
    return train, validation, episodes - train - validation


def rollout_horizon(steps: int) -> int:
    """Steps of the rollout error reported for episodes of ``steps`` control steps."""
    return min(ROLLOUT_HORIZON, steps)


@functools.cache
def _field_types(cls: type) -> dict[str, tuple[type, ...]]:
    """Field -> the types its value may have (``None`` included for optional fields)."""
    allowed = {}
    for name, hint in typing.get_type_hints(cls).items():
        options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        allowed[name] = tuple(typing.get_origin(option) or option for option in options)
    return allowed


def _type_name(kind: type) -> str:
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        tuple: "a list",
        type(None): "nothing",
    }
    if kind in names:
        return names[kind]
    if isinstance(kind, type) and issubclass(kind, Path):
        return "a path"
    return f"a table of {kind.__name__} settings" if dataclasses.is_dataclass(kind) else f"a {kind.__name__}"


def _check_types(instance: object) -> bool:
    """Checks every field's value against its annotation (items of ``tuple[int, ...]`` too).

    A string for a path and a list for a tuple are converted (Python callers give them).

    Returns:
        Whether a value was converted (its bounds are then checked again).

    Raises:
        ConfigError: naming ``Class.field``, the expected type and what was found.
    """
    allowed = _field_types(type(instance))
    hints = typing.get_type_hints(type(instance))
    converted = False
    for f in dataclasses.fields(instance):
        value, kinds = getattr(instance, f.name), allowed[f.name]
        where = f"{type(instance).__name__}.{f.name}"
        if isinstance(value, str) and Path in kinds or isinstance(value, list) and tuple in kinds:
            value = Path(value) if isinstance(value, str) else tuple(value)  # as Python callers may give them
            object.__setattr__(instance, f.name, value)
            converted = True
        if value is None and type(None) in kinds:
            continue
        accepted = any(_is_instance(value, kind) for kind in kinds)
        if accepted and isinstance(value, tuple):
            (item_kind, *_) = typing.get_args(hints[f.name]) or (object,)
            bad = [item for item in value if not _is_instance(item, item_kind)]
            if bad:
                raise ConfigError(
                    f"{where} must be a list of {_type_name(item_kind).split(' ', 1)[1]}s, found {bad[0]!r}",
                    field=f.name,
                )
        if not accepted:
            expected = " or ".join(_type_name(kind) for kind in kinds)
            raise ConfigError(f"{where} must be {expected}, found {_type_name(type(value))} ({value!r})", field=f.name)
    return converted


def _is_instance(value: object, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


_OPTIONS_BY_FIELD: dict[str, set[str]] = {}
"""Field name -> the command-line options that fields of that name have, over every config of this module."""


def _option(cls: type, f: dataclasses.Field) -> str | None:
    """The command-line option of a field (none for nested configs, seeds and ``cli=False``)."""
    cli = f.metadata.get("cli")
    nested = any(dataclasses.is_dataclass(kind) for kind in _field_types(cls)[f.name])
    if cli is False or f.name == "seed" or nested:
        return None
    return cli or "--" + f.name.replace("_", "-")


def _config(cls: type) -> type:
    """`sparse_core.infra.settings.config` plus `_check_types` before the class's own checks.

    A field name shared by fields of several configs (``CollectConfig.steps`` is
    ``--steps``, ``TrainConfig.steps`` is ``--train-steps``) cannot be mapped back to its
    option by the command line, so errors about such a field name their option themselves.
    """
    own = cls.__dict__.get("__post_init__")

    def __post_init__(self) -> None:
        if _check_types(self):
            check_settings(self)
        if own is not None:
            own(self)

    cls.__post_init__ = __post_init__
    made = config(cls)
    checked = made.__post_init__
    options = {f.name: _option(made, f) for f in dataclasses.fields(made)}
    for name, option in options.items():
        if option is not None:
            _OPTIONS_BY_FIELD.setdefault(name, set()).add(option)

    def __post_init_naming_options__(self) -> None:
        try:
            checked(self)
        except ConfigError as error:
            option = options.get(error.field)
            if option is None or len(_OPTIONS_BY_FIELD.get(error.field, ())) < 2 or str(error).startswith("--"):
                raise
            raise ConfigError(f"{option}: {error}") from None

    made.__post_init__ = __post_init_naming_options__
    return made


# --------------------------------------------------------------------------- data


@_config
class CollectConfig:
    """How to collect transitions.

    Attributes:
        episodes: Episodes to collect (when no --data is given).
        steps: Control steps per episode (10 Hz for the pymunk tasks; when no --data is given).
        scripted_fraction: Share of scripted (vs uniformly random) actions.
        seed: Episode ``e`` is reset with seed ``seed * 100003 + e``; actions use their own
            generator seeded from ``seed``.
    """

    episodes: int = setting(300, ge=3)
    steps: int = setting(30, ge=1)
    scripted_fraction: float = setting(0.7, ge=0.0, le=1.0)
    seed: int = setting(0, ge=0, le=MAX_SEED)

    def __post_init__(self) -> None:
        if self.episodes * self.steps > MAX_TRANSITIONS:
            raise ConfigError(
                f"CollectConfig.episodes: {self.episodes} episodes of {self.steps} steps are "
                f"{self.episodes * self.steps} transitions, more than one collection holds ({MAX_TRANSITIONS}); "
                f"collect fewer episodes or steps",
                field="episodes",
            )


@_config
class TaskData:
    """Transitions of one task, collected now.

    Attributes:
        task: The control task to simulate.
        collect: How transitions are collected.
    """

    task: str = setting("push", choices=TASK_NAMES)
    collect: CollectConfig = setting(factory=CollectConfig)


@_config
class CollectRunConfig(TaskData):
    """What ``dynamics collect`` does: collect transitions and render a few frames.

    Attributes:
        frames: Render this many PNG frames of episode 0 into frames/.
    """

    frames: int = setting(0, ge=0)

    def __post_init__(self) -> None:
        if self.frames > self.collect.steps + 1:
            raise ConfigError(
                f"CollectRunConfig.frames: an episode of {self.collect.steps} steps has {self.collect.steps + 1} "
                f"frames, got {self.frames}",
                field="frames",
            )


@_config
class DataSource(TaskData):
    """Where the transitions of a training command come from: a saved dataset, or a fresh collection.

    A saved dataset is read and checked when the config is built, before any run folder
    exists: a missing or malformed file, a dataset of another task, or one too small for
    the split or too short for the rollout loss is refused up front
    (`sparse_dynamics.data.describe_dataset`).

    Attributes:
        data: A dataset .npz written by `collect` (its .json beside it); not given = collect one now
            into the run folder.
    """

    data: Path | None = None

    def __post_init__(self) -> None:
        if self.data is None:
            return
        found = self._described()
        if found.task != self.task:
            raise ConfigError(
                f"DataSource.task: the dataset {self.data} is of task {found.task!r}, not {self.task!r}; "
                f"give --task {found.task} (or a dataset of {self.task})",
                field="task",
            )
        if min(split_sizes(found.episodes)) == 0:
            raise ConfigError(
                f"DataSource.data: {self.data} holds {found.episodes} episodes, too few to split into train, "
                f"validation and test episodes ({SPLIT_FRACTIONS[0]:.0%} / {SPLIT_FRACTIONS[1]:.0%} / rest); "
                f"collect at least {_fewest_episodes()}",
                field="data",
            )

    def _described(self):
        from sparse_dynamics.data import describe_dataset

        return describe_dataset(self.data)

    def check_trainable(self, rollout_steps: int) -> None:
        """Rejects a collection or dataset too small to split, or too short for the rollout loss.

        Raises:
            ConfigError: naming ``episodes``, ``data`` or ``rollout_steps``.
        """
        if self.data is not None:
            steps = self._described().steps
            if rollout_steps > steps:
                raise ConfigError(
                    f"TrainConfig.rollout_steps: {rollout_steps} exceeds the episode length of the dataset "
                    f"{self.data} ({steps} steps); choose --rollout-steps {steps} or less",
                    field="rollout_steps",
                )
            return
        episodes, steps = self.collect.episodes, self.collect.steps
        if min(split_sizes(episodes)) == 0:
            raise ConfigError(
                f"CollectConfig.episodes: {episodes} episodes are too few to split into train, validation and test "
                f"episodes ({SPLIT_FRACTIONS[0]:.0%} / {SPLIT_FRACTIONS[1]:.0%} / rest); collect at least "
                f"{_fewest_episodes()}",
                field="episodes",
            )
        if rollout_steps > steps:
            raise ConfigError(
                f"TrainConfig.rollout_steps: {rollout_steps} exceeds the episode length ({steps} steps)",
                field="rollout_steps",
            )


def _fewest_episodes() -> int:
    return next(n for n in range(3, 100) if min(split_sizes(n)) > 0)


# --------------------------------------------------------------------------- training


@_config
class TrainConfig:
    """Adam on random windows of episodes, cosine learning-rate decay.

    Attributes:
        steps: Optimizer steps of dense training.
        batch_size: Windows per step.
        learning_rate: Adam step size for weights (cosine-decayed to 5% of it).
        gate_learning_rate: Adam step size for gate parameters (``log_alpha``).
        rollout_steps: Steps of the multi-step rollout loss (1 = one-step loss), in every training
            phase (dense, gated, fine-tuning).
        weight_decay: Adam's L2 coefficient on weights.
    """

    steps: int = setting(4000, ge=0, cli="--train-steps")
    batch_size: int = setting(256, ge=1, le=MAX_BATCH_SIZE, cli=False)
    learning_rate: float = setting(2e-3, gt=0.0, le=1.0, cli=False)
    gate_learning_rate: float = setting(2e-2, gt=0.0, le=1.0, cli=False)
    rollout_steps: int = setting(1, ge=1)
    weight_decay: float = setting(0.0, ge=0.0, cli=False)


@_config
class DenseConfig:
    """A dense dynamics model (MLP; graph network for sort and rope) and its training.

    Attributes:
        hidden: Hidden widths (of each MLP for graph tasks).
        train: How the dense model is trained.
    """

    hidden: tuple[int, ...] = setting((128, 128), ge=1, le=MAX_HIDDEN_WIDTH)
    train: TrainConfig = setting(factory=TrainConfig)

    def __post_init__(self) -> None:
        if not self.hidden:
            raise ConfigError("DenseConfig.hidden: give at least one hidden width", field="hidden")

    @property
    def relus(self) -> int:
        """Hidden neurons (ReLUs) of the dense model, per MLP."""
        return sum(self.hidden)


# --------------------------------------------------------------------------- sparsification


@_config
class BudgetPenalty:
    """The penalty that drives the gates towards the ReLU budget (Liu et al., NeurIPS 2023, sec. 3.2).

    ``weight * max(0, E[#ReLU] - budget(step)) + l0_weight * E[#kept neurons] / #neurons``,
    with ``budget(step)`` shrinking from all neurons to the target.

    Attributes:
        end_fraction: Fraction of the gated phase after which the budget is at its target.
        schedule_shape: How the budget shrinks: cubic (Zhu & Gupta 2017) or linear.
        weight: Weight of the hinge on the expected ReLU count (per excess ReLU).
        l0_weight: Weight of the expected fraction of kept neurons.
    """

    end_fraction: float = setting(0.6, gt=0.0, le=1.0, cli=False)
    schedule_shape: str = setting("cubic", choices=SCHEDULE_SHAPES, cli=False)
    weight: float = setting(0.05, gt=0.0, cli=False)
    l0_weight: float = setting(0.01, ge=0.0, cli=False)


@_config
class SparsifyConfig:
    """One sparsification as `sparse_dynamics.sparsify.sparsify` runs it (usually from `SparsifyRecipe.for_budget`).

    Attributes:
        relu_budget: Target number of ReLUs per group (per MLP).
        train: Optimisation of the gated phase (``train.steps`` steps).
        finetune: Optimisation after hardening (weights only).
        penalty: The budget penalty of the gated phase.
    """

    relu_budget: int = setting(ge=0)
    train: TrainConfig = setting()
    finetune: TrainConfig = setting()
    penalty: BudgetPenalty = setting(factory=BudgetPenalty)


@_config
class SparsifyRecipe:
    """How a trained dense model is sparsified to a ReLU budget: the same for `sparsify` and `pareto`.

    Attributes:
        sparsify_steps: Gated training steps (per budget).
        finetune_steps: Fine-tuning steps after hardening.
        learning_rate: Adam step size for weights while the gates train.
        gate_learning_rate: Adam step size for the gates' ``log_alpha``.
        finetune_learning_rate: Adam step size for weights while fine-tuning the hardened model.
        batch_size: Windows per step, in both phases.
        penalty: The budget penalty of the gated phase.
    """

    sparsify_steps: int = setting(3000, ge=1)
    finetune_steps: int = setting(1500, ge=0)
    learning_rate: float = setting(1e-3, gt=0.0, le=1.0, cli=False)
    gate_learning_rate: float = setting(2e-2, gt=0.0, le=1.0, cli=False)
    finetune_learning_rate: float = setting(5e-4, gt=0.0, le=1.0, cli=False)
    batch_size: int = setting(256, ge=1, le=MAX_BATCH_SIZE, cli=False)
    penalty: BudgetPenalty = setting(factory=BudgetPenalty)

    def for_budget(self, relu_budget: int, rollout_steps: int = 1) -> SparsifyConfig:
        """The recipe applied to one budget, with the rollout loss of ``rollout_steps`` steps."""
        phase = dict(
            batch_size=self.batch_size, gate_learning_rate=self.gate_learning_rate, rollout_steps=rollout_steps
        )
        return SparsifyConfig(
            relu_budget,
            train=TrainConfig(steps=self.sparsify_steps, learning_rate=self.learning_rate, **phase),
            finetune=TrainConfig(steps=self.finetune_steps, learning_rate=self.finetune_learning_rate, **phase),
            penalty=self.penalty,
        )


# --------------------------------------------------------------------------- commands


def _check_budget(budget: int, dense: DenseConfig, where: str, field: str, model: Path | None = None) -> None:
    if budget > dense.relus:
        widths = ",".join(str(width) for width in dense.hidden)
        source = f"the model {model}" if model is not None else "--hidden"
        raise ConfigError(
            f"{where}: budget {budget} is larger than the network ({dense.relus} hidden neurons per MLP, "
            f"hidden {widths} from {source}); choose a budget of at most {dense.relus}",
            field=field,
        )


@_config
class TrainRunConfig:
    """What ``dynamics train`` does: train a dense model and measure its held-out errors.

    Attributes:
        source: Where the transitions come from.
        dense: The dense model and its training.
        seed: Seeds the episode split, the initial weights and the training windows.
    """

    source: DataSource = setting(factory=DataSource)
    dense: DenseConfig = setting(factory=DenseConfig)
    seed: int = setting(0, ge=0, le=MAX_SEED)

    def __post_init__(self) -> None:
        self.source.check_trainable(self.dense.train.rollout_steps)


@_config
class SparsifyRunConfig:
    """What ``dynamics sparsify`` does: sparsify a dense model (given, or trained here) to a ReLU budget.

    With ``model``, the file is checked when the config is built (a model of another task
    is an error), the dense model's hidden widths are read from it and recorded in
    ``dense.hidden`` (a ``--hidden`` other than the default that disagrees is an error);
    ``dense.train`` then only sets the rollout loss of the sparsification.

    Attributes:
        relu_budget: ReLUs to keep (per MLP for graph tasks).
        source: Where the transitions come from.
        model: A dense model.pt from `train`; not given = train one now.
        dense: The dense model (trained here unless --model is given).
        recipe: How the dense model is sparsified.
        seed: Seeds the episode split, the dense model and the sparsification.
    """

    relu_budget: int = setting(ge=0, cli="--relu-budget")
    source: DataSource = setting(factory=DataSource)
    model: Path | None = None
    dense: DenseConfig = setting(factory=DenseConfig)
    recipe: SparsifyRecipe = setting(factory=SparsifyRecipe)
    seed: int = setting(0, ge=0, le=MAX_SEED)

    def __post_init__(self) -> None:
        if self.model is not None:
            from sparse_dynamics.readers import read_model_bytes

            read_model_bytes(self.model)  # a missing or foreign file is refused before torch is imported
            from sparse_dynamics.models import saved_summary

            architecture, task = saved_summary(self.model)
            if task is not None and task != self.source.task:
                raise ConfigError(
                    f"SparsifyRunConfig.model: {self.model} was trained for task {task!r}, not {self.source.task!r}; "
                    f"give a model and data of one task",
                    field="model",
                )
            widths = tuple(architecture["hidden"])
            if self.dense.hidden != widths:
                if self.dense.hidden != DenseConfig().hidden:
                    given, found = (",".join(str(w) for w in hidden) for hidden in (self.dense.hidden, widths))
                    raise ConfigError(
                        f"DenseConfig.hidden: {given} disagrees with the model {self.model} (hidden {found}); "
                        f"leave --hidden out to use the model's widths",
                        field="hidden",
                    )
                object.__setattr__(self, "dense", DenseConfig(widths, self.dense.train))
        _check_budget(self.relu_budget, self.dense, "SparsifyRunConfig.relu_budget", "relu_budget", self.model)
        self.source.check_trainable(self.dense.train.rollout_steps)


@_config
class ParetoConfig:
    """Settings of `sparse_dynamics.pareto.run_pareto`: sparsified large model vs small dense models.

    Attributes:
        dense: The large dense model and its training (also the training of the small ones).
        budgets: ReLU budgets (per MLP for graph tasks), each at most the hidden total.
        recipe: How the large model is sparsified to each budget.
        seed: Seeds the split and every model.
    """

    dense: DenseConfig = setting(factory=DenseConfig)
    budgets: tuple[int, ...] = setting((64, 32, 16, 8, 4), ge=1)
    recipe: SparsifyRecipe = setting(factory=SparsifyRecipe)
    seed: int = setting(0, ge=0, le=MAX_SEED)

    def __post_init__(self) -> None:
        if not self.budgets:
            raise ConfigError("ParetoConfig.budgets: give at least one ReLU budget", field="budgets")
        repeated = sorted({budget for budget in self.budgets if self.budgets.count(budget) > 1})
        if repeated:
            raise ConfigError(
                f"ParetoConfig.budgets: budget {repeated[0]} is listed more than once; give each budget once",
                field="budgets",
            )
        _check_budget(max(self.budgets), self.dense, "ParetoConfig.budgets", "budgets")


@_config
class ParetoRunConfig(ParetoConfig):
    """What ``dynamics pareto`` does: `ParetoConfig` on transitions from ``source``.

    Attributes:
        source: Where the transitions come from.
    """

    source: DataSource = setting(factory=DataSource)

    def __post_init__(self) -> None:
        ParetoConfig.__post_init__(self)
        self.source.check_trainable(self.dense.train.rollout_steps)
