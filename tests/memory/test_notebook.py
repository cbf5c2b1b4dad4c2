import os
import subprocess
import sys
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "apps" / "notebooks" / "memory.py"


def test_notebook_runs_at_smoke_scale(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "SPARSEWORKS_SMOKE": "1", "SPARSEWORKS_NOTEBOOK_OUT": str(tmp_path)}
    result = subprocess.run([sys.executable, str(NOTEBOOK)], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "memory_classify.png").exists() and (tmp_path / "memory_timing.png").exists()
