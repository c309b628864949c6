"""POST /langfuse/events with Langfuse monitor alerts: signed bodies, the ledger's moves, moto SQS."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Stack, reset_wiring
from tests.integration.test_langfuse_handler import deliver, send
from tests.langfuse_webhooks import SECRET, js_date, prompt_event, serialize, sign

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "langfuse" / "monitor-alert.json"
ALICE = {"name": "Alice Ops", "email": "alice@example.com"}


@pytest.fixture
def events_stack(stack: Stack) -> Stack:
    stack.monkeypatch.setenv("LANGFUSE_WEBHOOK_SECRET", SECRET)
    reset_wiring()
    return stack


def monitor_alert(alert_id: str, window: str = "1h", ends: datetime | None = None) -> dict[str, Any]:
    """The fixture, its window ending now (Langfuse evaluates, then posts within seconds)."""
    body: dict[str, Any] = copy.deepcopy(json.loads(FIXTURE.read_text()))
    end = ends or datetime.now(UTC).replace(microsecond=0)
    length = {"1h": timedelta(hours=1), "4h": timedelta(hours=4)}[window]
    body["id"] = alert_id
    body["timestamp"] = js_date(datetime.now(UTC))
    body["payload"].update(
        timestamp=js_date(end),
        fromTimestamp=js_date(end - length),
        toTimestamp=js_date(end),
        window=window,
    )
    return body


def moved_to(stack: Stack, version: int, ago: timedelta, event_id: str) -> None:
    """Someone moved production to `version` in Langfuse's UI `ago` ago; its webhook was recorded."""
    stack.langfuse.store.set_labels("support-answer", version, ["production"])
    event = prompt_event(
        event_id, "support-answer", version, ["production"], changed_at=datetime.now(UTC) - ago, user=ALICE
    )
    assert send(event)[0] == 200


def test_an_alert_on_the_version_live_for_the_whole_window_queues_one_rollback(events_stack: Stack):
    stack = events_stack
    moved_to(stack, 7, timedelta(hours=3), "evt_to7")
    status, answer = send(monitor_alert("exe_held"))
    assert status == 200
    assert (answer["status"], answer["prompt_name"], answer["version"]) == ("queued", "support-answer", 7)
    assert answer["request_id"].startswith("rb-")
    # Langfuse retrying the same execution: answered from memory, nothing queued twice.
    again = send(monitor_alert("exe_held"))
    assert again[0] == 200 and again[1]["request_id"] == answer["request_id"]
    assert again[1]["replayed"] is True
    assert stack.queue_depth(stack.resources.queue_url) == 1
    # The same path an Alertmanager alert takes: the worker rolls v7 back to v6 and audits it.
    stack.drain()
    assert stack.production() == 6
    decisions = stack.decisions()
    assert [(d["outcome"], d["from_version"], d["to_version"]) for d in decisions] == [("rolled_back", 7, 6)]
    assert decisions[0]["request_id"] == answer["request_id"]


def test_a_move_inside_the_window_is_skipped_and_says_when(events_stack: Stack):
    stack = events_stack
    moved_to(stack, 6, timedelta(days=1), "evt_to6")
    moved_to(stack, 7, timedelta(minutes=20), "evt_to7")
    status, answer = send(monitor_alert("exe_straddles"))
    assert status == 200 and answer["status"] == "skipped"
    assert "production moved from v6 to v7 at " in answer["detail"]
    assert "inside the monitor's 1h window" in answer["detail"]
    assert "not rolling back a version that was not live for the whole window" in answer["detail"]
    assert stack.queue_depth(stack.resources.queue_url) == 0
    assert stack.production() == 7


def test_no_change_on_record_is_skipped_with_what_to_do(events_stack: Stack):
    status, answer = send(monitor_alert("exe_unknown"))
    assert status == 200 and answer["status"] == "skipped"
    assert answer["detail"].startswith("no production change for support-answer on record")
    assert events_stack.queue_depth(events_stack.resources.queue_url) == 0


def test_forged_and_expired_alert_signatures_are_401_and_queue_nothing(events_stack: Stack):
    stack = events_stack
    moved_to(stack, 7, timedelta(hours=3), "evt_to7")
    body = serialize(monitor_alert("exe_forged"))
    assert deliver(body, None)[0] == 401
    assert deliver(body, sign(body, secret="lf-whsec_forged"))[0] == 401
    assert deliver(body, sign(body, timestamp=int(time.time()) - 301))[0] == 401
    tampered = body.replace(b'"severity":"ALERT"', b'"severity":"ALERT" ')
    assert deliver(tampered, sign(body))[0] == 401
    assert stack.queue_depth(stack.resources.queue_url) == 0


def test_a_malformed_alert_with_a_valid_signature_is_422_and_queues_nothing(events_stack: Stack):
    body = monitor_alert("exe_bad")
    del body["payload"]["monitorId"]
    status, answer = send(body)
    assert status == 422 and "monitor-alert" in answer["error"]
    assert events_stack.queue_depth(events_stack.resources.queue_url) == 0


def test_the_alert_automation_may_have_its_own_secret_beside_the_prompt_automations(events_stack: Stack):
    """Langfuse issues one secret per automation; both go in the secret, one a line."""
    stack = events_stack
    alert_secret = "lf-whsec_" + "a1" * 32
    stack.monkeypatch.setenv("LANGFUSE_WEBHOOK_SECRET", f"{SECRET}\n{alert_secret}\n")
    reset_wiring()
    moved_to(stack, 7, timedelta(hours=3), "evt_to7")  # signed with the prompt automation's secret
    body = serialize(monitor_alert("exe_own_secret"))
    status, answer = deliver(body, sign(body, secret=alert_secret))
    assert status == 200 and answer["status"] == "queued"
    assert deliver(body, sign(body, secret="lf-whsec_" + "b2" * 32))[0] == 401


def test_the_secret_in_secrets_manager_holds_both_automations_and_survives_a_rotation(events_stack: Stack):
    import boto3

    stack = events_stack
    alert_secret, rotated_alert_secret = "lf-whsec_" + "c3" * 32, "lf-whsec_" + "d4" * 32
    client = boto3.client("secretsmanager")
    client.create_secret(Name="t/langfuse-webhook-secret", SecretString=f"{SECRET}\n{alert_secret}")
    stack.monkeypatch.delenv("LANGFUSE_WEBHOOK_SECRET")
    stack.monkeypatch.setenv("LANGFUSE_WEBHOOK_SECRET_NAME", "t/langfuse-webhook-secret")
    reset_wiring()
    moved_to(stack, 7, timedelta(hours=3), "evt_to7")
    first = serialize(monitor_alert("exe_sm_1"))
    assert deliver(first, sign(first, secret=alert_secret))[1]["status"] == "queued"
    # The Alert automation's secret regenerated: the new value holds both again, the old one
    # (AWSPREVIOUS) still verifies for deliveries already on their way.
    client.put_secret_value(
        SecretId="t/langfuse-webhook-secret", SecretString=f"{SECRET}\n{rotated_alert_secret}"
    )
    reset_wiring()
    second = serialize(monitor_alert("exe_sm_2"))
    assert deliver(second, sign(second, secret=rotated_alert_secret))[0] == 200
    third = serialize(monitor_alert("exe_sm_3"))
    assert deliver(third, sign(third, secret=alert_secret))[0] == 200


def test_a_hundred_skips_after_the_move_do_not_hide_it_from_a_monitor_alert(events_stack: Stack, firing_body):
    stack = events_stack
    moved_to(stack, 7, timedelta(hours=3), "evt_to7")
    # A flapping alert about v5, long gone: a hundred skips recorded after the move.
    stale = copy.deepcopy(firing_body)
    [alert] = stale["alerts"]
    alert["labels"]["prompt_version"] = "5"
    for flap in range(100):
        alert["fingerprint"] = f"{flap:016x}"
        assert stack.post(stale)[0] == 202
    stack.drain(max_batches=200)
    assert len(stack.decisions()) == 100
    status, answer = send(monitor_alert("exe_after_flood"))
    assert status == 200 and (answer["status"], answer["version"]) == ("queued", 7)
