"""``sparseworks recsys``: top-K recommendation with dynamic sparse learning, AutoInt CTR models.

Thin commands: parse options, build a config, call one library function, write outputs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from sparse_core.infra.clikit import (
    DeviceOption,
    JsonOption,
    OutOption,
    SeedOption,
    ThreadsOption,
    finish_run,
    start_run,
)

app = typer.Typer(
    help=(
        "Dynamic sparse learning for recommendation (MF, LightGCN) and AutoInt CTR models on MovieLens-100k.\n\n"
        "Examples:\n\n"
        "  sparseworks recsys topk --model lightgcn --density 0.2 --json\n\n"
        "  sparseworks recsys ctr --model autoint --json\n\n"
        "  torchrun --nproc_per_node 2 -m sparseworks recsys topk --model mf --density 0.5"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

DatasetOption = Annotated[str, typer.Option("--dataset", help="Dataset; only ml100k (MovieLens-100k) for now.")]
EpochsOption = Annotated[int, typer.Option("--epochs", min=1, help="Maximum training epochs.")]
PatienceOption = Annotated[int, typer.Option("--patience", min=1, help="Evaluations without improvement before stopping.")]


def _start(command: str, config, out: Path | None, seed: int, threads: int | None, device: str):
    """Joins torchrun's process group if launched by it; only rank 0 writes the run folder."""
    from sparse_core.infra.runtime import choose_device, seed_everything, set_threads

    from recsys.distributed import init_from_env

    torch_device = choose_device(device)
    ctx = init_from_env(torch_device)
    if ctx.active and not ctx.is_main:
        seed_everything(seed)
        set_threads(threads)
        return None, torch_device, ctx
    if ctx.active and torch_device.type == "cuda":
        import torch

        torch_device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return start_run("recsys", command, config, out=out, seed=seed, threads=threads), torch_device, ctx


def _finish(run, ctx, metrics: dict, json_output: bool, summary: str) -> None:
    if run is not None:
        finish_run(run, metrics, json_output, summary=summary)
    if ctx.active:
        import torch.distributed as dist

        dist.destroy_process_group()


@app.command()
def topk(
    model: Annotated[str, typer.Option("--model", help="mf or lightgcn.")] = "lightgcn",
    density: Annotated[float, typer.Option("--density", min=0.0, max=1.0, help="Fraction of embedding weights kept (1 = dense).")] = 1.0,
    dataset: DatasetOption = "ml100k",
    epochs: EpochsOption = 60,
    eval_every: Annotated[int, typer.Option("--eval-every", min=1, help="Epochs between validations.")] = 5,
    patience: PatienceOption = 3,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="BPR triples per step.")] = 2048,
    learning_rate: Annotated[float, typer.Option("--lr", help="Adam learning rate.")] = 1e-2,
    embedding_dim: Annotated[int, typer.Option("--embedding-dim", min=1)] = 64,
    layers: Annotated[int, typer.Option("--layers", min=0, help="LightGCN propagation layers.")] = 3,
    separate_tables: Annotated[bool, typer.Option("--separate-tables", help="Users and items in two tables with separate budgets.")] = False,
    update_every: Annotated[int, typer.Option("--update-every", min=1, help="Steps between DSL prune-and-regrow updates.")] = 150,
    initial_fraction: Annotated[float, typer.Option("--initial-fraction", help="DSL's first update fraction (cosine-decayed).")] = 0.5,
    end_fraction: Annotated[float, typer.Option("--end-fraction", min=0.0, max=1.0, help="Share of the planned steps after which masks freeze.")] = 0.75,
    budget: Annotated[str, typer.Option("--budget", help="per_tensor or global.")] = "per_tensor",
    initial_mask: Annotated[str, typer.Option("--initial-mask", help="columns (whole columns kept at first; default) or random (uniform, as in the DSL paper).")] = "columns",
    rescale_init: Annotated[bool, typer.Option("--rescale-init", help="Scale the sparse initial weights by 1/sqrt(density).")] = False,
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
    threads: ThreadsOption = None,
    device: DeviceOption = "cpu",
) -> None:
    """Train MF or LightGCN with BPR, dense or DSL-sparse; test Recall@K / NDCG@K (full ranking).

    Examples:

      sparseworks recsys topk --model lightgcn --density 0.2 --seed 1 --json

      sparseworks recsys topk --model lightgcn --density 0.2 --initial-mask random --json   # the paper's uniform start

      sparseworks recsys topk --model mf --density 0.5 --separate-tables --out runs/mf05

      torchrun --nproc_per_node 2 -m sparseworks recsys topk --model lightgcn --density 0.2
    """
    from recsys.dsl import DSLConfig
    from recsys.topk import TopKConfig, run_topk
    from recsys.trainer import TrainerConfig

    config = TopKConfig(
        model=model, embedding_dim=embedding_dim, layers=layers, joint_table=not separate_tables,
        batch_size=batch_size, learning_rate=learning_rate,
        trainer=TrainerConfig(epochs=epochs, patience=patience, eval_every=eval_every),
        dsl=DSLConfig(density=density, update_every=update_every, initial_fraction=initial_fraction,
                      end_fraction=end_fraction, budget=budget, rescale_init=rescale_init,
                      initial_mask=initial_mask),
        dataset=dataset,
    )
    run, torch_device, ctx = _start("topk", config, out, seed, threads, device)
    metrics = run_topk(config, seed=seed, device=torch_device, folder=run.folder if run else None,
                       progress=not json_output)
    summary = (
        f"{model} density {density}: test Recall@20 {metrics['recall@20']:.4f}, NDCG@20 {metrics['ndcg@20']:.4f}; "
        f"nonzeros {metrics['nonzeros']} of {metrics['dense_parameters']}; "
        f"{metrics['epoch_seconds']:.2f} s/epoch; best epoch {metrics['best_epoch']}"
    )
    _finish(run, ctx, metrics, json_output, summary)


@app.command()
def ctr(
    model: Annotated[str, typer.Option("--model", help="autoint or autoint+.")] = "autoint",
    dataset: DatasetOption = "ml100k",
    epochs: EpochsOption = 30,
    patience: PatienceOption = 2,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 1024,
    learning_rate: Annotated[float, typer.Option("--lr", help="Adam learning rate.")] = 1e-3,
    embedding_dim: Annotated[int, typer.Option("--embedding-dim", min=1)] = 16,
    layers: Annotated[int, typer.Option("--layers", min=1, help="Interacting layers.")] = 3,
    heads: Annotated[int, typer.Option("--heads", min=1)] = 2,
    head_dim: Annotated[int, typer.Option("--head-dim", min=1, help="Size of each attention head.")] = 32,
    dropout: Annotated[float, typer.Option("--dropout", min=0.0, max=1.0)] = 0.0,
    l2_embedding: Annotated[float, typer.Option("--l2-embedding", min=0.0, help="L2 penalty on looked-up embeddings.")] = 0.0,
    weight_decay: Annotated[float, typer.Option("--weight-decay", min=0.0, help="Adam L2 on all weights.")] = 0.0,
    max_rows: Annotated[int | None, typer.Option("--max-rows", min=10, help="Use only the first rows (smoke tests).")] = None,
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
    threads: ThreadsOption = None,
    device: DeviceOption = "cpu",
) -> None:
    """Train AutoInt or AutoInt+ for CTR (label rating >= 4; split 80/10/10, seed 2020); test AUC / logloss.

    Examples:

      sparseworks recsys ctr --model autoint --json

      sparseworks recsys ctr --model autoint+ --dropout 0.1 --seed 3 --out runs/autointplus
    """
    from recsys.ctr import CTRConfig, run_ctr
    from recsys.models.autoint import AutoIntConfig
    from recsys.trainer import TrainerConfig

    architecture = AutoIntConfig(embedding_dim=embedding_dim, layers=layers, heads=heads, head_dim=head_dim,
                                 dropout=dropout, l2_embedding=l2_embedding)
    config = CTRConfig(
        model=model, architecture=architecture, batch_size=batch_size, learning_rate=learning_rate,
        weight_decay=weight_decay, trainer=TrainerConfig(epochs=epochs, patience=patience, monitor="auc", mode="max"),
        dataset=dataset, max_rows=max_rows,
    )
    run, torch_device, ctx = _start("ctr", config, out, seed, threads, device)
    metrics = run_ctr(config, seed=seed, device=torch_device, folder=run.folder if run else None,
                      progress=not json_output)
    summary = (
        f"{model}: test AUC {metrics['test_auc']:.4f}, logloss {metrics['test_logloss']:.4f}; "
        f"{metrics['parameters']} parameters; {metrics['samples_per_second']:.0f} samples/s; "
        f"best epoch {metrics['best_epoch']}"
    )
    _finish(run, ctx, metrics, json_output, summary)
