"""Local mode takes a Grafana body at /alerts and replays SNS/EventBridge events at /events,
over real HTTP on loopback, into the real handlers, queue, worker and audit ledger."""

from __future__ import annotations

import pytest
import requests

from local_mode.service import DEMO_TOKEN
from tests.integration.conftest import LocalMode
from tests.unit.sources_fixtures import SOURCES
from tests.waiting import wait_for

JSON = {"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"}


def test_grafana_body_at_alerts_rolls_back(local_mode: LocalMode):
    service = local_mode.service
    response = requests.post(
        f"{service.url}/alerts",
        data=(SOURCES / "grafana-prompt-firing.json").read_bytes(),
        headers=JSON,
        timeout=10,
    )
    assert response.status_code == 202
    assert response.json()["accepted"][0]["prompt_name"] == "support-answer"
    wait_for("the rollback", lambda: "[worker] rolled_back" in local_mode.console(), watched=local_mode)
    assert service.langfuse is not None
    assert service.langfuse.store.production_version("support-answer") == 6


@pytest.mark.parametrize("fixture", ["cloudwatch-alarm-prompt.json", "amp-json-template.sns.json"])
def test_replayed_event_at_events_rolls_back(local_mode: LocalMode, fixture: str):
    service = local_mode.service
    response = requests.post(
        f"{service.url}/events", data=(SOURCES / fixture).read_bytes(), headers=JSON, timeout=10
    )
    assert response.status_code == 200
    [accepted] = response.json()["accepted"]
    assert accepted["prompt_name"] == "support-answer"
    wait_for("the rollback", lambda: "[worker] rolled_back" in local_mode.console(), watched=local_mode)


def test_events_route_says_why_nothing_was_queued(local_mode: LocalMode):
    service = local_mode.service
    response = requests.post(
        f"{service.url}/events",
        data=(SOURCES / "amp-text-format.sns.json").read_bytes(),
        headers=JSON,
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == []
    assert "default text format" in response.json()["skipped"][0]["reason"]


def test_events_route_checks_the_token_before_the_body_and_refuses_other_shapes(local_mode: LocalMode):
    service = local_mode.service
    wrong = {**JSON, "Authorization": "Bearer nope"}
    assert (
        requests.post(f"{service.url}/events", data=b"{not json", headers=wrong, timeout=10).status_code
        == 401
    )
    assert (
        requests.post(f"{service.url}/events", data=b"{not json", headers=JSON, timeout=10).status_code == 400
    )
    response = requests.post(f"{service.url}/events", data=b'{"hello": "world"}', headers=JSON, timeout=10)
    assert response.status_code == 422
