import os
import subprocess
import sys
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "apps" / "notebooks" / "dynamics.py"


def test_notebook_runs_in_smoke_mode(tmp_path):
    env = {
        **os.environ,
        "SPARSEWORKS_SMOKE": "1",
        "SPARSEWORKS_NOTEBOOK_OUT": str(tmp_path),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
    }
    result = subprocess.run([sys.executable, str(NOTEBOOK)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "pareto_pwa.png").exists() and (tmp_path / "push_frame.png").exists()
    assert "exact 3-step optimum" in result.stdout
    for name in ("trajectories", "cost_over_time", "step_seconds"):
        assert (tmp_path / f"closed_loop_{name}.png").read_bytes().startswith(b"\x89PNG"), name
    table = result.stdout.split("planner ", 1)[1].splitlines()
    assert [line.split()[0] for line in table[1:5]] == ["mip_sparse", "mppi", "cem", "gd"]
