"""Grafana's webhook contact point posting to POST /alerts: same Bearer token, optional HMAC signing."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from typing import Any

import boto3
import pytest
from prompt_rollback.sources import webhook_handler as webhook

from local_mode.lambda_runtime import LocalLambdaContext, api_gateway_event
from tests.integration.conftest import TOKEN, Stack, reset_wiring
from tests.unit.sources_fixtures import SOURCES, source_fixture

HMAC_SECRET = "grafana-contact-point-hmac-secret"
SIGNATURE = "X-Grafana-Alerting-Signature"
TIMESTAMP = "X-Grafana-Alerting-Timestamp"


def post(raw: bytes, headers: dict[str, str] | None = None, token: str | None = TOKEN) -> tuple[int, Any]:
    all_headers = {"Content-Type": "application/json", "User-Agent": "Grafana", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    result = webhook.lambda_handler(
        api_gateway_event("POST", "/alerts", all_headers, raw), LocalLambdaContext("webhook")
    )
    return int(result["statusCode"]), json.loads(result.get("body") or "{}")


def queue_depth(stack: Stack) -> int:
    return stack.queue_depth(stack.resources.queue_url)


def signed_headers(raw: bytes, at: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if at is None else at)
    signature = hmac.new(HMAC_SECRET.encode(), f"{timestamp}:".encode() + raw, hashlib.sha256).hexdigest()
    return {SIGNATURE: signature, TIMESTAMP: timestamp}


@pytest.fixture
def signing(stack: Stack) -> Stack:
    """The stack with Grafana HMAC signing configured (secret + timestamp header)."""
    boto3.client("secretsmanager").create_secret(Name="grafana-hmac", SecretString=HMAC_SECRET)
    stack.monkeypatch.setenv("GRAFANA_HMAC_SECRET_NAME", "grafana-hmac")
    stack.monkeypatch.setenv("GRAFANA_TIMESTAMP_HEADER", TIMESTAMP)
    reset_wiring()
    return stack


def test_grafana_body_is_accepted_queued_and_rolled_back(stack: Stack):
    status, body = post((SOURCES / "grafana-prompt-firing.json").read_bytes())
    assert status == 202
    [accepted] = body["accepted"]
    assert (accepted["prompt_name"], accepted["prompt_version"]) == ("support-answer", 7)
    stack.drain()
    assert stack.production() == 6
    [decision] = stack.decisions()
    assert decision["trigger"]["fingerprint"] == "3f9a1c2b4d5e6f70"
    assert decision["trigger"]["external_url"] == "https://example.grafana.net/"


def test_grafana_documented_example_is_202_with_each_alert_skipped_and_why(stack: Stack):
    status, body = post((SOURCES / "grafana-documented.json").read_bytes())
    assert status == 202
    assert body["accepted"] == []
    assert [s["reason"] for s in body["skipped"]] == ["missing label prompt_name"] * 2
    assert queue_depth(stack) == 0


def test_grafana_body_with_zero_alerts_is_202_and_queues_nothing(stack: Stack):
    status, body = post((SOURCES / "grafana-zero-alerts.json").read_bytes())
    assert (status, body) == (202, {"accepted": [], "skipped": [], "truncatedAlerts": 0})
    assert queue_depth(stack) == 0


def test_grafana_needs_the_same_bearer_token(stack: Stack):
    raw = (SOURCES / "grafana-prompt-firing.json").read_bytes()
    assert post(raw, token=None)[0] == 401
    assert post(raw, token="wrong")[0] == 401
    assert queue_depth(stack) == 0


def test_malformed_grafana_body_is_422_with_locations_and_no_echo(stack: Stack):
    broken = source_fixture("grafana-prompt-firing.json")
    broken["state"] = "<!channel> pending"
    broken["alerts"][0]["values"] = {"A": "lots"}
    status, body = post(json.dumps(broken).encode())
    assert status == 422
    assert {"state", "alerts.0.values.A"} <= {d["loc"] for d in body["details"]}
    assert "<!channel>" not in json.dumps(body)
    assert queue_depth(stack) == 0


# ---- HMAC signing configured --------------------------------------------------------------------
def test_signed_grafana_request_is_accepted(signing: Stack):
    raw = (SOURCES / "grafana-prompt-firing.json").read_bytes()
    status, body = post(raw, signed_headers(raw))
    assert status == 202
    assert len(body["accepted"]) == 1


def test_forged_signature_is_401_and_queues_nothing(signing: Stack):
    raw = (SOURCES / "grafana-prompt-firing.json").read_bytes()
    headers = signed_headers(raw)
    headers[SIGNATURE] = hmac.new(
        b"not-the-secret", f"{headers[TIMESTAMP]}:".encode() + raw, "sha256"
    ).hexdigest()
    assert post(raw, headers) == (401, {"error": "invalid Grafana signature"})
    tampered = raw.replace(b'"prompt_version": "7"', b'"prompt_version": "6"')
    assert post(tampered, signed_headers(raw))[0] == 401
    assert queue_depth(signing) == 0


def test_expired_signature_is_401(signing: Stack):
    raw = (SOURCES / "grafana-prompt-firing.json").read_bytes()
    status, body = post(raw, signed_headers(raw, at=int(time.time()) - 600))
    assert status == 401
    assert "expired" in body["error"]
    assert queue_depth(signing) == 0


def test_replayed_request_within_the_window_queues_one_rollback(signing: Stack):
    raw = (SOURCES / "grafana-prompt-firing.json").read_bytes()
    headers = signed_headers(raw)
    first = post(raw, headers)
    replay = post(raw, copy.deepcopy(headers))
    assert first[0] == replay[0] == 202
    assert first[1]["accepted"][0]["rollback_id"] == replay[1]["accepted"][0]["rollback_id"]
    assert queue_depth(signing) == 1  # the same rollback id: FIFO deduplication drops the replay
    signing.drain()
    assert signing.label_moves() == 1


def test_unsigned_grafana_body_is_refused_when_signing_is_configured(signing: Stack):
    raw = (SOURCES / "grafana-prompt-firing.json").read_bytes()
    status, body = post(raw)
    assert status == 401
    assert SIGNATURE in body["error"]
    assert queue_depth(signing) == 0


def test_signature_is_checked_before_the_body_is_parsed(signing: Stack):
    raw = b'{"version": "1", "orgId": '
    assert post(raw, {SIGNATURE: "0" * 64, TIMESTAMP: str(int(time.time()))})[0] == 401


def test_alertmanager_bodies_need_no_grafana_signature(signing: Stack, firing_body):
    status, body = post(json.dumps(firing_body).encode())
    assert status == 202
    assert body["accepted"]
