"""The blocking-science commands end to end at seconds' scale, on synthetic runs with planted blocks.

The commands are registered on a Typer app of the test's own (``register(app)`` plus a
dummy second command, so that Typer keeps sub-commands) and run in-process with
``typer.testing.CliRunner``; the chain is events -> dataset -> train -> explain ->
sparse-model, then transfer to a surrogate target.
"""

import dataclasses
import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from blocking.cli_science import register
from blocking.synthetic import synthetic_qg3_file
from sparse_core.infra.clikit import command_options

COMMANDS = {"events", "dataset", "train", "learning-curve", "explain", "sparse-model", "transfer", "era5-request"}
TINY_CNN = ["--channels", "4,8,8", "--dense", "8"]
SPLIT = ["--split-block-days", "30", "--split-train-fraction", "0.6", "--split-validation-fraction", "0.15"]


def make_app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def dummy() -> None:
        """Keeps the app a group of commands."""

    return app


APP = make_app()


def invoke(*args: str):
    return CliRunner().invoke(APP, [str(a) for a in args], catch_exceptions=False)


def run_json(*args: str) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output[-3000:]
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A synthetic model run, its events and dataset, and a trained network (the start of the chain)."""
    root = tmp_path_factory.mktemp("science")
    synthetic_qg3_file(root / "output.nc", days=900, members=2, seed=4)
    events = run_json("events", "--inputs", root / "output.nc", "--threads", "1", "--out", root / "events")
    dataset = run_json(
        "dataset",
        "--inputs",
        root / "output.nc",
        *SPLIT,
        "--threads",
        "1",
        "--out",
        root / "dataset",
    )
    train = run_json(
        "train",
        "--dataset",
        root / "dataset" / "dataset.nc",
        *TINY_CNN,
        "--epochs",
        "6",
        "--bootstrap",
        "20",
        "--threads",
        "1",
        "--out",
        root / "train",
    )
    return {"root": root, "events": events, "dataset": dataset, "train": train}


def test_events_dataset_and_train_report_what_they_made(runs):
    root, events, dataset, train = runs["root"], runs["events"], runs["dataset"], runs["train"]
    assert events["events"] > 20 and events["threshold_m"] == 100.0 and events["members"] == 2
    assert {"events.csv", "frequency.csv", "index.nc"} <= set(events["files"])
    assert (root / "events" / "events.csv").exists()
    assert dataset["file"] == "dataset.nc" and dataset["input_shape"] == [3, 12, 64]
    assert set(dataset["splits"]) == {"train", "validation", "test"}
    for key in ("precision", "recall", "f1", "roc_auc", "bss"):
        assert 0.0 <= train[f"test_{key}"] <= 1.0 or key == "bss"
        low, high = train[f"test_{key}_ci"]
        assert low <= high
    assert train["test_f1"] == train["cnn"]["f1"]["value"]
    assert train["test_bss"] == train["cnn"]["brier_skill_score"]["value"]
    assert train["climatology_f1"] == train["climatology"]["f1"]["value"]
    assert 0.0 <= train["logistic_f1"] <= 1.0
    assert (root / "train" / "model.pt").exists() and (root / "train" / "predictions.csv").exists()
    toml = (root / "train" / "config.toml").read_text()
    assert "epochs = 6" in toml and 'device = "cpu"' in toml


def test_explain_then_sparse_model_on_the_regions(runs):
    root = runs["root"]
    dataset = root / "dataset" / "dataset.nc"
    explain = run_json(
        "explain",
        "--dataset",
        dataset,
        "--model",
        root / "train" / "model.pt",
        "--method",
        "gradient",
        "--background",
        "8",
        "--samples",
        "4",
        "--no-outline",
        "--threads",
        "1",
        "--out",
        root / "explain",
    )
    assert explain["method"] == "gradient" and explain["background"] == 8
    assert sum(explain["explained"].values()) > 0 and explain["outline"] == "off"
    assert (root / "explain" / "regions.json").exists() and (root / "explain" / "shap_maps.png").exists()
    if explain["regions"]:
        args = ["--regions", root / "explain" / "regions.json"]
    else:  # a network with no true positive has no regions: use the index box
        args = ["--boxes", "60,64,-4,4,40,50,280,300"]
    sparse = run_json(
        "sparse-model",
        "--dataset",
        dataset,
        *args,
        "--max-features",
        "2",
        "--threads",
        "1",
        "--out",
        root / "sparse",
    )
    assert 1 <= len(sparse["subsets"]) <= 2 and sparse["subsets"][0]["size"] == 1
    assert len(sparse["features"]) == 3 * len(sparse["boxes"])


def test_transfer_to_a_surrogate_target(runs):
    root = runs["root"]
    synthetic_qg3_file(root / "target.nc", days=500, members=1, seed=9)
    run_json("dataset", "--inputs", root / "target.nc", *SPLIT, "--threads", "1", "--out", root / "target")
    transfer = run_json(
        "transfer",
        "--source",
        root / "dataset" / "dataset.nc",
        "--target",
        root / "target" / "dataset.nc",
        "--pretrained",
        root / "train" / "model.pt",
        "--folds",
        "2",
        "--seeds",
        "1",
        "--finetune-epochs",
        "1",
        "--direct-epochs",
        "1",
        *TINY_CNN,
        "--threads",
        "1",
        "--out",
        root / "transfer",
    )
    assert transfer["folds"] == 2 and transfer["seeds"] == 1 and transfer["pretrained_file"] is None
    for kind in ("direct", "pretrained", "transfer"):
        assert set(transfer[f"{kind}_f1"]) == {"mean", "std"}


def test_events_replays_from_its_config(runs, tmp_path):
    root = runs["root"]
    a, b = tmp_path / "a", tmp_path / "b"
    first = run_json(
        "events", "--inputs", root / "output.nc", "--persistence-days", "7", "--no-netcdf", "--threads", "1", "--out", a
    )
    second = run_json("events", "--config", a / "config.toml", "--out", b)
    assert first == second
    assert (b / "metrics.json").read_bytes() == (a / "metrics.json").read_bytes()
    assert (b / "config.toml").read_text() == (a / "config.toml").read_text()
    assert not (a / "events.nc").exists()


@pytest.mark.parametrize(
    "args, option",
    [
        (["train", "--lr", "0"], "--lr"),
        (["train", "--channels", ""], "--channels"),
        (["events", "--inputs", "x.nc", "--threshold-percentile", "100"], "--threshold-percentile"),
        (["events", "--inputs", "x.nc", "--lowpass-days", "1.5"], "--lowpass-days"),
        (
            ["dataset", "--inputs", "x.nc", "--split-train-fraction", "0.9", "--split-validation-fraction", "0.2"],
            "--split-validation-fraction",
        ),
        (["explain", "--region-threshold", "1"], "--region-threshold"),
        (["sparse-model", "--dataset", "d.nc"], "--boxes"),
        (["transfer", "--folds", "1"], "--folds"),
        (["learning-curve", "--train-days", "1000,100"], "--train-days"),
        (["learning-curve", "--train-days", "0"], "--train-days"),
        (["train", "--train-days", "0"], "--train-days"),
        (["era5-request", "--first-year", "2000", "--last-year", "1990"], "--first-year"),
    ],
)
def test_bad_settings_exit_2_naming_the_option(tmp_path, args, option):
    result = invoke(*args, "--out", tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and option in result.output
    assert not (tmp_path / "run").exists()


def test_a_missing_input_exits_2_and_leaves_no_folder(tmp_path):
    result = invoke("train", "--dataset", tmp_path / "missing.nc", "--threads", "1", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "error:" in result.output and "missing.nc" in result.output
    assert not (tmp_path / "run").exists()


def test_era5_request_writes_the_requests_without_cdsapi(tmp_path):
    metrics = run_json("era5-request", "--first-year", "1979", "--last-year", "1981", "--out", tmp_path / "era5")
    assert metrics["requests"] == 3 and metrics["downloaded"] == []
    requests = json.loads((tmp_path / "era5" / "era5_requests.json").read_text())
    assert [r["target"] for r in requests] == ["era5_z_1979.nc", "era5_z_1980.nc", "era5_z_1981.nc"]
    assert requests[0]["request"]["pressure_level"] == ["200", "500", "800"]
    assert "import cdsapi" in (tmp_path / "era5" / "download_era5.py").read_text()
    assert "cdsapi" not in sys.modules


def test_every_option_default_is_its_config_default():
    """The invariant of tests/test_commands.py, on these commands."""
    names = set()
    for info in APP.registered_commands:
        if info.callback.__name__ == "dummy":
            continue
        names.add(info.name)
        config_class = info.callback.config_class
        command = typer.main.get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=None)
        params = {p.name: p for p in command.params}
        for option in command_options(config_class):
            param = params[option.param]
            assert option.name in param.opts
            assert option.help.strip(), f"{info.name} {option.name}: no help"
            if option.default is dataclasses.MISSING or option.default is None:
                assert param.default is None
            elif option.kind is tuple:
                assert param.default == ",".join(str(v) for v in option.default)
                assert option.parse(param.default) == option.default
            else:
                assert param.default == option.default, f"{option.name}: {param.default!r} != {option.default!r}"
        shared = {"--config", "--print-config", "--out", "--seed", "--json"}
        assert shared <= {opt for p in command.params for opt in p.opts}
    assert names == COMMANDS


def test_help_imports_nothing_numerical():
    code = (
        "import sys, typer\n"
        "from typer.testing import CliRunner\n"
        "from blocking.cli_science import register\n"
        "app = typer.Typer(); register(app)\n"
        "app.command()(lambda: None)\n"
        "for name in ('train', 'explain', 'events'):\n"
        "    assert CliRunner().invoke(app, [name, '--help']).exit_code == 0\n"
        "print(sorted({'numpy', 'xarray', 'torch', 'scipy', 'shap', 'sklearn'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
