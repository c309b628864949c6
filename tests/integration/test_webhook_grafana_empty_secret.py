"""An empty Grafana signing secret must not turn HMAC verification into a check anyone passes:
HMAC with an empty key is a signature anyone can compute."""

from __future__ import annotations

import hashlib
import hmac

import boto3
import pytest

from tests.integration.conftest import Stack, reset_wiring
from tests.integration.test_webhook_handler_grafana import SIGNATURE, post, queue_depth
from tests.unit.sources_fixtures import SOURCES


@pytest.mark.parametrize("stored", ["   ", "\n", "\t\r\n"])  # Secrets Manager refuses ""
def test_an_empty_signing_secret_refuses_every_grafana_body(stack: Stack, stored: str):
    boto3.client("secretsmanager").create_secret(Name="grafana-hmac", SecretString=stored)
    stack.monkeypatch.setenv("GRAFANA_HMAC_SECRET_NAME", "grafana-hmac")
    reset_wiring()
    raw = (SOURCES / "grafana-prompt-firing.json").read_bytes()
    forged = hmac.new(b"", raw, hashlib.sha256).hexdigest()  # what an empty key signs

    status, body = post(raw, {SIGNATURE: forged})

    assert status == 503
    assert body["error"] == "service not configured, retry later"
    assert queue_depth(stack) == 0
