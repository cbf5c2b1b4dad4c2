"""The blocking demo stage: the whole science chain at toy scale, with the figures the report embeds."""

import json

import pytest

from blocking.demo import DEMO_SCALE, run_demo

# The stage runs the QG3 model for 8 member-years and trains a CNN: about a minute and a half of CPU.
pytestmark = pytest.mark.slow


def test_demo_runs_the_chain_and_returns_what_the_report_shows(tmp_path):
    result = run_demo(tmp_path, seed=0, progress=False)
    json.dumps({k: v for k, v in result.items() if k != "figures"}, default=str)  # JSON-safe but for the paths
    assert result["simulate"]["finite"] and result["simulate"]["member_years"] == 8.0
    assert result["events"]["events"] > 50 and result["events"]["threshold_percentile"] == pytest.approx(90.0, abs=0.5)
    splits = result["dataset"]["splits"]
    assert sum(split["samples"] for split in splits.values()) == result["dataset"]["samples"]
    assert 0.0 <= result["train"]["test_f1"] <= 1.0 and result["train"]["persistence_days"] == 3
    for figure in result["figures"]:
        assert (tmp_path / figure["path"]).read_bytes()[:4] == b"\x89PNG" and figure["caption"]
    assert len(result["figures"]) == 3  # SHAP maps, z500 mean / std, energy and enstrophy
    assert "onsets" in result["summary"] and DEMO_SCALE.persistence_days == 3
