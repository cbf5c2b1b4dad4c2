"""Every application command is generated from its config: no option default differs from its field's."""

import dataclasses
import importlib

import pytest
import typer

from sparse_core.infra.clikit import command_options
from sparseworks.cli import APPLICATIONS


def _commands():
    for app_name, (module_name, _) in APPLICATIONS.items():
        app = importlib.import_module(module_name).app
        for info in app.registered_commands:
            yield pytest.param(app_name, info, id=f"{app_name}-{info.name or info.callback.__name__}")


@pytest.mark.parametrize(("app_name", "info"), list(_commands()))
def test_every_option_default_is_its_config_default(app_name, info):
    config_class = getattr(info.callback, "config_class", None)
    assert config_class is not None, f"{app_name} {info.name}: not generated from a config (use config_command)"
    command = typer.main.get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=None)
    params = {p.name: p for p in command.params}
    for option in command_options(config_class):
        param = params[option.param]
        assert option.name in param.opts
        if option.default is dataclasses.MISSING or option.default is None:
            assert param.default is None
        elif option.kind is tuple:
            assert param.default == ",".join(str(v) for v in option.default)
            assert option.parse(param.default) == option.default
        else:
            assert param.default == option.default, f"{option.name}: {param.default!r} != {option.default!r}"
    shared = {"--config", "--print-config", "--out", "--seed", "--json"}
    assert shared <= {opt for p in command.params for opt in p.opts}
