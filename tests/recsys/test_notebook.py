import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "apps" / "notebooks" / "recsys.py"


@pytest.mark.network
def test_notebook_runs_at_smoke_scale(tmp_path):
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "SPARSEWORKS_SMOKE": "1",
        "SPARSEWORKS_NOTEBOOK_OUT": str(tmp_path),
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run([sys.executable, str(NOTEBOOK)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "recall_vs_density.png").stat().st_size > 0
    assert (tmp_path / "auc_per_epoch.png").stat().st_size > 0


def test_notebook_is_jupytext_percent():
    text = NOTEBOOK.read_text()
    assert "format_name: percent" in text and text.count("# %%") >= 4
