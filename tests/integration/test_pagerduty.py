"""PagerDuty through the real python-pagerduty client against the Events API v2 stand-in (HTTPS on
loopback): one incident per rollback that needs a person, resolved when it recovers or a person
acts, a change event per move of production, and never a rollback blocked by PagerDuty failing."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import requests
from prompt_rollback.domain.interactions import RecoveryCheck
from prompt_rollback.domain.requests import message_group_id
from prompt_rollback.slack import wiring as slack_wiring

from local_mode.pagerduty_events_server import ROUTING_KEY, PagerDutyEventsServer
from local_mode.service import DEMO_TOKEN
from tests.integration.conftest import Stack, reset_wiring
from tests.integration.slack_app_stack import APPROVER, AppStack, set_policy
from tests.waiting import wait_for

PROMPT = "support-answer"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pagerduty(stack: Stack) -> Iterator[PagerDutyEventsServer]:
    with PagerDutyEventsServer() as server:
        stack.monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
        stack.monkeypatch.setenv("PAGERDUTY_EVENTS_URL", server.url)
        stack.monkeypatch.setenv("PAGERDUTY_CA_FILE", server.ca_file)
        reset_wiring()
        yield server


def test_a_rollback_sends_one_change_event_and_opens_no_incident(stack: Stack, firing_body, pagerduty):
    stack.post(firing_body)
    stack.drain()
    stack.post(firing_body)  # re-sent by Alertmanager: the same rollback, nothing new to say
    stack.drain()
    [decision] = stack.decisions()
    assert decision["outcome"] == "rolled_back"
    [change] = pagerduty.changes
    assert "support-answer (langfuse) v7 -> v6" in change["payload"]["summary"]
    assert change["payload"]["custom_details"]["rollback_id"] == decision["request_id"]
    assert change["payload"]["timestamp"].endswith("Z")
    assert pagerduty.incidents == {}
    assert decision["pagerduty"] == {"status": "sent", "detail": ""}


def test_a_rollback_failing_its_last_attempt_opens_one_incident_and_a_redrive_resolves_it(
    stack: Stack, firing_body, pagerduty
):
    stack.langfuse.app.fail_next(503, count=100)
    stack.post(firing_body)
    stack.drain()
    [failed] = stack.decisions()
    assert failed["outcome"] == "failed"
    incident = pagerduty.incidents[failed["request_id"]]
    assert (incident.status, incident.triggers) == ("triggered", 1)  # the last attempt only
    assert "rollback failed" in incident.summary
    assert failed["pagerduty"]["status"] == "triggered"

    stack.langfuse.app.clear_faults()  # Langfuse is back; an operator redrives the parked request
    _redrive(stack)
    assert stack.production() == 6
    assert pagerduty.incidents[failed["request_id"]].status == "resolved"
    assert len(pagerduty.changes) == 1


def test_pagerduty_down_never_blocks_the_rollback_and_is_counted(
    stack: Stack, firing_body, pagerduty, capsys
):
    pagerduty.fail_next(503, count=100)
    stack.post(firing_body)
    stack.drain()
    assert stack.production() == 6
    [decision] = stack.decisions()
    assert decision["outcome"] == "rolled_back"
    assert decision["pagerduty"] == {"status": "failed", "detail": "HTTP 503: Internal server error"}
    assert stack.queue_depth(stack.resources.queue_url) == 0
    assert stack.queue_depth(stack.resources.dlq_url) == 0
    assert len(pagerduty.received) == 3  # the first try and two retries, then the rollback goes on
    printed = capsys.readouterr().out
    assert ROUTING_KEY not in printed and ROUTING_KEY not in json.dumps(stack.audit())
    lines = [json.loads(line) for line in printed.splitlines() if '"_aws"' in line]
    counted = [m["PagerDutyFailures"] for m in lines if "PagerDutyFailures" in m]
    assert sum(sum(v) if isinstance(v, list) else v for v in counted) == 1


def test_a_rate_limit_is_waited_out(stack: Stack, firing_body, pagerduty):
    pagerduty.fail_next(429, count=2)
    stack.post(firing_body)
    stack.drain()
    [decision] = stack.decisions()
    assert decision["pagerduty"]["status"] == "sent"
    assert len(pagerduty.changes) == 1


def test_a_placeholder_routing_key_sends_nothing_and_fails_nothing(stack: Stack, firing_body, pagerduty):
    stack.monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", "q8Zr7xLw0PpK2mN4vB6c")  # the CDK app's placeholder
    reset_wiring()
    stack.post(firing_body)
    stack.drain()
    [decision] = stack.decisions()
    assert (decision["outcome"], decision["pagerduty"]["status"]) == ("rolled_back", "not_configured")
    assert pagerduty.received == []


def test_a_proposal_pages_and_its_approval_resolves_the_incident(app_stack: AppStack, firing_body, pagerduty):
    set_policy(app_stack, approvers=[APPROVER], prompts={"support-*": {"mode": "approval"}})
    app_stack.stack.post(firing_body)
    app_stack.stack.drain()
    [proposal] = app_stack.stack.decisions(PROMPT)
    assert pagerduty.incidents[proposal["request_id"]].status == "triggered"
    assert "waiting for approval" in pagerduty.incidents[proposal["request_id"]].summary
    app_stack.click(proposal["request_id"], "approve")
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 6
    assert pagerduty.incidents[proposal["request_id"]].history == ["trigger", "resolve"]
    [change] = pagerduty.changes
    assert change["payload"]["custom_details"]["rollback_id"] == f"approve-{proposal['request_id']}"


def test_a_rejection_resolves_the_incident_and_is_on_the_record(app_stack: AppStack, firing_body, pagerduty):
    set_policy(app_stack, approvers=[APPROVER], prompts={"support-*": {"mode": "approval"}})
    app_stack.stack.post(firing_body)
    app_stack.stack.drain()
    [proposal] = app_stack.stack.decisions(PROMPT)
    app_stack.click(proposal["request_id"], "reject")
    app_stack.stack.drain()
    assert pagerduty.incidents[proposal["request_id"]].status == "resolved"
    rejected = app_stack.stack.audit(PROMPT)[-1]
    assert (rejected["outcome"], rejected["pagerduty"]["status"]) == ("rejected", "resolved")
    assert pagerduty.changes == []


def test_an_overdue_recovery_pages_once_and_the_late_recovery_resolves_it(
    app_stack: AppStack, firing_body, resolved_body, pagerduty, monkeypatch
):
    app_stack.stack.post(firing_body)
    app_stack.stack.drain()
    [decision] = app_stack.stack.decisions(PROMPT)
    rollback_id = decision["request_id"]
    later = datetime.now(UTC) + timedelta(minutes=31)
    monkeypatch.setattr(slack_wiring, "now", lambda: later)
    _deliver_check(app_stack.stack, rollback_id, "first")
    _deliver_check(app_stack.stack, rollback_id, "again")  # a repeated check: no second incident
    incident = pagerduty.incidents[rollback_id]
    assert (incident.status, incident.triggers) == ("triggered", 1)
    assert "recovery overdue" in incident.summary
    overdue = app_stack.stack.audit(PROMPT)[-1]
    assert (overdue["outcome"], overdue["pagerduty"]["status"]) == ("recovery_overdue", "triggered")

    body = copy.deepcopy(resolved_body)
    for alert in body["alerts"]:
        alert["endsAt"] = later.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    app_stack.stack.post(body)
    app_stack.stack.drain()
    assert pagerduty.incidents[rollback_id].status == "resolved"
    recovered = app_stack.stack.audit(PROMPT)[-1]
    assert (recovered["outcome"], recovered["pagerduty"]["status"]) == ("recovered", "resolved")


def test_an_undo_resolves_the_rollbacks_incident_and_sends_its_own_change_event(
    app_stack: AppStack, firing_body, pagerduty, monkeypatch
):
    app_stack.stack.post(firing_body)
    app_stack.stack.drain()
    [decision] = app_stack.stack.decisions(PROMPT)
    monkeypatch.setattr(slack_wiring, "now", lambda: datetime.now(UTC) + timedelta(minutes=31))
    _deliver_check(app_stack.stack, decision["request_id"], "overdue")
    app_stack.click(decision["request_id"], "undo")
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 7
    assert pagerduty.incidents[decision["request_id"]].status == "resolved"
    assert [c["payload"]["custom_details"]["rollback_id"] for c in pagerduty.changes] == [
        decision["request_id"],
        f"undo-{decision['request_id']}",
    ]


def _deliver_check(stack: Stack, rollback_id: str, dedup: str) -> None:
    check = RecoveryCheck(rollback_id=rollback_id, provider="langfuse", prompt_name=PROMPT)
    boto3.client("sqs").send_message(
        QueueUrl=stack.resources.queue_url,
        MessageBody=check.model_dump_json(),
        MessageGroupId=message_group_id("langfuse", PROMPT),
        MessageDeduplicationId=f"check-{rollback_id}-{dedup}",
    )
    stack.drain()


def _redrive(stack: Stack) -> None:
    """What an operator's DLQ redrive does: the parked message back on the queue, as it was."""
    sqs = boto3.client("sqs")
    [parked] = sqs.receive_message(QueueUrl=stack.resources.dlq_url, AttributeNames=["All"])["Messages"]
    sqs.send_message(
        QueueUrl=stack.resources.queue_url,
        MessageBody=parked["Body"],
        MessageGroupId=parked["Attributes"]["MessageGroupId"],
        MessageDeduplicationId="redrive",
    )
    sqs.delete_message(QueueUrl=stack.resources.dlq_url, ReceiptHandle=parked["ReceiptHandle"])
    stack.drain()


def test_local_mode_with_a_routing_key_prints_what_pagerduty_receives(local_mode_factory):
    local = local_mode_factory({"PAGERDUTY_ROUTING_KEY": ROUTING_KEY})
    service = local.service
    assert service.pagerduty is not None
    demo = (REPO / "examples" / "alert-firing.json").read_bytes()
    response = requests.post(
        f"{service.url}/alerts",
        data=demo,
        headers={"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 202
    wait_for("the change event", lambda: "[pagerduty] change event" in local.console(), watched=local)
    assert "support-answer (langfuse) v7 -> v6: production moved by prompt-rollback" in local.console()
    assert len(service.pagerduty.changes) == 1
