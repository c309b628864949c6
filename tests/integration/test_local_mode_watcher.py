"""The README's fastest path: local mode with the watcher on, and the seeded regressing demo
traffic rolls v7 back with no alert sent by hand. The real local mode, over loopback."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import LocalMode, StartLocalMode
from tests.waiting import wait_for


@pytest.fixture
def watching(local_mode_factory: StartLocalMode) -> LocalMode:
    # `for:` 0 instead of the demo's one minute keeps the test short.
    config = json.dumps({"triggers": {"exact_match": {"for_minutes": 0}}})
    return local_mode_factory(environment={"WATCHER_CONFIG": config}, watch_every_seconds=1)


def test_demo_regression_is_rolled_back_by_the_watcher_with_no_alert(watching: LocalMode):
    service = watching.service
    assert service.langfuse is not None
    store = service.langfuse.store
    wait_for(
        "the rollback to v6",
        lambda: store.production_version("support-answer") == 6,
        timeout=30,
        watched=watching,
    )
    wait_for(
        "the watcher to resolve",
        lambda: "[watcher] resolved: support-answer v7 exact_match" in watching.console(),
        timeout=15,
        watched=watching,
    )
    text = watching.console()
    assert "[watcher] firing: support-answer v7 exact_match (rollback queued)" in text
    assert "[worker] rolled_back: support-answer v7 -> v6" in text
    assert "[webhook]" not in text, "no alert went through the webhook"
    assert text.count("[worker] rolled_back") == 1
