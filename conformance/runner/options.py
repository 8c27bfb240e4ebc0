"""The suite's options as pytest options: every option of conformance/deployment/config.py, read back into the
values `config.resolve` takes."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.deployment import config as configuration

_STRICT_PYTEST_NAME = "should-strict"  # pytest owns --strict; the console command maps its --strict here


def pytest_name(option: configuration.Option) -> str:
    """The option's name on pytest's command line."""
    return _STRICT_PYTEST_NAME if option.name == "strict" else option.name


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("calls-api", "Calls API conformance target")
    for option in configuration.OPTIONS:
        kwargs: dict[str, Any] = {"dest": f"calls_{option.dest}", "help": f"{option.help} [env {option.env}]"}
        if option.is_flag:
            kwargs.update(action="store_true", default=None)
        else:
            kwargs.update(default=None, metavar=option.metavar)
        group.addoption(f"--{pytest_name(option)}", **kwargs)
    group.addoption("--html-report", dest="calls_html_report", action="store_true", default=False,
                    help="Render the Allure HTML report before the verdict (calls-conformance does, unless --no-html).")


def given(config: pytest.Config) -> dict[str, Any] | None:
    """The values given on pytest's command line, by option dest (None: the suite's options are not loaded)."""
    if not hasattr(config.option, "calls_base_url"):
        return None
    return {option.dest: getattr(config.option, f"calls_{option.dest}") for option in configuration.OPTIONS}
