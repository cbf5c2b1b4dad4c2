"""Run by test_distributed.py under torchrun (or alone): trains a tiny DSL model, saves its state.

Arguments: the output folder, then optionally ``lightgcn-sparse`` (LightGCN + DSL with
row-sparse gradients; default: MF + DSL, dense gradients). The masks' digest is recorded
after every mask update.
"""

import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import synthetic_interactions  # noqa: E402

import recsys.topk as topk_module  # noqa: E402
from recsys.data.splits import split_per_user  # noqa: E402
from recsys.distributed import context, init_from_env, masks_digest  # noqa: E402
from recsys.dsl import DSLConfig  # noqa: E402
from recsys.topk import TopKConfig, train_topk  # noqa: E402
from recsys.trainer import TrainerConfig  # noqa: E402
from sparse_core.masks import Mask, effective_parameters  # noqa: E402

torch.set_num_threads(1)
out = Path(sys.argv[1])
ctx = init_from_env(torch.device("cpu"))
if len(sys.argv) > 2 and sys.argv[2] == "ctr-chunks":  # the shared parsing of a file's chunks
    from conftest import write_criteo

    from recsys.config import CTRConfig, CTRFileConfig
    from recsys.ctr import open_shared_ctr_file, shared_chunks

    path = out / "clicks.txt.gz"
    if ctx.is_main:
        write_criteo(path, rows=400, extra=("not\ta\trow",))
    if ctx.active:
        dist.barrier()
    data = open_shared_ctr_file(CTRConfig(data=CTRFileConfig(path=path, format="criteo"), min_count=1))
    parts = {}
    for part in ("train", "valid"):
        chunks = list((labels.copy(), ids.copy()) for labels, ids in shared_chunks(data, part, 37))
        parts[part] = {
            "labels": torch.from_numpy(np.concatenate([c[0] for c in chunks])),
            "ids": torch.from_numpy(np.concatenate([c[1] for c in chunks])),
            "largest": max(len(c[0]) for c in chunks),
            "row_sums": torch.from_numpy(  # a transform applied by each chunk's owner only
                np.concatenate(
                    [
                        values
                        for _, values in shared_chunks(
                            data, part, 37, transform=lambda ids: ids.sum(1) * 0.5, transformed=(torch.float64, ())
                        )
                    ]
                )
            ),
        }
    torch.save(parts, out / f"chunks{ctx.rank}_of{ctx.world_size}.pt")
    if ctx.active:
        dist.destroy_process_group()
    sys.exit(0)
split = split_per_user(synthetic_interactions(), seed=1)
sparse = len(sys.argv) > 2 and sys.argv[2] == "lightgcn-sparse"
config = TopKConfig(
    model="lightgcn" if sparse else "mf",
    layers=2,
    sparse_gradients=sparse,
    embedding_dim=8,
    batch_size=64,
    learning_rate=0.05,
    trainer=TrainerConfig(epochs=6, patience=10, eval_every=3),
    dsl=DSLConfig(density=0.3, update_every=4),
)

captured = {}
original_fit = topk_module.fit


def capturing_fit(model, *args, **kwargs):
    result = original_fit(model, *args, **kwargs)
    captured["model"] = model
    return result


topk_module.fit = capturing_fit
digests = []
original_broadcast = topk_module.broadcast_masks


def recording_broadcast(model, optimizer=None, src=0):
    original_broadcast(model, optimizer, src)
    digests.append(masks_digest(model))


topk_module.broadcast_masks = recording_broadcast
metrics = train_topk(config, split, seed=0)
model = captured["model"]
torch.save(
    {
        "metrics": {k: metrics[k] for k in ("recall@20", "ndcg@20", "nonzeros", "mask_updates", "world_size")},
        "parameters": effective_parameters(model),
        "masks": dict(Mask.from_model(model)),
        "digest": masks_digest(model),
        "digests": torch.stack(digests),
    },
    out / f"rank{context().rank}_of{context().world_size}.pt",
)
if ctx.active:
    dist.destroy_process_group()
