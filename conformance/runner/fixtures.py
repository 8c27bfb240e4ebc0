"""The fixtures the suite's tests build on: the run, its target settings, a client per account, the call
budget."""

from __future__ import annotations

import pytest

from conformance.runner.budget import CallBudget
from conformance.runner.run import Run, current_run
from conformance.deployment import config as configuration
from conformance.deployment.api import ApiClient
from conformance.deployment.config import TargetConfig


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> Run:
    return current_run(request.config)


@pytest.fixture(scope="session")
def target(run: Run) -> TargetConfig:
    return run.config


@pytest.fixture(scope="session")
def api(run: Run) -> ApiClient:
    return run.api


@pytest.fixture(scope="session")
def other_api(run: Run) -> ApiClient:
    if run.other_api is None:
        pytest.skip("no second account configured: "
                    + configuration.ways_to_give("other-account-sid", ("other-token", "other-token-file")))
    return run.other_api


@pytest.fixture(scope="session")
def calls(run: Run) -> CallBudget:
    return run.budget
