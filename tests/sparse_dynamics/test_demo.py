import sparse_dynamics
from sparse_dynamics.demo import run_demo


def test_demo_runs_and_reports(tmp_path):
    metrics = run_demo(tmp_path, seed=0)
    assert metrics["relus"] <= 4 and metrics["compact_max_abs_diff"] <= 1e-6
    assert "pwa" in metrics["summary"] and (tmp_path / "compact_dynamics.json").exists()
    assert metrics["small_dense_hidden"] == [2, 2] and metrics["small_dense"]["rollout10_error"] > 0
    assert metrics["paragraph"] and metrics["key_numbers"]
    for figure in metrics["figures"]:
        assert (tmp_path / figure["path"]).read_bytes().startswith(b"\x89PNG") and figure["caption"]


def test_public_names_resolve():
    for name in sparse_dynamics.__all__:
        assert getattr(sparse_dynamics, name) is not None
