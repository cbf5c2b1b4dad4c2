import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "apps" / "notebooks" / "blocking.py"


@pytest.mark.network
def test_notebook_runs_at_smoke_scale(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "SPARSEWORKS_SMOKE": "1", "SPARSEWORKS_NOTEBOOK_OUT": str(tmp_path)}
    result = subprocess.run([sys.executable, str(NOTEBOOK)], env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "z500_mean_std.png").exists() and (tmp_path / "energy_enstrophy.png").exists()
    assert "speed-up" in result.stdout
    assert (tmp_path / "science" / "explain" / "shap_maps.png").exists() and "index-logistic" not in result.stderr
    assert "SHAP additivity error" in result.stdout and "climatology: F1" in result.stdout
