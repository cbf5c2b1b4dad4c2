"""What every SparseWorks command line shares: commands generated from configs, one error boundary.

This is CLI code, the only place in ``sparse_core`` that prints. A command that produces
results costs a config dataclass (:func:`sparse_core.infra.settings.config`) and one
library function; :func:`config_command` generates the rest (``docs/extending.md``)::

    @config_command(app, ClassifyConfig, app_name="memory", threads=1)
    def classify(config: ClassifyConfig, run: Run) -> tuple[dict, str]:
        \"\"\"One pass over the training images, test on the rest.

        Examples:

          sparseworks memory classify --train-per-class 200 --json
        \"\"\"
        metrics = run_classify(config, run.folder, seed=run.seed, progress=run.progress)
        return metrics, f"accuracy {metrics['accuracy']:.4f}"

The generated command has one option per config field (nested configs flattened; each
option's name, default, bounds and help come from the field), plus the options every
result command shares (``docs/architecture.md``, "Runs"):

- ``--out DIR`` (default ``runs/<app>-<command>-<UTC time>/``), ``--seed N``, ``--json``,
  ``--threads N`` and, where it matters, ``--device``;
- ``--config RUN/config.toml`` replays a run with exactly its settings (options given
  beside it override single fields); ``--print-config`` prints the resolved settings as
  TOML and stops;
- the run folder holds ``config.toml`` (the settings, replayable), ``run.json``
  (versions, git revision, config hash, status) and ``metrics.json``; with ``--json`` the
  last line of standard output is one JSON object holding the metrics.

Errors: settings are validated before the run folder is made. The suite's own errors
(:class:`~sparse_core.infra.errors.SparseWorksError`) and expected OS errors (a missing or
unwritable file) print ``error: <message>`` and exit 2; a folder made by the failed
command is removed (one that existed before is kept, its ``run.json`` marked failed).
Any other exception is a bug and keeps its traceback; Ctrl-C marks the run interrupted.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import logging
import shutil
import tomllib
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from sparse_core.infra.errors import ConfigError, SparseWorksError
from sparse_core.infra.runtime import (
    _json_safe,
    config_from_dict,
    config_to_dict,
    is_main_process,
    make_run_dir,
    native_threads,
    run_metadata,
    seed_everything,
    set_threads,
    write_metrics,
)
from sparse_core.infra.settings import describe_bounds, field_help

__all__ = [
    "JsonOption",
    "Option",
    "Run",
    "USER_OS_ERRORS",
    "command_options",
    "config_command",
    "configure_logging",
    "emit_json",
    "error_boundary",
    "fail",
    "finish_run",
    "main_guard",
    "resolve_config",
    "settings_document",
    "start_run",
]

OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Run folder for config, metrics and figures [default: runs/<app>-<command>-<UTC time>].",
        show_default=False,
    ),
]
SeedOption = Annotated[
    int, typer.Option("--seed", min=0, max=2**32 - 1, help="Random seed; the same seed gives the same results.")
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the metrics as one JSON object on the last line of output.")
]
# Transitional: still used by command lines not yet generated from their configs.
ThreadsOption = Annotated[
    int | None, typer.Option("--threads", help="torch threads [default: all cores].", show_default=False, min=1)
]
DeviceOption = Annotated[str, typer.Option("--device", help="cpu, cuda or auto (a GPU when one is visible).")]

#: OS errors that mean "the file or folder you named is not usable", not a bug.
USER_OS_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
RUN_TABLE = "run"


def configure_logging(verbose: bool = False) -> None:
    """Log to standard error: warnings by default, progress details with ``verbose``."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` to standard error; returns the exit (code 2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


# --------------------------------------------------------------------------- options from configs


@dataclass(frozen=True)
class Option:
    """One command-line option generated from a config field.

    Attributes:
        path: the field's path in the (nested) config, e.g. ``("dsl", "density")``.
        name: the option, e.g. ``"--density"``.
        kind: the field's type without ``None``: int, float, str, bool, Path or tuple.
        item: the item type of a tuple field (given comma-separated).
        default: the config's default (``dataclasses.MISSING`` for a required field).
        help: help text, with the bounds and choices appended.
    """

    path: tuple[str, ...]
    name: str
    kind: type
    item: type | None
    default: Any
    help: str

    @property
    def param(self) -> str:
        return "opt_" + "__".join(self.path)

    def parse(self, value: Any) -> Any:
        """The command-line value as the config's value (comma lists -> tuples)."""
        if self.kind is not tuple or value is None or isinstance(value, tuple):
            return value
        parts = [part.strip() for part in str(value).split(",")]
        if parts == [""]:
            return ()
        if not all(parts):
            raise ConfigError(f"{self.name}: empty item in comma-separated list {value!r}", field=self.path[-1])
        try:
            return tuple(self.item(part) for part in parts)
        except ValueError:
            raise ConfigError(
                f"{self.name}: expected comma-separated {self.item.__name__} values, got {value!r}"
            ) from None


def _strip_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return hint


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


@functools.cache
def command_options(config_cls: type) -> tuple[Option, ...]:
    """The options of a config class, nested configs flattened (fields named ``seed`` are ``--seed``).

    Raises:
        TypeError: two fields that would share an option name, or a type the command
            line cannot express.
    """
    options: list[Option] = []
    _collect(config_cls, (), "", None, options)
    seen: dict[str, Option] = {}
    for option in options:
        if option.name in seen:
            raise TypeError(
                f"{config_cls.__name__}: fields {'.'.join(seen[option.name].path)} and {'.'.join(option.path)} "
                f"both map to {option.name}; give one a cli= name or its config a prefix="
            )
        seen[option.name] = option
    return tuple(options)


def _collect(cls: type, path: tuple[str, ...], prefix: str, default_instance: Any, out: list[Option]) -> None:
    hints = typing.get_type_hints(cls)
    helps = field_help(cls)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if meta.get("cli") is False or f.name == "seed":
            continue
        hint = _strip_optional(hints[f.name])
        default = getattr(default_instance, f.name) if default_instance is not None else _field_default(f)
        if dataclasses.is_dataclass(hint):
            nested_default = default if default is not dataclasses.MISSING else None
            _collect(hint, (*path, f.name), prefix + meta.get("prefix", ""), nested_default, out)
            continue
        item = None
        origin = typing.get_origin(hint)
        if origin is tuple:
            args = [a for a in typing.get_args(hint) if a is not Ellipsis]
            item = args[0] if args else str
            kind = tuple
        elif hint in (int, float, str, bool) or (isinstance(hint, type) and issubclass(hint, Path)):
            kind = Path if isinstance(hint, type) and issubclass(hint, Path) else hint
        else:
            raise TypeError(
                f"{cls.__name__}.{f.name}: the command line cannot express type {hint!r}; mark it cli=False"
            )
        name = "--" + prefix + (meta.get("cli") or "--" + f.name.replace("_", "-"))[2:]
        text = helps.get(f.name, "")
        extras = []
        if meta.get("choices"):
            extras.append("one of " + ", ".join(str(c) for c in meta["choices"]))
        if describe_bounds(meta):
            extras.append(describe_bounds(meta))
        if kind is tuple:
            extras.append("comma-separated")
        if extras:
            text = f"{text} [{'; '.join(extras)}]".strip()
        out.append(Option((*path, f.name), name, kind, item, default, text))


def _typer_parameter(option: Option) -> inspect.Parameter:
    required = option.default is dataclasses.MISSING
    default = None if required or option.default is None else option.default
    if option.kind is tuple and default is not None:
        default = ",".join(str(v) for v in default)
    annotation: Any = {tuple: str}.get(option.kind, option.kind)
    if option.kind is not bool:
        annotation = annotation | None
    declaration = option.name if option.kind is not bool else f"{option.name}/--no-{option.name[2:]}"
    info = typer.Option(
        default,
        declaration,
        help=option.help + (" [required]" if required else ""),
        show_default=not required and default is not None,
    )
    return inspect.Parameter(option.param, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation)


# --------------------------------------------------------------------------- runs


@dataclass
class Run:
    """A started run, as the command's body sees it.

    Attributes:
        folder: the run folder (None on a non-main process under torchrun).
        seed: the seed every random generator started from.
        threads: torch's intra-op thread count.
        device: the torch device (None for commands without ``--device``).
        json: whether ``--json`` was given (progress bars stay off then).
    """

    folder: Path | None
    seed: int
    threads: int
    device: Any = None
    json: bool = False

    @property
    def progress(self) -> bool:
        return not self.json


def settings_document(config: Any, seed: int, threads: int | None, device: str | None) -> dict[str, Any]:
    """The TOML document of a run: the config's fields plus a ``[run]`` table (seed, threads, device)."""
    document = config_to_dict(config) if config is not None else {}
    if RUN_TABLE in document:
        raise TypeError(f"{type(config).__name__} has a field named {RUN_TABLE!r}, which config.toml reserves")
    run = {"seed": seed}
    if threads is not None:
        run["threads"] = threads
    if device is not None:
        run["device"] = device
    document[RUN_TABLE] = run
    return document


def _toml(document: Mapping[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(document)


def start_run(
    app: str,
    command: str,
    config: Any | None,
    *,
    out: Path | None,
    seed: int,
    threads: int | None = None,
    device: str | None = None,
    uses_torch: bool = True,
) -> Run:
    """Create the run folder, seed everything, set threads, save config.toml and run.json.

    ``uses_torch=False`` (numpy-only commands) leaves torch unimported: its seed and thread
    count are not set, and ``threads`` is recorded as asked.
    """
    from sparse_core.infra.files import atomic_write

    existed = out is not None and Path(out).exists()
    folder = make_run_dir(app, command, out)
    try:
        seed_everything(seed, torch=uses_torch)
        used_threads = set_threads(threads) if uses_torch else (threads or 1)
        document = settings_document(config, seed, threads, device)
        with atomic_write(folder / "config.toml", "w") as handle:
            handle.write(_toml(document))
        write_metrics(
            folder,
            {**run_metadata(document, app=app, command=command, seed=seed, threads=used_threads), "status": "running"},
            name="run.json",
        )
    except BaseException:
        if not existed:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return Run(folder=folder, seed=seed, threads=used_threads)


def _set_status(folder: Path, status: str, error: str | None = None, previous_run: Any = None) -> None:
    path = folder / "run.json"
    try:
        metadata = json.loads(path.read_text())
    except (OSError, ValueError):
        metadata = {}
    metadata["status"] = status
    if error is not None:
        metadata["error"] = error
    if previous_run is not None:
        metadata["previous_run"] = previous_run
    try:
        write_metrics(folder, metadata, name="run.json")
    except OSError:
        pass


def emit_json(metrics: dict[str, Any]) -> None:
    """Print the metrics as the single JSON object of the last output line."""
    typer.echo(json.dumps(_json_safe(metrics), separators=(", ", ": ")))


def finish_run(run: Run | Path, metrics: dict[str, Any], json_output: bool, summary: str | None = None) -> None:
    """Write metrics.json and mark the run complete; print the summary, then (with ``--json``) the JSON line."""
    folder = run.folder if isinstance(run, Run) else Path(run)
    write_metrics(folder, metrics)
    _set_status(folder, "complete")
    if summary:
        typer.echo(summary)
    if json_output:
        emit_json(metrics)
    else:
        typer.echo(f"results in {folder}")


@contextmanager
def error_boundary(folder_state: dict[str, Any] | None = None) -> Iterator[None]:
    """Turn the suite's errors and expected OS errors into ``error: ...`` with exit 2.

    ``folder_state`` (``{"folder": Path, "created": bool}``, filled in once the run folder
    exists) says what to clean up: a folder this command created is removed on such an
    error; one that existed is kept and marked failed. A bug keeps its traceback (the
    folder is marked failed); Ctrl-C marks it interrupted and exits 130. A refused run in an
    existing folder puts its config.toml back, and its run.json (status ``failed``, the error)
    keeps the record the folder had before, under ``previous_run`` (the outputs beside it are
    that run's unless the refused run wrote some before its error).
    """
    state = folder_state if folder_state is not None else {}
    try:
        yield
    except typer.Exit:
        raise
    except (SparseWorksError, *USER_OS_ERRORS) as error:
        message = _describe(error)
        folder = state.get("folder")
        if folder is not None:
            if state.get("created"):
                shutil.rmtree(folder, ignore_errors=True)
            else:
                _restore(folder, state.get("previous", {}))
                _set_status(folder, "failed", message, previous_run=state.get("previous_run"))
        raise fail(message) from None
    except KeyboardInterrupt:
        if state.get("folder") is not None:
            _set_status(state["folder"], "interrupted")
        typer.echo("interrupted", err=True)
        raise typer.Exit(code=130) from None
    except Exception as error:
        if state.get("folder") is not None:
            _set_status(state["folder"], "failed", f"{type(error).__name__}: {error}")
        raise


def _read_record(path: Path) -> Any:
    """The run record (run.json) at ``path``; None if there is none or it does not parse."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _restore(folder: Path, previous: Mapping[str, bytes | None]) -> None:
    """Put back the files a refused run replaced in an existing folder (its config.toml)."""
    from sparse_core.infra.files import atomic_write

    for name, content in previous.items():
        path = folder / name
        try:
            if content is None:
                path.unlink(missing_ok=True)
            else:
                with atomic_write(path, "wb") as handle:
                    handle.write(content)
        except OSError:
            pass


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None and str(error.filename) not in str(error.args):
        return f"{error.filename}: {error.strerror or error}"
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)


# --------------------------------------------------------------------------- config commands


def _set_path(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        document = document.setdefault(key, {})
    document[path[-1]] = value


def _set_seed_fields(cls: type, values: dict[str, Any], seed: int) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = _strip_optional(hints[f.name])
        if f.name == "seed":
            values[f.name] = seed
        elif dataclasses.is_dataclass(hint) and f.metadata.get("cli") is not False:
            nested = values.setdefault(f.name, {})
            if isinstance(nested, dict):
                _set_seed_fields(hint, nested, seed)


def _option_for_field(options: tuple[Option, ...], field_name: str | None) -> Option | None:
    matches = [o for o in options if o.path[-1] == field_name]
    return matches[0] if len(matches) == 1 else None


def resolve_config(
    config_cls: type,
    given: Mapping[str, Any],
    *,
    config_file: Path | None,
    seed: int | None,
) -> tuple[Any, dict[str, Any]]:
    """Build the config from a TOML file (if any) and the options given on the command line.

    Args:
        given: option name -> value, only the options the user gave.
        config_file: a run's config.toml; its ``[run]`` table is returned.
        seed: ``--seed`` if given, else None (the file's seed, else 0).

    Raises:
        ConfigError: an unreadable file, an unknown key, a missing required option, or
            a value outside its bounds (the message names the option).
    """
    options = {o.name: o for o in command_options(config_cls)}
    values: dict[str, Any] = {}
    run_table: dict[str, Any] = {}
    if config_file is not None:
        try:
            values = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{config_file}: not valid TOML: {error}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{config_file}: not a text (TOML) file") from None
        run_table = values.pop(RUN_TABLE, {})
        if not isinstance(run_table, dict):
            raise ConfigError(f"{config_file}: [{RUN_TABLE}] must be a table")
        for key, low, high in (("seed", 0, 2**32 - 1), ("threads", 1, None)):
            value = run_table.get(key)
            if value is not None and (
                not isinstance(value, int)
                or isinstance(value, bool)
                or value < low
                or (high is not None and value > high)
            ):
                raise ConfigError(f"{config_file}: [{RUN_TABLE}] {key} = {value!r}: expected an integer >= {low}")
        if run_table.get("device") is not None and not isinstance(run_table["device"], str):
            raise ConfigError(f"{config_file}: [{RUN_TABLE}] device must be a string")
    for name, value in given.items():
        option = options[name]
        _set_path(values, option.path, option.parse(value))
    chosen_seed = seed if seed is not None else int(run_table.get("seed", 0))
    _set_seed_fields(config_cls, values, chosen_seed)
    where = str(config_file) if config_file is not None else config_cls.__name__
    try:
        config = config_from_dict(config_cls, values, where=where)
    except ConfigError as error:
        option = _option_for_field(tuple(options.values()), error.field)
        raise ConfigError(f"{option.name}: {error}" if option else str(error), field=error.field) from None
    except TypeError as error:
        missing = [o.name for o in options.values() if o.default is dataclasses.MISSING]
        raise ConfigError(f"{error}; required option(s): {', '.join(missing)}" if missing else str(error)) from None
    except ValueError as error:
        raise ConfigError(str(error)) from None
    run_table = {**run_table, "seed": chosen_seed}
    return config, run_table


def config_command(
    app: typer.Typer,
    config_cls: type,
    *,
    app_name: str,
    name: str | None = None,
    threads: int | None | str = "option",
    threads_default: int | None = None,
    device: str | None = None,
    uses_torch: bool = True,
) -> Callable[[Callable[[Any, Run], Any]], Callable[[Any, Run], Any]]:
    """Register ``body(config, run)`` as a command whose options are generated from ``config_cls``.

    Args:
        app: the application's Typer app.
        config_cls: the command's config dataclass.
        app_name: the application's name (run folders are ``runs/<app>-<command>-...``).
        name: the command's name (default: the body's name, ``_`` -> ``-``).
        threads: ``"option"`` for a ``--threads`` option, an int for a command that
            always runs on that many threads.
        threads_default: the default of ``--threads`` (None: all cores).
        uses_torch: False for a numpy-only command: torch is then never imported.
        device: the default of a ``--device`` option (cpu, cuda or auto); None for a
            command without one.

    The body returns the metrics dict, or ``(metrics, summary)``; the summary is printed.
    """

    def decorate(body: Callable[[Any, Run], Any]) -> Callable[[Any, Run], Any]:
        command_name = name or body.__name__.replace("_", "-")
        options = command_options(config_cls)

        def command(ctx: typer.Context, **kwargs: Any) -> None:
            given = {o.name: kwargs[o.param] for o in options if _given(ctx, o.param)}
            config_file = kwargs["config_file"]
            seed_given = _given(ctx, "seed")
            json_output = kwargs["json_output"]
            state: dict[str, Any] = {}
            with error_boundary(state):
                config, run_table = resolve_config(
                    config_cls,
                    given,
                    config_file=config_file,
                    seed=kwargs["seed"] if seed_given else None,
                )
                thread_count = _choose(kwargs, ctx, run_table, "threads", threads if isinstance(threads, int) else None)
                device_name = _choose(kwargs, ctx, run_table, "device", device) if device is not None else None
                if kwargs["print_config"]:
                    typer.echo(_toml(settings_document(config, run_table["seed"], thread_count, device_name)), nl=False)
                    return
                torch_device = _device(device_name) if device_name is not None else None
                out = kwargs["out"]
                if not is_main_process():
                    seed_everything(run_table["seed"], torch=uses_torch)
                    if uses_torch:
                        set_threads(thread_count)
                    run = Run(None, run_table["seed"], thread_count or 0, torch_device, json_output)
                    with native_threads(run.threads):
                        body(config, run)
                    return
                existed = out is not None and Path(out).exists()
                if existed and Path(out).is_dir():
                    config_path = Path(out) / "config.toml"
                    state["previous"] = {"config.toml": config_path.read_bytes() if config_path.is_file() else None}
                    record = _read_record(Path(out) / "run.json")
                    if isinstance(record, dict) and "previous_run" in record:  # a refused run's: the one before it
                        record = record["previous_run"]
                    state["previous_run"] = record
                run = start_run(
                    app_name,
                    command_name,
                    config,
                    out=out,
                    seed=run_table["seed"],
                    threads=thread_count,
                    device=device_name,
                    uses_torch=uses_torch,
                )
                state.update(folder=run.folder, created=not existed)
                run.device, run.json = torch_device, json_output
                with native_threads(run.threads):
                    result = body(config, run)
                metrics, summary = result if isinstance(result, tuple) else (result, None)
                finish_run(run, metrics, json_output, summary=summary)

        parameters = [
            inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
            *(_typer_parameter(o) for o in options),
            _keyword(
                "config_file",
                Path | None,
                typer.Option(
                    None,
                    "--config",
                    help="Replay a run: its config.toml; options given beside it override single settings.",
                    show_default=False,
                    exists=False,
                ),
            ),
            _keyword(
                "print_config",
                bool,
                typer.Option(False, "--print-config", help="Print the resolved settings as TOML and stop."),
            ),
            _keyword(
                "out",
                Path | None,
                typer.Option(
                    None,
                    "--out",
                    help="Run folder for config, metrics and figures [default: runs/<app>-<command>-<UTC time>].",
                    show_default=False,
                ),
            ),
            _keyword(
                "seed",
                int,
                typer.Option(
                    0, "--seed", min=0, max=2**32 - 1, help="Random seed; the same seed gives the same results."
                ),
            ),
            _keyword(
                "json_output",
                bool,
                typer.Option(False, "--json", help="Print the metrics as one JSON object on the last line of output."),
            ),
        ]
        if threads == "option":
            parameters.append(
                _keyword(
                    "threads",
                    int | None,
                    typer.Option(
                        threads_default,
                        "--threads",
                        min=1,
                        show_default=threads_default is not None,
                        help="torch threads" + ("." if threads_default is not None else " [default: all cores]."),
                    ),
                )
            )
        if device is not None:
            parameters.append(
                _keyword(
                    "device",
                    str,
                    typer.Option(device, "--device", help="cpu, cuda or auto (a GPU when one is visible)."),
                )
            )
        command.__signature__ = inspect.Signature(parameters)
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        command.__doc__ = body.__doc__
        command.__name__ = body.__name__
        command.config_class = config_cls  # for tests and docs
        app.command(name=command_name)(command)
        return body

    return decorate


def _keyword(name: str, annotation: Any, info: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation)


def _choose(kwargs: Mapping[str, Any], ctx: typer.Context, run_table: Mapping[str, Any], key: str, fixed: Any) -> Any:
    """A run setting: the option if given, else the replayed file's, else the default."""
    if key not in kwargs:
        return fixed
    if _given(ctx, key):
        return kwargs[key]
    return run_table.get(key, kwargs[key])


def _device(name: str):
    from sparse_core.infra.runtime import choose_device

    try:
        return choose_device(name)
    except ValueError as error:
        raise ConfigError(f"--device: {error}") from None


def _given(ctx: typer.Context, param: str) -> bool:
    """Whether the user set ``param`` (on the command line or through the environment)."""
    source = ctx.get_parameter_source(param)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def main_guard(function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a plain (non-config) command in the error boundary."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with error_boundary():
            return function(*args, **kwargs)

    return wrapper
