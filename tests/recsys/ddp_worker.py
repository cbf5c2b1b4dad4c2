"""Run by test_distributed.py under torchrun (or alone): trains a tiny DSL model (MF), saves its state."""

import sys
from pathlib import Path

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
split = split_per_user(synthetic_interactions(), seed=1)
config = TopKConfig(
    model="mf",
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
metrics = train_topk(config, split, seed=0)
model = captured["model"]
torch.save(
    {
        "metrics": {k: metrics[k] for k in ("recall@20", "ndcg@20", "nonzeros", "mask_updates", "world_size")},
        "parameters": effective_parameters(model),
        "masks": dict(Mask.from_model(model)),
        "digest": masks_digest(model),
    },
    out / f"rank{context().rank}_of{context().world_size}.pt",
)
if ctx.active:
    dist.destroy_process_group()
