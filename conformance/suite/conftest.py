"""The fixtures of the lifecycle call, shared by test_lifecycle.py (its create, get and list) and
test_lifecycle_end.py (its end and its delete): what the background lifecycle watch recorded, in the order a
client makes the requests. Each waits for its record."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.evidence.watches.lifecycle import Created, Deletion, Life, LifecycleWatch, start_lifecycle
from conformance.runner.console import progress_writer


def _watch(request: pytest.FixtureRequest, run) -> LifecycleWatch:
    """The run's lifecycle watch (started with the session; started now when it was not)."""
    watch = run.timeline.watches.get(LifecycleWatch.name)
    if watch is None:
        watch = start_lifecycle(run)
    return watch


def _wait(request: pytest.FixtureRequest, watch: LifecycleWatch, event, record: Any) -> Any:
    """Wait for one of the watch's records; a failed exchange that stopped it fails the test as it would have."""
    watch.wait(event, progress_writer(request.config))
    value = record()
    if value is None:
        if watch.failure is not None:
            raise watch.failure
        pytest.skip(watch.skip_reason or "the lifecycle watch did not get that far")
    return value


def _sid_of(created: Created) -> str:
    if created.sid is None:
        pytest.skip(f"the create answered {created.response.status} without a sid: see CALLS-CREATE-SUCCESS")
    return created.sid


@pytest.fixture(scope="module")
def lifecycle(request, run) -> LifecycleWatch:
    return _watch(request, run)


@pytest.fixture(scope="module")
def created(request, lifecycle: LifecycleWatch) -> Created:
    """The create, the gets right after it (settle retries), and a list at once."""
    return _wait(request, lifecycle, lifecycle.created_done, lambda: lifecycle.created)


@pytest.fixture(scope="module")
def life(request, lifecycle: LifecycleWatch, created: Created) -> Life:
    """The gets until the call ended (or the call timeout passed), then a few more."""
    _sid_of(created)
    return _wait(request, lifecycle, lifecycle.ended, lambda: lifecycle.life)


@pytest.fixture(scope="module")
def deletion(request, lifecycle: LifecycleWatch, created: Created, life: Life) -> Deletion:
    """The delete of the ended call, then get, list, another call of the account, and a second delete."""
    _sid_of(created)
    return _wait(request, lifecycle, lifecycle.done, lambda: lifecycle.deletion)


@pytest.fixture
def created_sid(created: Created) -> str:
    """The created call's sid; the test is skipped when the create gave none."""
    return _sid_of(created)
