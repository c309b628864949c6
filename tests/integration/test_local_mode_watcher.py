"""The README's fastest path: local mode with the watcher on, and the seeded regressing demo
traffic rolls v7 back with no alert sent by hand. The real local mode, over loopback."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator

import pytest

from local_mode.service import LocalService, LocalSettings
from tests.integration.test_local_mode import wait_for


@pytest.fixture
def watching() -> Iterator[tuple[LocalService, io.StringIO]]:
    saved = dict(os.environ)
    for name in (
        "AWS_ENDPOINT_URL",
        "LANGFUSE_HOST",
        "LANGFUSE_PUBLIC_KEY",
        "LANGFUSE_SECRET_KEY",
        "SLACK_WEBHOOK_URL",
        "ROLLBACK_POLICY",
        "AWS_PROFILE",
        "WATCHER_CONFIG",
    ):
        os.environ.pop(name, None)
    # `for:` 0 instead of the demo's one minute keeps the test short.
    os.environ["WATCHER_CONFIG"] = json.dumps({"triggers": {"exact_match": {"for_minutes": 0}}})
    out = io.StringIO()
    settings = LocalSettings(port=0, aws_port=0, poll_wait_seconds=1, watch_every_seconds=1)
    service = LocalService(settings, out=out).start()
    try:
        yield service, out
    finally:
        service.stop()
        os.environ.clear()
        os.environ.update(saved)


def test_demo_regression_is_rolled_back_by_the_watcher_with_no_alert(watching):
    service, out = watching
    assert service.langfuse is not None
    assert wait_for(lambda: service.langfuse.store.production_version("support-answer") == 6, 30)
    assert wait_for(lambda: "[watcher] resolved: support-answer v7 exact_match" in out.getvalue(), 15)
    text = out.getvalue()
    assert "[watcher] firing: support-answer v7 exact_match (rollback queued)" in text
    assert "[worker] rolled_back: support-answer v7 -> v6" in text
    assert "[webhook]" not in text, "no alert went through the webhook"
    assert text.count("[worker] rolled_back") == 1
