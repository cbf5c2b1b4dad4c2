import json
import tomllib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sparse_core.infra.clikit import Run, command_options, config_command, resolve_config
from sparse_core.infra.errors import ConfigError, InputError
from sparse_core.infra.settings import config, setting


@config
class Train:
    """Training.

    Attributes:
        epochs: epochs.
        learning_rate: Adam learning rate.
        seed: bound to --seed.
    """

    epochs: int = setting(3, ge=1)
    learning_rate: float = setting(0.01, gt=0.0, cli="--lr")
    seed: int = 0


@config
class Job:
    """A job.

    Attributes:
        size: problem size.
        widths: hidden widths.
        separate: a flag.
        source: an optional input file.
        train: training settings.
        dense: the dense model's training.
        derived: not an option.
        seed: bound to --seed.
    """

    size: int = setting(5, ge=1, le=100)
    widths: tuple[int, ...] = setting((8, 8), ge=1)
    separate: bool = setting(False)
    source: Path | None = setting(None)
    train: Train = setting(factory=lambda: Train(epochs=7))
    dense: Train = setting(factory=Train, prefix="dense-")
    derived: str = setting("x", cli=False)
    seed: int = 0


def _app(tmp_path, body=None):
    app = typer.Typer()
    calls = []

    @config_command(app, Job, app_name="toy", threads=1)
    def job(config: Job, run: Run):
        """A toy job."""
        calls.append((config, run))
        if body is not None:
            body(config, run)
        (run.folder / "out.txt").write_text("done")
        return {"size": config.size, "epochs": config.train.epochs, "seed": run.seed}, "summary line"

    @app.command()
    def other() -> None:  # a second command keeps Typer from flattening the group
        pass

    return app, calls


def test_options_are_generated_from_fields():
    names = {o.name: o for o in command_options(Job)}
    assert list(names) == [
        "--size",
        "--widths",
        "--separate",
        "--source",
        "--epochs",
        "--lr",
        "--dense-epochs",
        "--dense-lr",
    ]
    assert names["--epochs"].default == 7  # from the nested field's default instance
    assert names["--dense-epochs"].default == 3
    assert names["--size"].help == "problem size. [>= 1 and <= 100]"


def test_clashing_option_names_are_an_error():
    @config
    class Clash:
        a: Train = setting(factory=Train)
        b: Train = setting(factory=Train)

    with pytest.raises(TypeError, match="both map to --epochs"):
        command_options(Clash)


def test_resolve_overrides_a_file_field_by_field(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("size = 9\nwidths = [3]\n[train]\nepochs = 2\n[run]\nseed = 4\nthreads = 1\n")
    job, run = resolve_config(Job, {"--lr": 0.5}, config_file=path, seed=None)
    assert (job.size, job.widths, job.train.epochs, job.train.learning_rate) == (9, (3,), 2, 0.5)
    assert job.seed == job.train.seed == job.dense.seed == 4 and run["seed"] == 4
    with pytest.raises(ConfigError, match="--size: Job.size must be >= 1 and <= 100, got 0"):
        resolve_config(Job, {"--size": 0}, config_file=None, seed=0)
    path.write_text("sise = 9\n")
    with pytest.raises(ConfigError, match="unknown key"):
        resolve_config(Job, {}, config_file=path, seed=0)
    path.write_text("size = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve_config(Job, {}, config_file=path, seed=0)


def test_run_folder_config_and_replay(tmp_path):
    app, calls = _app(tmp_path)
    runner = CliRunner()
    first = runner.invoke(
        app,
        [
            "job",
            "--size",
            "6",
            "--widths",
            "2,3",
            "--dense-epochs",
            "4",
            "--seed",
            "5",
            "--json",
            "--out",
            str(tmp_path / "a"),
        ],
    )
    assert first.exit_code == 0, first.output
    assert json.loads(first.output.strip().splitlines()[-1]) == {"size": 6, "epochs": 7, "seed": 5}
    document = tomllib.loads((tmp_path / "a" / "config.toml").read_text())
    assert document["widths"] == [2, 3] and document["dense"]["epochs"] == 4
    assert document["run"] == {"seed": 5, "threads": 1}
    metadata = json.loads((tmp_path / "a" / "run.json").read_text())
    assert metadata["status"] == "complete" and len(metadata["config_hash"]) == 12

    replay = runner.invoke(
        app, ["job", "--config", str(tmp_path / "a" / "config.toml"), "--epochs", "9", "--out", str(tmp_path / "b")]
    )
    assert replay.exit_code == 0, replay.output
    config, run = calls[-1]
    assert (config.size, config.widths, config.dense.epochs, config.train.epochs, run.seed) == (6, (2, 3), 4, 9, 5)

    printed = runner.invoke(app, ["job", "--config", str(tmp_path / "a" / "config.toml"), "--print-config"])
    assert printed.exit_code == 0 and tomllib.loads(printed.output) == document
    assert len(calls) == 2  # --print-config runs nothing


def test_bad_setting_exits_2_before_any_folder(tmp_path):
    app, calls = _app(tmp_path)
    result = CliRunner().invoke(app, ["job", "--size", "0", "--out", str(tmp_path / "a")])
    assert result.exit_code == 2
    assert "error: --size: Job.size must be >= 1" in result.output
    assert not (tmp_path / "a").exists() and not calls
    result = CliRunner().invoke(app, ["job", "--widths", "2,x", "--out", str(tmp_path / "a")])
    assert result.exit_code == 2 and "--widths: expected comma-separated int values" in result.output


def test_user_error_during_the_run_removes_the_folder_it_made(tmp_path):
    def body(config, run):
        raise InputError("data.csv: line 3: expected 785 columns")

    app, _ = _app(tmp_path, body)
    result = CliRunner().invoke(app, ["job", "--out", str(tmp_path / "new")])
    assert result.exit_code == 2 and "error: data.csv: line 3" in result.output
    assert not (tmp_path / "new").exists()

    existing = tmp_path / "old"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["job", "--out", str(existing)])
    assert result.exit_code == 2
    assert (existing / "keep.txt").read_text() == "mine"
    assert json.loads((existing / "run.json").read_text())["status"] == "failed"


def test_out_that_is_a_file_is_a_clear_error(tmp_path):
    app, _ = _app(tmp_path)
    target = tmp_path / "file.txt"
    target.write_text("x")
    result = CliRunner().invoke(app, ["job", "--out", str(target)])
    assert result.exit_code == 2 and "error:" in result.output and str(target) in result.output


def test_a_bug_keeps_its_traceback_and_marks_the_folder_failed(tmp_path):
    def body(config, run):
        raise ZeroDivisionError("a bug")

    app, _ = _app(tmp_path, body)
    result = CliRunner().invoke(app, ["job", "--out", str(tmp_path / "a")])
    assert result.exit_code == 1 and isinstance(result.exception, ZeroDivisionError)
    metadata = json.loads((tmp_path / "a" / "run.json").read_text())
    assert metadata["status"] == "failed" and "ZeroDivisionError" in metadata["error"]


def test_a_refused_run_in_an_existing_folder_keeps_its_config(tmp_path):
    def body(config, run):
        raise ConfigError("--dt 3600 in the checkpoint, 1800 now")

    app, _ = _app(tmp_path, body)
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.toml").write_text("size = 9\n")
    result = CliRunner().invoke(app, ["job", "--size", "3", "--out", str(folder)])
    assert result.exit_code == 2 and "1800 now" in result.output
    assert (folder / "config.toml").read_text() == "size = 9\n"


def test_a_refused_rerun_keeps_the_record_of_the_run_before_it(tmp_path):
    refuse = []

    def body(config, run):
        if refuse:
            raise ConfigError("--dt 3600 in the checkpoint, 1800 now")

    app, _ = _app(tmp_path, body)
    folder = tmp_path / "run"
    assert CliRunner().invoke(app, ["job", "--size", "3", "--out", str(folder)]).exit_code == 0
    complete = json.loads((folder / "run.json").read_text())
    config = (folder / "config.toml").read_bytes()
    refuse.append(True)
    for size in ("4", "5"):  # refused twice: the record kept is still the complete run's
        result = CliRunner().invoke(app, ["job", "--size", size, "--out", str(folder)])
        assert result.exit_code == 2 and "1800 now" in result.output
        record = json.loads((folder / "run.json").read_text())
        assert record["status"] == "failed" and "1800 now" in record["error"]
        assert record["previous_run"] == complete and complete["status"] == "complete"
        assert (folder / "config.toml").read_bytes() == config
        assert json.loads((folder / "metrics.json").read_text())["size"] == 3  # the complete run's outputs


def test_the_body_runs_with_native_thread_pools_limited_to_the_run_threads(tmp_path):
    import numpy  # noqa: F401 - loads the BLAS whose pool is limited
    from threadpoolctl import threadpool_info

    seen = []
    app, _ = _app(tmp_path, body=lambda config, run: seen.append([p["num_threads"] for p in threadpool_info()]))
    result = CliRunner().invoke(app, ["job", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert seen and seen[0] and all(count == 1 for count in seen[0])
