"""The settings of the recsys tasks, each declared once (torch-free, so that ``--help`` stays fast).

``sparseworks recsys topk`` is generated from :class:`TopKConfig` and ``sparseworks
recsys ctr`` from :class:`CTRConfig` (``docs/architecture.md``, "Configs and commands"):
every field's default, bounds, choices and help (its ``Attributes:`` line) live here;
``recsys export`` / ``recsys recommend`` come from :class:`ExportConfig` /
:class:`RecommendConfig` (:mod:`recsys.serving`). The
library modules re-export the classes they use (:mod:`recsys.trainer`, :mod:`recsys.dsl`,
:mod:`recsys.models.autoint`, :mod:`recsys.topk`, :mod:`recsys.ctr`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, setting

__all__ = [
    "CTR_FORMATS",
    "CTR_MODELS",
    "TOPK_MODELS",
    "AutoIntConfig",
    "CTRConfig",
    "CTRFileConfig",
    "DSLConfig",
    "ExportConfig",
    "InteractionFileConfig",
    "RecommendConfig",
    "SERVING_LAYOUTS",
    "TopKConfig",
    "TrainerConfig",
]

TOPK_MODELS = ("mf", "lightgcn")
CTR_MODELS = ("autoint", "autoint+")
CTR_FORMATS = ("criteo", "avazu", "csv")
DELIMITERS = {"comma": ",", "tab": "\t", "semicolon": ";", "pipe": "|"}
DATASETS = ("ml100k",)
#: Layouts of ``recsys export`` (recsys.serving): auto picks the smaller of columns and csr.
SERVING_LAYOUTS = ("auto", "columns", "csr", "dense")


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


def _only_with_path(instance: object, what: str) -> None:
    """Reject a setting of a data-file config given without the file (it would have no effect)."""
    for f in dataclasses.fields(instance):
        if f.name == "path" or f.metadata.get("cli") is False:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if getattr(instance, f.name) != default:
            raise ConfigError(f"{type(instance).__name__}.{f.name} applies to {what} only; give --data", field=f.name)


@config
class InteractionFileConfig:
    """Interactions of your own for ``topk``, in RecBole's atomic-file layout.

    A tab-separated ``.inter`` file (plain or compressed) whose header names every column
    as ``name:type``: a user and an item column (``token``), optionally a rating and a
    timestamp (``float``); other columns are ignored.

    Attributes:
        path: A folder holding one .inter file (or the file itself) of your own interactions,
            in RecBole's atomic-file layout (plain or compressed); default: the built-in --dataset.
        user_column: Header name of the user id column of --data.
        item_column: Header name of the item id column of --data.
        rating_column: Header name of the rating column of --data (used by --min-rating;
            may be absent otherwise).
        timestamp_column: Header name of the timestamp column of --data (used by --split time;
            may be absent otherwise).
        max_malformed: Malformed rows of --data skipped (each counted, the first ones logged
            with their line numbers) before the run stops with an error.
    """

    path: Path | None = setting(None, cli="--data")
    user_column: str = setting("user_id")
    item_column: str = setting("item_id")
    rating_column: str = setting("rating")
    timestamp_column: str = setting("timestamp")
    max_malformed: int = setting(100, ge=0)

    def __post_init__(self) -> None:
        if self.path is None:
            _only_with_path(self, "--data")
            return
        object.__setattr__(self, "path", Path(self.path).expanduser().absolute())  # replayable from anywhere
        names = {
            "user_column": self.user_column,
            "item_column": self.item_column,
            "rating_column": self.rating_column,
            "timestamp_column": self.timestamp_column,
        }
        for name, value in names.items():
            if not value.strip() or any(c in value for c in "\t:"):
                raise ConfigError(
                    f"InteractionFileConfig.{name}: give a column name (no tab or ':'), got {value!r}", field=name
                )
        if len(set(names.values())) < len(names):
            raise ConfigError(f"InteractionFileConfig: the four columns must differ, got {names}", field="item_column")


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
        sparse_gradients: Row-sparse gradients for the embedding tables: each step looks up
            only its rows (masked), the tables train with SparseAdam (Adam on the touched
            rows), and under torchrun only touched rows are exchanged; pays for MF on big
            tables, not for LightGCN, whose propagation touches every row.
        trainer: Epochs, patience, evaluation interval; early stopping on validation Recall@20.
        dsl: Density and prune-and-regrow schedule (density 1 = dense).
        ks: Cut-offs K of the reported Recall@K and NDCG@K.
        dataset: The built-in dataset, used without --data: ml100k (MovieLens-100k).
        data: Your own interactions (--data FOLDER) and their columns.
        min_rating: Keep only interactions rated at least this (default: every interaction
            counts, whatever its rating).
        split: How each user's interactions are held out: random (seeded by --split-seed) or
            time (the latest ones are test, the next latest validation; needs timestamps).
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
    sparse_gradients: bool = setting(False)
    trainer: TrainerConfig = setting(factory=lambda: TrainerConfig(epochs=60, patience=3, eval_every=5))
    dsl: DSLConfig = setting(factory=DSLConfig)
    ks: tuple[int, ...] = setting((10, 20), ge=1)
    dataset: str = setting("ml100k", choices=DATASETS)
    data: InteractionFileConfig = setting(factory=InteractionFileConfig)
    min_rating: float | None = setting(None)
    split: str = setting("random", choices=("random", "time"))
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
class ExportConfig:
    """Settings of ``recsys export``: a trained top-K model as a compact serving file.

    Attributes:
        model: A topk run folder (its config.toml and best.pt) or its best.pt; the run's
            data (the built-in dataset or its --data file) must still be readable, since the
            split is rebuilt from config.toml.
        layout: auto (the smaller file of columns and csr), columns (final tables on the
            embedding columns that carry score, dense: DSL's column start), csr (layer-0 rows
            as values + column indices; LightGCN propagates at load) or dense (full final
            tables, the dense reference).
        check: Reload the written file, score the run's test split and compare Recall@K /
            NDCG@K with the run's metrics.json (a warning past 1e-6, an error past 1e-3: another split).
    """

    model: Path = setting(cli="--model")
    layout: str = setting("auto", choices=SERVING_LAYOUTS)
    check: bool = setting(True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", Path(self.model).expanduser().absolute())  # replayable from anywhere


@config
class RecommendConfig:
    """Settings of ``recsys recommend``: the top items of one user from an exported model.

    Attributes:
        model: The model.npz written by recsys export, or the export folder holding it.
        user: The user's id as in the training data (MovieLens-100k: user_id 1..943).
        k: Number of items to recommend (items the user already knows are never recommended).
        item_file: A RecBole .item file with the titles to show (default: ml-100k.item from
            the dataset cache for an ml100k model, else the item ids).
        title_column: Header name of the title column of the item file.
    """

    model: Path = setting(cli="--model")
    user: str = setting(cli="--user")
    k: int = setting(10, ge=1)
    item_file: Path | None = setting(None)
    title_column: str = setting("movie_title")

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", Path(self.model).expanduser().absolute())
        if self.item_file is not None:
            object.__setattr__(self, "item_file", Path(self.item_file).expanduser().absolute())
        if not str(self.user).strip():
            raise ConfigError("RecommendConfig.user: give a user id, got an empty one", field="user")


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
class CTRFileConfig:
    """A CTR file of your own for ``ctr``, read streaming (never loaded whole).

    Formats: ``criteo`` (tab-separated, no header: the 0/1 label, 13 integer and 26
    categorical fields, as Criteo's ``train.txt``), ``avazu`` (comma-separated with a
    header: label ``click``, ``id`` ignored, every other column categorical, as Avazu's
    ``train.csv``) and ``csv`` (delimited with a header; the columns are named by
    ``label_column``, ``numeric_columns``, ...). Plain, gzip, bzip2 or xz files are read
    alike (recognised by their first bytes). Without ``split_column`` the rows are split by
    line order: the first ``fractions[0]`` of the lines train, the next validate, the last
    test.

    Attributes:
        path: A CTR file of your own (plain or compressed), read streaming (config.toml
            records its absolute path); default: the built-in --dataset.
        format: Layout of --data: criteo (tab-separated: label, 13 integer and 26 categorical
            fields, no header), avazu (comma-separated with a header; label click, id
            ignored) or csv (a header; see --label-column).
        label_column: Header name of the 0/1 label column of a csv / avazu file (default: label
            for csv, click for avazu).
        numeric_columns: Header names of numeric columns, log-binned like Criteo's integers
            (csv / avazu; default: none).
        categorical_columns: Header names of categorical columns (csv / avazu; default: every
            column not named as label, numeric, split or ignored).
        ignore_columns: Header names of columns not used (csv / avazu; default: none for csv,
            id for avazu).
        delimiter: Cell separator of a csv / avazu file (default comma; criteo is tab).
        split_column: Header name of a column naming each row's part (train, valid or test)
            (csv / avazu; default: split by line order with --fractions).
        hash_buckets: Hash every field's values into this many ids (no vocabulary; memory
            independent of the file); default: vocabularies by --min-count.
        chunk_rows: Rows of --data read, encoded and shuffled at a time (bounds the memory;
            training order is shuffled within each chunk).
        max_malformed: Malformed rows of --data skipped (each counted, the first ones logged
            with their line numbers) before the run stops with an error.
    """

    path: Path | None = setting(None, cli="--data")
    format: str | None = setting(None, choices=CTR_FORMATS)
    label_column: str | None = setting(None)
    numeric_columns: tuple[str, ...] = setting(())
    categorical_columns: tuple[str, ...] = setting(())
    ignore_columns: tuple[str, ...] | None = setting(None)
    delimiter: str | None = setting(None, choices=tuple(DELIMITERS))
    split_column: str | None = setting(None)
    hash_buckets: int | None = setting(None, ge=2, le=2**31 - 1)
    chunk_rows: int = setting(100_000, ge=1, le=10_000_000)
    max_malformed: int = setting(100, ge=0)

    def __post_init__(self) -> None:
        if self.path is None:
            _only_with_path(self, "--data")
            return
        object.__setattr__(self, "path", Path(self.path).expanduser().absolute())  # replayable from anywhere
        if self.format is None:
            raise ConfigError("CTRFileConfig.format: --data needs --format criteo, avazu or csv", field="format")
        if self.format == "criteo":
            for name in ("label_column", "numeric_columns", "categorical_columns", "ignore_columns", "split_column"):
                if getattr(self, name):
                    raise ConfigError(
                        f"CTRFileConfig.{name}: criteo files have fixed columns and no header; "
                        "use --format csv to name columns",
                        field=name,
                    )
            if self.delimiter not in (None, "tab"):
                raise ConfigError(
                    f"CTRFileConfig.delimiter: criteo files are tab-separated, got {self.delimiter!r}",
                    field="delimiter",
                )
            object.__setattr__(self, "delimiter", "tab")
            return
        defaults = {"avazu": ("click", ("id",)), "csv": ("label", ())}[self.format]
        if self.label_column is None:
            object.__setattr__(self, "label_column", defaults[0])
        if self.ignore_columns is None:
            object.__setattr__(self, "ignore_columns", defaults[1])
        if self.delimiter is None:
            object.__setattr__(self, "delimiter", "comma")
        named = {
            "label_column": (self.label_column,),
            "numeric_columns": self.numeric_columns,
            "categorical_columns": self.categorical_columns,
            "ignore_columns": self.ignore_columns,
            "split_column": (self.split_column,) if self.split_column is not None else (),
        }
        seen: dict[str, str] = {}
        for name, columns in named.items():
            for column in columns:
                if not column.strip():
                    raise ConfigError(f"CTRFileConfig.{name}: give column names, got {column!r}", field=name)
                if column in seen:
                    raise ConfigError(
                        f"CTRFileConfig.{name}: column {column!r} is also given as {seen[column]}", field=name
                    )
                seen[column] = name

    @property
    def separator(self) -> str:
        """The cell separator itself (``","``, ``"\\t"``, ...)."""
        return DELIMITERS[self.delimiter or "tab"]


@config
class CTRConfig:
    """A CTR training run: AutoInt or AutoInt+ on categorical fields.

    Attributes:
        model: autoint, or autoint+ (AutoInt with a DNN).
        architecture: AutoInt's sizes; for autoint+ an empty dnn_hidden becomes 400,400.
        batch_size: Rows per step (summed over processes under torchrun).
        learning_rate: Adam learning rate.
        weight_decay: Adam's L2 penalty on all weights.
        sparse_gradients: Row-sparse gradients for the embedding table: each step's gradient
            holds the looked-up rows only (no table-sized gradient), the table trains with
            SparseAdam (Adam on the touched rows), the rest with Adam, and under torchrun only
            touched rows are exchanged (needs --weight-decay 0; use --l2-embedding).
        trainer: Epochs and early stopping on validation AUC.
        split_seed: Seed of the random train / validation / test split of --dataset (a --data
            file is split by line order, or by --split-column).
        fractions: Train, validation and test shares of the rows (they sum to 1).
        min_count: Training occurrences a value needs to get its own id (rarer ones share the
            out-of-vocabulary id); default: 1 for --dataset, 10 for --data (Criteo's convention).
        dataset: The built-in dataset, used without --data: ml100k (MovieLens-100k).
        data: A CTR file of your own (--data FILE --format ...) and its columns.
        max_rows: Use only the first rows of the table or lines of --data, for smoke tests
            (default: all rows).
    """

    model: str = setting("autoint", choices=CTR_MODELS)
    architecture: AutoIntConfig = setting(factory=AutoIntConfig)
    batch_size: int = setting(1024, ge=1)
    learning_rate: float = setting(1e-3, gt=0.0, cli="--lr")
    weight_decay: float = setting(0.0, ge=0.0)
    sparse_gradients: bool = setting(False)
    trainer: TrainerConfig = setting(factory=lambda: TrainerConfig(epochs=30, patience=2, monitor="auc", mode="max"))
    split_seed: int = setting(2020, ge=0)
    fractions: tuple[float, ...] = setting((0.8, 0.1, 0.1), gt=0.0, lt=1.0)
    min_count: int | None = setting(None, ge=1)
    dataset: str = setting("ml100k", choices=DATASETS)
    data: CTRFileConfig = setting(factory=CTRFileConfig)
    max_rows: int | None = setting(None, ge=10)

    def __post_init__(self) -> None:
        if self.min_count is None:  # resolved here, so that config.toml records what was used
            object.__setattr__(self, "min_count", 10 if self.data.path is not None else 1)
        if self.data.split_column is not None and self.fractions != (0.8, 0.1, 0.1):
            raise ConfigError(
                "CTRConfig.fractions: the split column decides the parts; --fractions applies to the line-order split",
                field="fractions",
            )
        if len(self.fractions) != 3 or abs(sum(self.fractions) - 1.0) > 1e-9:
            raise ConfigError(
                f"CTRConfig.fractions: give three shares (train, validation, test) summing to 1; got {self.fractions}",
                field="fractions",
            )
        if self.sparse_gradients and self.weight_decay:
            raise ConfigError(
                "CTRConfig.weight_decay: --sparse-gradients trains the table with SparseAdam, which has no "
                "weight decay; give --weight-decay 0 (and --l2-embedding for an L2 penalty on the looked-up rows)",
                field="weight_decay",
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
