"""CloudTrail pointer changes (EventBridge envelope) -> change records in the pointer's chain (moto)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from prompt_rollback import wiring
from prompt_rollback.changes import cloudtrail_handler as cloudtrail_events
from prompt_rollback.domain.audit import verify_chain

from local_mode.lambda_runtime import LocalLambdaContext
from tests.integration.conftest import Stack

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cloudtrail"
WORKER_ROLE = "arn:aws:iam::111122223333:role/PromptRollback-prod-WorkerRole"
PROMPT_ARN = "arn:aws:bedrock:us-east-1:111122223333:prompt/PROMPT1234"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def deliver(event: dict[str, Any]) -> dict[str, Any]:
    return cloudtrail_events.lambda_handler(event, LocalLambdaContext("cloudtrail-changes"))


def chain(stack: Stack, pointer: str) -> list[dict[str, Any]]:
    return list(wiring.audit_ledger().chain(f"bedrock#{pointer}"))


@pytest.fixture
def trail_stack(stack: Stack) -> Stack:
    stack.monkeypatch.setenv("OWN_ROLE_ARNS", WORKER_ROLE)
    return stack


def test_agent_alias_update_is_recorded_with_who_when_and_request_id(trail_stack: Stack):
    result = deliver(fixture("update-agent-alias"))
    assert result["status"] == "recorded"
    [change] = chain(trail_stack, "agent-alias/AGENT12345/ALIAS12345")
    assert change["kind"] == "change" and change["to_version"] == 6
    assert change["actor"] == "arn:aws:sts::111122223333:assumed-role/PromptOps/jane.doe"
    assert change["changed_at"] == "2026-04-17T14:22:08.000000Z"
    assert change["source_request_id"] == "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    assert change["provider_target"] == {"bedrock_agent_id": "AGENT12345", "bedrock_alias_id": "ALIAS12345"}


def test_eventbridge_redelivery_records_nothing_more_and_the_next_move_knows_its_from(trail_stack: Stack):
    event = fixture("update-flow-alias")
    deliver(event)
    assert deliver(event)["status"] == "ignored"
    later = copy.deepcopy(event)
    later["detail"].update(eventID="later-event-id", eventTime="2026-04-17T15:02:00Z")
    later["detail"]["requestParameters"]["routingConfiguration"] = [{"flowVersion": "4"}]
    deliver(later)
    records = chain(trail_stack, "flow-alias/FLOW123456/FALIAS1234")
    assert [(r["from_version"], r["to_version"]) for r in records] == [(None, 3), (3, 4)]
    assert verify_chain(records) == []


def test_put_parameter_reads_the_new_value_from_the_parameter_history(trail_stack: Stack):
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/prompts/support/production", Value=f"{PROMPT_ARN}:3", Type="String")
    ssm.put_parameter(
        Name="/prompts/support/production", Value=f"{PROMPT_ARN}:4", Type="String", Overwrite=True
    )
    deliver(fixture("put-parameter"))
    [change] = chain(trail_stack, "parameter/prompts/support/production")
    assert (change["to_version"], change["actor"]) == (4, "arn:aws:iam::111122223333:user/ci-deployer")


def test_our_own_roles_calls_and_failed_calls_are_not_changes(trail_stack: Stack):
    ours = fixture("update-agent-alias")
    ours["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = WORKER_ROLE
    assert deliver(ours)["status"] == "ignored"
    failed = fixture("update-agent-alias")
    failed["detail"]["errorCode"] = "AccessDenied"
    assert deliver(failed)["status"] == "ignored"
    assert chain(trail_stack, "agent-alias/AGENT12345/ALIAS12345") == []
