"""DDP with two local processes (gloo): identical parameters and masks, metrics as one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from recsys.distributed import local_torchrun

WORKER = Path(__file__).resolve().parent / "ddp_worker.py"


def run(args, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


def torchrun(tmp_path, *worker_args: str) -> None:
    """The worker on two local processes (gloo)."""
    run([*local_torchrun(2), str(WORKER), str(tmp_path), *worker_args], tmp_path)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable")
def test_two_processes_stay_identical_and_match_one(tmp_path):
    torchrun(tmp_path)
    run([sys.executable, str(WORKER), str(tmp_path)], tmp_path)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}_of2.pt", weights_only=True) for r in (0, 1))
    single = torch.load(tmp_path / "rank0_of1.pt", weights_only=True)
    assert rank0["metrics"]["world_size"] == 2 and single["metrics"]["world_size"] == 1
    assert rank0["metrics"]["mask_updates"] > 0
    for name in rank0["masks"]:
        assert torch.equal(rank0["masks"][name], rank1["masks"][name])
    for name in rank0["parameters"]:
        torch.testing.assert_close(rank0["parameters"][name], rank1["parameters"][name], rtol=0, atol=0)
    assert rank0["digest"] == rank1["digest"]
    assert rank0["metrics"]["nonzeros"] == single["metrics"]["nonzeros"]
    # same global batches and negatives; only gradient summation order and rank 0's local regrowth differ
    assert abs(rank0["metrics"]["recall@20"] - single["metrics"]["recall@20"]) < 0.05
    assert abs(rank0["metrics"]["ndcg@20"] - single["metrics"]["ndcg@20"]) < 0.05


@pytest.mark.slow  # two torchrun launches: 15 s at rest, over a minute on a busy machine
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable")
def test_lightgcn_dsl_with_sparse_gradients_keeps_masks_identical_after_every_update(tmp_path):
    """Two processes, gloo, row-sparse gradients averaged by sparse allreduce (no DDP wrapper)."""
    torchrun(tmp_path, "lightgcn-sparse")
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}_of2.pt", weights_only=True) for r in (0, 1))
    assert rank0["metrics"]["mask_updates"] == rank1["metrics"]["mask_updates"] > 2
    assert rank0["digests"].numel() == rank0["metrics"]["mask_updates"]
    assert torch.equal(rank0["digests"], rank1["digests"])  # after every update
    assert len(set(rank0["digests"].tolist())) > 1  # the masks moved
    for name in rank0["masks"]:
        assert torch.equal(rank0["masks"][name], rank1["masks"][name])
    for name in rank0["parameters"]:
        torch.testing.assert_close(rank0["parameters"][name], rank1["parameters"][name], rtol=0, atol=0)


@pytest.mark.slow  # two torchrun launches: 15 s at rest, over a minute on a busy machine
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable")
def test_file_chunks_parsed_in_turn_reach_every_rank_as_one_process_reads_them(tmp_path):
    torchrun(tmp_path, "ctr-chunks")
    run([sys.executable, str(WORKER), str(tmp_path), "ctr-chunks"], tmp_path)
    rank0, rank1, single = (
        torch.load(tmp_path / name, weights_only=True)
        for name in ("chunks0_of2.pt", "chunks1_of2.pt", "chunks0_of1.pt")
    )
    for part in ("train", "valid"):
        assert single[part]["labels"].numel() > 37  # several chunks, one malformed row skipped
        for rank in (rank0, rank1):
            assert torch.equal(rank[part]["labels"], single[part]["labels"])
            assert torch.equal(rank[part]["ids"], single[part]["ids"])
            assert rank[part]["largest"] <= 37
            torch.testing.assert_close(
                rank[part]["row_sums"], single[part]["ids"].sum(1).double() * 0.5, rtol=0, atol=0
            )


@pytest.mark.network
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable")
def test_command_under_torchrun_joins_and_leaves_the_group(tmp_path):
    """The library joins the group and leaves it; only rank 0 writes a run folder."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            *local_torchrun(2),
            "-m",
            "sparseworks",
            "recsys",
            "topk",
            "--model",
            "mf",
            "--density",
            "0.5",
            "--epochs",
            "1",
            "--embedding-dim",
            "8",
            "--threads",
            "1",
            "--json",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "destroy_process_group" not in done.stderr  # the group was left
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["nonzeros"] == metrics["dense_parameters"] // 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no second folder from rank 1
