"""Training on several processes with DistributedDataParallel (launched by ``torchrun``).

Every rank holds the full model and the full data, draws the same shuffled order and the
same negatives (same seeds), and trains on its own slice of every global batch; DDP
averages the gradients, so a step equals a single-process step on the global batch up to
floating-point summation order. Dynamic sparse updates decide from rank 0's state and are
broadcast (:func:`broadcast_masks`), so masks stay identical on every rank.

Backends: gloo on CPU, NCCL on GPUs (sparse embedding gradients work over gloo only).

Row-sparse table gradients (``--sparse-gradients``): DDP averages the sparse gradient of a
plain ``nn.Embedding(sparse=True)`` itself (AutoInt's table), but takes the ``original``
of a masked table (a parametrization) for a dense one and fails on its sparse gradient; the
top-K models, whose only parameters are masked tables, therefore skip DDP under sparse
gradients and average with :func:`allreduce_gradients` (gloo's sparse allreduce: every rank
gathers the others' touched rows and sums them).
The tasks' entry points (:func:`recsys.topk.run_topk`, :func:`recsys.ctr.run_ctr`) join
the group from torchrun's environment and leave it at the end (:func:`process_group`);
the command line only makes the run folder on the main process.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from sparse_core.masks import masked_parameters

__all__ = [
    "DistContext",
    "allreduce_gradients",
    "broadcast_masks",
    "context",
    "init_from_env",
    "launched",
    "local_torchrun",
    "local_device",
    "local_slice",
    "masks_digest",
    "process_group",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: ``rank`` of ``world_size`` (1 process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def local_torchrun(processes: int) -> list[str]:
    """The command that starts a Python program on ``processes`` processes of this host under torchrun.

    ``python -m torch.distributed.run --nproc_per_node N --master_addr 127.0.0.1
    --master_port P``, with ``P`` a TCP port free at the time of the call; append the
    program (``-m sparseworks ...`` or a script) and its arguments.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(processes),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(port),
    ]


def context() -> DistContext:
    """The current process group's rank and size, or a single-process context."""
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size())
    return DistContext()


def init_from_env(device: torch.device) -> DistContext:
    """Joins the process group described by torchrun's environment (``RANK``, ``WORLD_SIZE``, ...).

    Uses NCCL for CUDA devices and gloo otherwise. Without torchrun's variables it returns a
    single-process context and initialises nothing.
    """
    if not launched():
        return DistContext()
    if not dist.is_initialized():
        device = torch.device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda" and device.index is not None:
            torch.cuda.set_device(device)  # NCCL's communicator lives on this process's GPU
        dist.init_process_group(backend=backend, timeout=dt.timedelta(minutes=10))
        log.info("joined process group: rank %d of %d (%s)", dist.get_rank(), dist.get_world_size(), backend)
    return context()


def launched() -> bool:
    """Whether torchrun started this process as one of two or more (``WORLD_SIZE`` >= 2)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) >= 2


def local_device(device: torch.device | str) -> torch.device:
    """The device this process trains on: under torchrun, ``cuda`` means ``cuda:LOCAL_RANK``.

    A CPU device, or a GPU given with its index, is kept as it is.
    """
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and launched():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0") or 0))
    return device


@contextmanager
def process_group(device: torch.device | str = "cpu") -> Iterator[torch.device]:
    """Joins torchrun's process group for a run and leaves it at the end; yields this process's device.

    Without torchrun's variables it joins nothing and yields ``device``. A group the caller
    joined already is used and left joined.

    Examples:

        with process_group(device) as local:
            metrics = train_topk(config, split, seed=seed, device=local)
    """
    local = local_device(device)
    joined_before = dist.is_available() and dist.is_initialized()
    ctx = init_from_env(local)
    try:
        yield local
    finally:
        if ctx.active and not joined_before and dist.is_initialized():
            dist.destroy_process_group()


def local_slice(batch: Tensor, ctx: DistContext) -> Tensor:
    """This rank's share of a global batch: rows ``rank, rank + world, ...``.

    Shapes:
        - batch: ``(global_batch, ...)``; return: ``(about global_batch / world, ...)``.
    """
    return batch[ctx.rank :: ctx.world_size] if ctx.active else batch


@torch.no_grad()
def allreduce_gradients(parameters: Iterable[Tensor], ctx: DistContext | None = None) -> None:
    """Averages every parameter's ``.grad`` over the processes, in place; sparse COO gradients too.

    Call it on every rank after the backward pass, in place of DDP. A sparse gradient is
    summed by the backend's sparse allreduce (gloo; NCCL has none) and comes back coalesced.
    Every rank must pass the same parameters in the same order, each with a gradient of the
    same layout (the collectives are matched one to one).

    Raises:
        RuntimeError: A parameter without a gradient.
    """
    ctx = context() if ctx is None else ctx
    if not ctx.active:
        return
    for index, param in enumerate(parameters):
        if param.grad is None:
            raise RuntimeError(f"parameter {index} of shape {tuple(param.shape)} has no gradient to average")
        grad = param.grad.coalesce() if param.grad.is_sparse else param.grad  # fewer rows to send
        dist.all_reduce(grad)
        param.grad = grad.div_(ctx.world_size)


@torch.no_grad()
def broadcast_masks(model: nn.Module, optimizer: torch.optim.Optimizer | None = None, src: int = 0) -> None:
    """Copies rank ``src``'s masks, masked weights and their optimizer moments to every rank.

    Call it on every rank after each prune-and-regrow step. Each rank's updater decides from
    its local gradient (the dense gradient is captured before DDP averages it), so the
    decisions can differ; rank ``src``'s decision wins. The masked ``original`` tensors are
    broadcast too, because a rank zeroes only the weights it regrew itself, and so is the
    optimizer's per-weight state of those tensors (Adam's moments, which an update zeroes
    where weights are dropped or regrown).
    """
    if not context().active:
        return
    for original, mask in masked_parameters(model).values():
        buffer = mask.to(torch.uint8)
        dist.broadcast(buffer, src=src)
        mask.copy_(buffer.bool())
        dist.broadcast(original.data, src=src)
        state = optimizer.state.get(original, {}) if optimizer is not None else {}
        for _, value in sorted(state.items()):
            if torch.is_tensor(value) and value.shape == original.shape:
                dist.broadcast(value, src=src)


def masks_digest(model: nn.Module) -> Tensor:
    """A float64 fingerprint of the masks (weighted position sums), for cross-rank checks."""
    total = torch.zeros((), dtype=torch.float64)
    for _, mask in sorted(masked_parameters(model).items()):
        flat = mask[1].reshape(-1).double()
        total += (flat * torch.arange(1, flat.numel() + 1, dtype=torch.float64, device=flat.device)).sum().cpu()
    return total
