"""Click-through-rate prediction with AutoInt / AutoInt+ on categorical fields.

The ml100k CTR task: label ``rating >= 4``, eight categorical fields, a random 80/10/10
split with seed 2020; vocabularies are fitted on the training rows, so unseen values in
validation / test map to the out-of-vocabulary id. Training minimises the binary
cross-entropy with Adam and stops early on validation AUC (Song et al. 2019, Sec. 5).

A file of the user's (``config.data``, :mod:`recsys.data.ctr_file`) is never loaded whole:
it is scanned once (malformed rows, parts, vocabularies), then every epoch reads the
training rows chunk by chunk, each chunk shuffled with a seeded generator, and every
validation reads the validation rows the same way.

Under torchrun the file's parsing is shared. The scan: each rank scans a contiguous share
of the lines and the counts are pooled (:func:`open_shared_ctr_file`). The epochs: of every
``world_size`` consecutive chunks (``chunk_rows`` data lines each) every rank parses one
and broadcasts it, so that all ranks see every chunk and take their share of the same
global batches (:func:`shared_chunks`); parsing a Criteo row costs about as much as
training on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from recsys.config import CTRConfig
from recsys.data.ctr_file import CTRFile, open_ctr_file
from recsys.data.ctr_reader import CTRFormatError, iter_chunks
from recsys.data.features import FieldEncoder
from recsys.data.movielens import CTRTable
from recsys.data.splits import random_split
from recsys.distributed import DistContext, context, local_slice, process_group
from recsys.metrics import auc, logloss
from recsys.models.autoint import AutoInt
from recsys.trainer import clean_partial_files, fit, make_optimizer
from sparse_core.infra.errors import InputError

__all__ = [
    "CTRConfig",
    "CTRData",
    "evaluate_part",
    "load_ctr_data",
    "open_shared_ctr_file",
    "predict",
    "prepare_ctr",
    "run_ctr",
    "shared_chunks",
    "train_ctr",
]


@dataclass(frozen=True)
class CTRData:
    """Encoded CTR splits.

    Attributes:
        ids: ``"train"``, ``"valid"``, ``"test"`` -> int64 ids ``(rows, fields)``.
        labels: Same keys -> float32 labels ``(rows,)``.
        encoder: The fitted :class:`FieldEncoder` (training rows only).
    """

    ids: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    encoder: FieldEncoder

    @property
    def cardinalities(self) -> list[int]:
        return self.encoder.cardinalities

    @property
    def rows(self) -> dict[str, int]:
        return {part: int(labels.shape[0]) for part, labels in self.labels.items()}

    def chunks(self, part: str, chunk_rows: int):
        """``(labels, ids)`` of one part in slices of ``chunk_rows`` rows (as :meth:`CTRFile.chunks`)."""
        for start in range(0, self.labels[part].shape[0], chunk_rows):
            yield self.labels[part][start : start + chunk_rows], self.ids[part][start : start + chunk_rows]


def prepare_ctr(table: CTRTable, config: CTRConfig) -> CTRData:
    """Splits the table, fits the vocabularies on the training rows and encodes every split.

    Raises:
        InputError: a split without both classes (its AUC would be undefined), e.g. when
            ``max_rows`` keeps only a handful of rows, or a ``min_count`` that no value reaches.
    """
    parts = dict(zip(("train", "valid", "test"), random_split(len(table), config.fractions, config.split_seed)))
    for name, rows in parts.items():
        positives = int(table.labels[rows].sum())
        if positives in (0, rows.size):
            kept = f"; max_rows={config.max_rows} kept too few rows" if config.max_rows is not None else ""
            raise InputError(
                f"the {name} split of {config.dataset} has {rows.size} rows with {positives} positives: "
                f"AUC needs both classes{kept}"
            )
    encoder = FieldEncoder(table.fields, config.min_count).fit(table.values, parts["train"])
    if all(size == 1 for size in encoder.cardinalities):
        raise InputError(
            f"no value of {config.dataset} occurs --min-count {config.min_count} times in the "
            f"{parts['train'].size} training rows, so every id would be out of vocabulary"
        )
    encoded = encoder.transform(table.values)
    return CTRData(
        ids={k: encoded[v] for k, v in parts.items()},
        labels={k: table.labels[v] for k, v in parts.items()},
        encoder=encoder,
    )


@torch.no_grad()
def predict(model: AutoInt, ids: np.ndarray, device: torch.device, batch_size: int = 2048) -> np.ndarray:
    """Click probabilities for encoded rows, ``batch_size`` rows at a time.

    The attention activations of a batch are its memory cost (about 150 MB for 8,192 rows
    of 39 fields), so batches stay small; the probabilities do not depend on the batch size.

    Shapes:
        - ids: ``(rows, fields)``; return: ``(rows,)`` float64.
    """
    model.eval()
    out = []
    for start in range(0, ids.shape[0], batch_size):
        logits, _ = model(torch.as_tensor(ids[start : start + batch_size], device=device))
        out.append(torch.sigmoid(logits).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _read_span(data: CTRFile, span: range) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, ids)`` of the valid rows among the data lines ``span`` (empty arrays if none)."""
    fields = len(data.cardinalities)
    try:
        for labels, ids in iter_chunks(
            data.path, data.schema, data.vocabularies, data.hash_buckets, len(span), errors=data.errors, lines=span
        ):
            return labels, ids
    except CTRFormatError:
        if data.errors.count > data.errors.max_errors:
            raise
    return np.zeros(0, dtype=np.float32), np.zeros((0, fields), dtype=np.int64)  # every line malformed


def open_shared_ctr_file(config: CTRConfig, ctx: DistContext | None = None) -> CTRFile:
    """:func:`~recsys.data.ctr_file.open_ctr_file` with the scan shared by the processes.

    Under torchrun (gloo) rank ``r`` scans the ``r``-th of ``world_size`` contiguous spans
    of the data lines and the ranks exchange what they found
    (:func:`torch.distributed.all_gather_object`), so that every rank holds the scan of
    the whole file, vocabularies included, having parsed ``1 / world_size`` of it; without
    torchrun (or over NCCL) the one process scans it all. The ranks must call it together.
    """
    import torch.distributed as dist

    ctx = context() if ctx is None else ctx
    if not ctx.active or dist.get_backend() != "gloo":
        return open_ctr_file(config)

    def gather(mine):
        shares = [None] * ctx.world_size
        dist.all_gather_object(shares, mine)
        return shares

    return open_ctr_file(config, share=(ctx.rank, ctx.world_size), gather=gather)


def shared_chunks(
    data: CTRFile,
    part: str,
    chunk_rows: int,
    ctx: DistContext | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    transformed: tuple[torch.dtype, tuple[int, ...]] | None = None,
):
    """``(labels, ids)`` of one part chunk by chunk, the parsing shared by the processes.

    Without torchrun (or with a split column, whose parts are not line ranges) this is
    ``data.chunks(part, chunk_rows)``. Under torchrun the part's data lines are cut into
    chunks of ``chunk_rows`` lines; of every ``world_size`` consecutive chunks, rank ``r``
    parses the ``r``-th and broadcasts it (gloo), so that every rank yields every chunk, in
    file order, having parsed ``1 / world_size`` of them. The ranks must call it together.
    (Over NCCL, which broadcasts GPU tensors only, every rank parses every chunk.)

    Args:
        data: The scanned file.
        part: ``"train"``, ``"valid"`` or ``"test"``.
        chunk_rows: Data lines per chunk.
        ctx: The process group (default: the current one).
        transform: If given, the owner of a chunk maps its ids through it before the
            broadcast (evaluation: ids -> click probabilities), so that this work is shared
            too; every rank yields ``(labels, transform(ids))``.
        transformed: ``(dtype, trailing shape)`` of what ``transform`` returns (needed with it).

    Shapes:
        - labels: ``(rows,)`` float32; ids: ``(rows, fields)`` int64, ``rows <= chunk_rows``.
    """
    import torch.distributed as dist

    ctx = context() if ctx is None else ctx
    if not ctx.active or data.ranges is None or dist.get_backend() != "gloo":  # NCCL broadcasts GPU tensors only
        for labels, ids in data.chunks(part, chunk_rows):
            yield labels, ids if transform is None else transform(ids)
        return
    dtype, trailing = transformed if transform is not None else (torch.int64, (len(data.cardinalities),))
    lines = data.ranges[part]
    spans = [range(start, min(start + chunk_rows, lines.stop)) for start in range(lines.start, lines.stop, chunk_rows)]
    for first in range(0, len(spans), ctx.world_size):
        group = spans[first : first + ctx.world_size]
        if ctx.rank < len(group):
            labels, ids = _read_span(data, group[ctx.rank])
            mine = (torch.from_numpy(labels), torch.from_numpy(ids if transform is None else transform(ids)))
        for owner in range(len(group)):
            size = torch.tensor([mine[0].shape[0] if owner == ctx.rank else 0])
            dist.broadcast(size, src=owner)
            rows = int(size)
            if not rows:
                continue
            if owner == ctx.rank:
                labels, values = mine
            else:
                labels, values = torch.empty(rows, dtype=torch.float32), torch.empty(rows, *trailing, dtype=dtype)
            dist.broadcast(labels, src=owner)
            dist.broadcast(values, src=owner)
            yield labels.numpy(), values.numpy()


def evaluate_part(
    model: AutoInt, data: CTRData | CTRFile, part: str, device: torch.device, chunk_rows: int = 100_000
) -> dict[str, float]:
    """AUC and logloss of one part (``"valid"``, ``"test"``), read chunk by chunk.

    Under torchrun every rank predicts its share of a file's chunks (:func:`shared_chunks`)
    and receives the others' probabilities, so that all ranks get the same metrics.
    """
    labels, probabilities = [], []
    if isinstance(data, CTRFile):
        chunks = shared_chunks(
            data, part, chunk_rows, transform=lambda ids: predict(model, ids, device), transformed=(torch.float64, ())
        )
    else:
        chunks = ((y, predict(model, ids, device)) for y, ids in data.chunks(part, chunk_rows))
    for chunk_labels, chunk_probabilities in chunks:
        labels.append(np.array(chunk_labels))
        probabilities.append(chunk_probabilities)
    y, p = np.concatenate(labels), np.concatenate(probabilities)
    return {"auc": auc(y, p), "logloss": logloss(y, p)}


def _batches(data: CTRData | CTRFile, config: CTRConfig, seed: int, epoch: int, device: torch.device):
    """One epoch's mini-batches of ``(ids, labels)``, this process's share under torchrun.

    In memory (ml100k) the whole training set is shuffled; a file is shuffled chunk by
    chunk (``config.data.chunk_rows``), chunks in file order.
    """
    ctx = context()
    if isinstance(data, CTRData):
        ids, labels = torch.as_tensor(data.ids["train"]), torch.as_tensor(data.labels["train"])
        order = torch.randperm(ids.shape[0], generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        for start in range(0, order.numel(), config.batch_size):
            rows = local_slice(order[start : start + config.batch_size], ctx)
            yield ids[rows].to(device), labels[rows].to(device)
        return
    for index, (chunk_labels, chunk_ids) in enumerate(shared_chunks(data, "train", config.data.chunk_rows, ctx)):
        order = torch.as_tensor(np.random.default_rng([seed, epoch, index]).permutation(chunk_labels.shape[0]))
        ids, labels = torch.from_numpy(chunk_ids), torch.from_numpy(chunk_labels)
        for start in range(0, order.numel(), config.batch_size):
            rows = local_slice(order[start : start + config.batch_size], ctx)
            yield ids[rows].to(device), labels[rows].to(device)


def train_ctr(
    config: CTRConfig,
    data: CTRData | CTRFile,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    folder: Path | None = None,
    progress: bool = False,
) -> dict:
    """Trains AutoInt / AutoInt+ with early stopping on validation AUC; runs under torchrun too.

    ``seed`` draws the initial weights and the order of the rows; dropout (AutoInt+) draws
    from torch's global generator, which the command line seeds once per run.

    Args:
        config: The run's settings.
        data: Encoded in-memory splits (ml100k), or a scanned file read chunk by chunk.
        seed: Seeds initialisation and shuffling.
        device: Where to train.
        folder: Run folder for ``best.pt`` and the per-epoch ``metrics.json``.
        progress: Show progress bars.

    Returns:
        ``test_auc``, ``test_logloss``, ``parameters``, ``samples_per_second`` (training, all
        processes), ``epoch_seconds``, ``train_cpu_seconds`` (this process), ``best_epoch``,
        ``valid_auc``, ``rows`` per part, ``malformed_rows`` (skipped lines of a file),
        ``embedding_rows`` and the per-epoch history ``epochs``.
    """
    device = torch.device(device)
    ctx = context()
    model = AutoInt(data.cardinalities, config.resolved_architecture(), generator=torch.Generator().manual_seed(seed))
    model.embedding.sparse = config.sparse_gradients  # row-sparse table gradients (AutoInt.embed reads the flag)
    model = model.to(device)
    trained = model
    if ctx.active:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model)
    # fused Adam updates each parameter in one pass (the same Adam rule; about 3x faster a step on a CPU);
    # with sparse gradients the table trains with SparseAdam
    optimizer = make_optimizer(
        model.parameters(),
        config.learning_rate,
        sparse=[model.embedding.weight] if config.sparse_gradients else (),
        weight_decay=config.weight_decay,
        device=device,
    )
    chunk_rows = config.data.chunk_rows

    def loss(batch: tuple[Tensor, Tensor]) -> Tensor:
        logits, penalty = trained(batch[0])
        return F.binary_cross_entropy_with_logits(logits, batch[1]) + penalty

    result = fit(
        model,
        optimizer,
        lambda epoch: _batches(data, config, seed, epoch, device),
        loss,
        lambda: evaluate_part(model, data, "valid", device, chunk_rows),
        config.trainer,
        folder=folder if ctx.is_main else None,
        progress=progress and ctx.is_main,
    )
    test = evaluate_part(model, data, "test", device, chunk_rows)
    return {
        "test_auc": test["auc"],
        "test_logloss": test["logloss"],
        "parameters": sum(t.numel() for t in model.parameters()),
        "samples_per_second": result.samples_per_second * ctx.world_size,
        "train_cpu_seconds": result.train_cpu_seconds,
        "epoch_seconds": result.epoch_seconds,
        "best_epoch": result.best_epoch,
        "valid_auc": result.best_metrics.get("auc"),
        "valid_logloss": result.best_metrics.get("logloss"),
        "rows": dict(data.rows),
        "malformed_rows": data.malformed_rows if isinstance(data, CTRFile) else 0,
        "embedding_rows": sum(data.cardinalities),
        "world_size": ctx.world_size,
        "epochs": result.history,
    }


def load_ctr_data(config: CTRConfig, folder: Path | None = None) -> CTRData:
    """The dataset of ``config``, split and encoded (fetched on first use unless ``folder`` is given)."""
    from recsys.data.movielens import load_ctr_table, ml100k_folder

    table = load_ctr_table(folder if folder is not None else ml100k_folder())
    if config.max_rows is not None:
        table = CTRTable(
            table.fields, {k: v[: config.max_rows] for k, v in table.values.items()}, table.labels[: config.max_rows]
        )
    return prepare_ctr(table, config)


def run_ctr(
    config: CTRConfig,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    folder: Path | None = None,
    progress: bool = False,
) -> dict:
    """Loads, splits and encodes the dataset (or scans ``config.data``'s file), then :func:`train_ctr`.

    What ``sparseworks recsys ctr`` runs. Under ``torchrun`` every process calls this: it joins the process group from the
    environment (:func:`recsys.distributed.process_group`; a GPU per process), trains its
    share of every batch, and leaves the group at the end. Only the main process should
    pass a ``folder``.
    """
    if folder is not None:
        clean_partial_files(folder)
    with process_group(device) as local_device:
        data = open_shared_ctr_file(config) if config.data.path is not None else load_ctr_data(config)
        return train_ctr(config, data, seed=seed, device=local_device, folder=folder, progress=progress)
