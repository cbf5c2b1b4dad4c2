"""The settings of the recsys tasks, each declared once (torch-free, so that ``--help`` stays fast).

``sparseworks recsys topk`` is generated from :class:`TopKConfig` and ``sparseworks
recsys ctr`` from :class:`CTRConfig` (``docs/architecture.md``, "Configs and commands"):
every field's default, bounds, choices and help (its ``Attributes:`` line) live here. The
library modules re-export the classes they use (:mod:`recsys.trainer`, :mod:`recsys.dsl`,
:mod:`recsys.models.autoint`, :mod:`recsys.topk`, :mod:`recsys.ctr`).
"""

from __future__ import annotations

import dataclasses

from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, setting

__all__ = ["CTR_MODELS", "TOPK_MODELS", "AutoIntConfig", "CTRConfig", "DSLConfig", "TopKConfig", "TrainerConfig"]

TOPK_MODELS = ("mf", "lightgcn")
CTR_MODELS = ("autoint", "autoint+")
DATASETS = ("ml100k",)


@config
class TrainerConfig:
    """How long to train and when to stop.

    Attributes:
        epochs: Maximum passes over the training data.
        patience: Evaluations without improvement before stopping early.
        monitor: Validation metric that decides the best state (``"recall@20"``, ``"auc"``, ...).
        mode: ``"max"`` if a larger monitored value is better, else ``"min"``.
        eval_every: Epochs between validations (the last epoch is always validated).
        min_delta: Improvement of the monitored metric needed to reset the patience.
    """

    epochs: int = setting(100, ge=1)
    patience: int = setting(5, ge=1)
    monitor: str = setting("recall@20", cli=False)
    mode: str = setting("max", choices=("max", "min"), cli=False)
    eval_every: int = setting(1, ge=1)
    min_delta: float = setting(0.0, ge=0.0)


@config
class DSLConfig:
    """Dynamic sparse learning settings (Wang et al., WSDM 2024).

    Attributes:
        density: Fraction of embedding weights kept in every masked tensor (1 = dense training).
        update_every: Steps between DSL prune-and-regrow updates (DSL's Delta T).
        initial_fraction: Fraction of active weights replaced at the first update, cosine-decayed (DSL: 0.5).
        end_fraction: Share of the planned training steps after which the masks freeze.
        budget: per_tensor (every table keeps its count) or global (one count over all tables).
        regrowth: How pruned weights come back: gradient (DSL, RigL) or random (SET).
        initial_mask: columns (the kept entries fill whole columns of each table, in a random
            column order, so every user and item starts on the same dimensions; regrowth then
            unstructures it) or random (uniform over each tensor, the DSL paper's start; on
            ml100k LightGCN at density 0.2: 0.85x dense Recall@20, against 0.955x with columns).
        rescale_init: Scale the kept initial weights by 1/sqrt(density), so every row's expected
            norm matches the dense initialisation (the scores are inner products).
    """

    density: float = setting(1.0, gt=0.0, le=1.0)
    update_every: int = setting(150, ge=1)
    initial_fraction: float = setting(0.5, ge=0.0, le=1.0)
    end_fraction: float = setting(0.75, ge=0.0, le=1.0)
    budget: str = setting("per_tensor", choices=("per_tensor", "global"))
    regrowth: str = setting("gradient", choices=("gradient", "random"))
    initial_mask: str = setting("columns", choices=("columns", "random"))
    rescale_init: bool = setting(False)

    @property
    def sparse(self) -> bool:
        return self.density < 1.0


@config
class TopKConfig:
    """A top-K training run: MF or LightGCN with BPR, dense or DSL-sparse.

    Attributes:
        model: mf (matrix factorisation) or lightgcn.
        embedding_dim: Embedding size of users and items (LightGCN / DSL: 64).
        layers: LightGCN propagation layers (0 = MF scores on LightGCN's code path).
        separate_tables: Users and items in two tables with separate DSL budgets (default: one
            joint table, one budget, as the DSL reference code).
        batch_size: BPR triples per step (summed over processes under torchrun).
        learning_rate: Adam learning rate.
        l2: Weight of the L2 penalty on the batch's raw embeddings (LightGCN: 1e-4).
        trainer: Epochs, patience, evaluation interval; early stopping on validation Recall@20.
        dsl: Density and prune-and-regrow schedule (density 1 = dense).
        ks: Cut-offs K of the reported Recall@K and NDCG@K.
        dataset: The dataset: ml100k (MovieLens-100k).
        split_seed: Seed of the per-user train / test split (fixed across training seeds).
        test_fraction: Share of each user's interactions held out for test.
        valid_fraction: Share of each user's training interactions held out for validation.
    """

    model: str = setting("lightgcn", choices=TOPK_MODELS)
    embedding_dim: int = setting(64, ge=1)
    layers: int = setting(3, ge=0)
    separate_tables: bool = setting(False)
    batch_size: int = setting(2048, ge=1)
    learning_rate: float = setting(1e-2, gt=0.0, cli="--lr")
    l2: float = setting(1e-4, ge=0.0)
    trainer: TrainerConfig = setting(factory=lambda: TrainerConfig(epochs=60, patience=3, eval_every=5))
    dsl: DSLConfig = setting(factory=DSLConfig)
    ks: tuple[int, ...] = setting((10, 20), ge=1)
    dataset: str = setting("ml100k", choices=DATASETS)
    split_seed: int = setting(2020, ge=0)
    test_fraction: float = setting(0.2, gt=0.0, lt=1.0)
    valid_fraction: float = setting(0.1, gt=0.0, lt=1.0)

    def __post_init__(self) -> None:
        if not self.ks:
            raise ConfigError("TopKConfig.ks: give at least one cut-off", field="ks")
        metric, _, cutoff = self.trainer.monitor.partition("@")
        if metric not in ("recall", "ndcg") or not cutoff.isdigit() or self.trainer.mode != "max":
            raise ConfigError(
                f"TopKConfig.trainer: early stopping monitors recall@K or ndcg@K with mode 'max'; "
                f"got {self.trainer.monitor!r} with mode {self.trainer.mode!r}",
                field="monitor",
            )
        if int(cutoff) not in self.ks:
            raise ConfigError(
                f"TopKConfig.ks {list(self.ks)} lacks {cutoff}, the cut-off of the monitored {self.trainer.monitor}",
                field="ks",
            )

    @property
    def joint_table(self) -> bool:
        """Users and items share one embedding table (and one DSL budget)."""
        return not self.separate_tables


@config
class AutoIntConfig:
    """AutoInt's architecture; defaults are the paper's (embedding 16, 3 layers, 2 heads x 32).

    Attributes:
        embedding_dim: Field embedding size d.
        layers: Interacting (self-attention) layers.
        heads: Attention heads per interacting layer.
        head_dim: Size d' of each attention head.
        residual: Residual connection in every interacting layer (Eq. 8).
        dnn_hidden: Hidden sizes of the AutoInt+ DNN (empty: plain AutoInt; autoint+ then uses 400,400).
        dropout: Dropout on the DNN's hidden layers and the attention output.
        l2_embedding: L2 penalty on the embeddings looked up in a batch.
    """

    embedding_dim: int = setting(16, ge=1)
    layers: int = setting(3, ge=1)
    heads: int = setting(2, ge=1)
    head_dim: int = setting(32, ge=1)
    residual: bool = setting(True)
    dnn_hidden: tuple[int, ...] = setting((), ge=1)
    dropout: float = setting(0.0, ge=0.0, lt=1.0)
    l2_embedding: float = setting(0.0, ge=0.0)

    @classmethod
    def plus(cls, **overrides) -> AutoIntConfig:
        """AutoInt+ with a 400-400 DNN (Song et al. 2019, Sec. 5.1)."""
        return cls(**{"dnn_hidden": (400, 400), **overrides})


@config
class CTRConfig:
    """A CTR training run: AutoInt or AutoInt+ on categorical fields.

    Attributes:
        model: autoint, or autoint+ (AutoInt with a DNN).
        architecture: AutoInt's sizes; for autoint+ an empty dnn_hidden becomes 400,400.
        batch_size: Rows per step (summed over processes under torchrun).
        learning_rate: Adam learning rate.
        weight_decay: Adam's L2 penalty on all weights.
        trainer: Epochs and early stopping on validation AUC.
        split_seed: Seed of the random train / validation / test split.
        fractions: Train, validation and test shares of the rows (they sum to 1).
        min_count: Training occurrences a value needs to get its own id (rarer ones share the
            out-of-vocabulary id).
        dataset: The dataset: ml100k (MovieLens-100k; Criteo / Avazu files go through
            recsys.data.ctr_reader).
        max_rows: Use only the first rows of the table, for smoke tests (default: all rows).
    """

    model: str = setting("autoint", choices=CTR_MODELS)
    architecture: AutoIntConfig = setting(factory=AutoIntConfig)
    batch_size: int = setting(1024, ge=1)
    learning_rate: float = setting(1e-3, gt=0.0, cli="--lr")
    weight_decay: float = setting(0.0, ge=0.0)
    trainer: TrainerConfig = setting(factory=lambda: TrainerConfig(epochs=30, patience=2, monitor="auc", mode="max"))
    split_seed: int = setting(2020, ge=0)
    fractions: tuple[float, ...] = setting((0.8, 0.1, 0.1), gt=0.0, lt=1.0)
    min_count: int = setting(1, ge=1)
    dataset: str = setting("ml100k", choices=DATASETS)
    max_rows: int | None = setting(None, ge=10)

    def __post_init__(self) -> None:
        if len(self.fractions) != 3 or abs(sum(self.fractions) - 1.0) > 1e-9:
            raise ConfigError(
                f"CTRConfig.fractions: give three shares (train, validation, test) summing to 1; got {self.fractions}",
                field="fractions",
            )
        if self.model == "autoint" and self.architecture.dnn_hidden:
            raise ConfigError("model 'autoint' has no DNN; use model 'autoint+' for dnn_hidden", field="dnn_hidden")
        wanted = {"auc": "max", "logloss": "min"}
        if wanted.get(self.trainer.monitor) != self.trainer.mode:
            raise ConfigError(
                f"CTRConfig.trainer: early stopping monitors 'auc' (mode 'max') or 'logloss' (mode 'min'); "
                f"got {self.trainer.monitor!r} with mode {self.trainer.mode!r}",
                field="monitor",
            )

    def resolved_architecture(self) -> AutoIntConfig:
        """The architecture with AutoInt+'s DNN filled in when needed."""
        if self.model == "autoint+" and not self.architecture.dnn_hidden:
            return dataclasses.replace(self.architecture, dnn_hidden=(400, 400))
        return self.architecture
