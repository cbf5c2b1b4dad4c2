"""``sparseworks recsys``: top-K recommendation with dynamic sparse learning, AutoInt CTR models.

Each command is generated from its config (:mod:`recsys.config`) and calls one library
function; under ``torchrun`` the library joins and leaves the process group, and only the
main process gets a run folder.
"""

from __future__ import annotations

import typer

from recsys.config import CTRConfig, ExportConfig, RecommendConfig, TopKConfig
from sparse_core.infra.clikit import Run, config_command

app = typer.Typer(
    help=(
        "Dynamic sparse learning for recommendation (MF, LightGCN) and AutoInt CTR models, on MovieLens-100k "
        "or on your own data (--data).\n\n"
        "Examples:\n\n"
        "  sparseworks recsys topk --model lightgcn --density 0.2 --json\n\n"
        "  sparseworks recsys ctr --model autoint --json\n\n"
        "  sparseworks recsys export --model runs/lightgcn02 --out runs/lightgcn02-serving\n\n"
        "  sparseworks recsys recommend --model runs/lightgcn02-serving --user 196 --k 10\n\n"
        "  sparseworks recsys ctr --data train.txt.gz --format criteo --epochs 1\n\n"
        "  torchrun --nproc_per_node 2 -m sparseworks recsys topk --model mf --density 0.5"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


@config_command(app, TopKConfig, app_name="recsys", device="cpu")
def topk(config: TopKConfig, run: Run) -> tuple[dict, str]:
    """Train MF or LightGCN with BPR, dense or DSL-sparse; test Recall@K / NDCG@K (full ranking).

    Examples:

      sparseworks recsys topk --model lightgcn --density 0.2 --seed 1 --json

      sparseworks recsys topk --model lightgcn --density 0.2 --initial-mask random --json   # the paper's uniform start

      sparseworks recsys topk --model mf --density 0.5 --separate-tables --out runs/mf05

      sparseworks recsys topk --config runs/mf05/config.toml --epochs 100   # replay, one setting changed

      sparseworks recsys topk --data mydata/ --min-rating 4 --split time   # mydata/*.inter, RecBole layout

      torchrun --nproc_per_node 2 -m sparseworks recsys topk --model lightgcn --density 0.2

      sparseworks recsys topk --model mf --density 0.2 --sparse-gradients   # row-sparse table gradients, SparseAdam
    """
    from recsys.topk import run_topk

    metrics = run_topk(config, seed=run.seed, device=run.device, folder=run.folder, progress=run.progress)
    k = max(config.ks)
    summary = (
        f"{config.model} density {config.dsl.density}: test Recall@{k} {metrics[f'recall@{k}']:.4f}, "
        f"NDCG@{k} {metrics[f'ndcg@{k}']:.4f}; nonzeros {metrics['nonzeros']} of {metrics['dense_parameters']}; "
        f"{metrics['epoch_seconds']:.2f} s/epoch; best epoch {metrics['best_epoch']}"
    )
    return metrics, summary


@config_command(app, CTRConfig, app_name="recsys", device="cpu")
def ctr(config: CTRConfig, run: Run) -> tuple[dict, str]:
    """Train AutoInt or AutoInt+ for CTR; test AUC / logloss.

    On MovieLens-100k (label rating >= 4; random split 80/10/10, seed 2020), or streaming
    through a file of your own (--data FILE --format criteo|avazu|csv; plain or compressed;
    split by line order, or by --split-column).

    Examples:

      sparseworks recsys ctr --model autoint --json

      sparseworks recsys ctr --data train.txt.gz --format criteo --min-count 10 --epochs 1

      sparseworks recsys ctr --data clicks.csv --format csv --label-column clicked --numeric-columns price --hash-buckets 100000

      sparseworks recsys ctr --model autoint+ --dropout 0.1 --seed 3 --out runs/autointplus

      sparseworks recsys ctr --config runs/autointplus/config.toml --seed 4   # replay with another seed

      torchrun --nproc_per_node 2 -m sparseworks recsys ctr --data train.txt.gz --format criteo --threads 1
    """
    from recsys.ctr import run_ctr

    metrics = run_ctr(config, seed=run.seed, device=run.device, folder=run.folder, progress=run.progress)
    skipped = f"; {metrics['malformed_rows']} malformed rows skipped" if metrics["malformed_rows"] else ""
    summary = (
        f"{config.model}: test AUC {metrics['test_auc']:.4f}, logloss {metrics['test_logloss']:.4f}; "
        f"{metrics['parameters']} parameters; {metrics['samples_per_second']:.0f} samples/s; "
        f"best epoch {metrics['best_epoch']}; rows {metrics['rows']}{skipped}"
    )
    return metrics, summary


@config_command(app, ExportConfig, app_name="recsys")
def export(config: ExportConfig, run: Run) -> tuple[dict, str]:
    """Export a topk run (MF or LightGCN, dense or DSL) as a compact serving file, RUN/model.npz.

    The masks are dropped: a DSL model keeps only its scoring columns (layout columns) or
    its nonzero weights with their column indices (layout csr), with every user's known
    items and the raw ids. The run's data must still be readable (the split is rebuilt).

    Examples:

      sparseworks recsys export --model runs/lightgcn02 --out runs/lightgcn02-serving

      sparseworks recsys export --model runs/lightgcn02/best.pt --layout csr --out runs/lightgcn02-csr --json
    """
    from recsys.export import run_export

    metrics = run_export(config, run.folder)
    checked = ""
    if "served" in metrics:
        k = max(int(name.split("@")[1]) for name in metrics["served"])
        checked = (
            f"; served test Recall@{k} {metrics['served'][f'recall@{k}']:.4f} "
            f"(run: {metrics['run'].get(f'recall@{k}', float('nan')):.4f})"
        )
    summary = (
        f"{metrics['model']} exported as {metrics['layout']} ({metrics['scoring_columns']} of "
        f"{metrics['embedding_dim']} columns score): {metrics['bytes']} bytes, {metrics['ratio_to_dense']:.2f}x the "
        f"dense layout, {metrics['ratio_to_checkpoint']:.2f}x best.pt{checked}"
    )
    return metrics, summary


@config_command(app, RecommendConfig, app_name="recsys", uses_torch=False)
def recommend(config: RecommendConfig, run: Run) -> tuple[dict, str]:
    """Recommend the top K items for one user from an exported model (full ranking, known items excluded).

    Examples:

      sparseworks recsys recommend --model runs/lightgcn02-serving --user 196 --k 10

      sparseworks recsys recommend --model mymodel/model.npz --user u42 --item-file mydata/mydata.item --title-column name
    """
    from recsys.serving import recommend as recommend_items

    metrics = recommend_items(config)  # native threads already limited to --threads
    lines = [f"top {config.k} for user {config.user} ({metrics['known_items']} known items excluded):"]
    lines += [
        f"{item['rank']:>3}. {item['title']}  [item {item['item_id']}, score {item['score']:.4f}]"
        for item in metrics["items"]
    ]
    return metrics, "\n".join(lines)
