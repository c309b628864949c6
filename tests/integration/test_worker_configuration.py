"""The worker's configuration: secrets re-read after rotation, SLACK_CHANNEL, Slack that is not
configured, reset(), and configuration errors reported by name without changing anything."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import base as parameters_base
from prompt_rollback import cli, wiring
from prompt_rollback.errors import ConfigurationError
from prompt_rollback.settings import WorkerEnvironment

from tests.integration.conftest import Stack, reset_wiring
from tests.integration.slack_server import SlackWebhookServer


def force(stack: Stack, to_version: int, **extra) -> dict:
    return stack.invoke_worker(
        {"prompt": "support-answer", "to_version": to_version, "reason": "drill", "actor": "jane", **extra}
    )


def metrics_emitted(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if '"_aws"' in line]


class _Later(datetime):
    """datetime whose now() is 301 s on: Powertools' secret cache (max_age=300) has expired."""

    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return datetime.now(tz) + timedelta(seconds=301)


def test_rotated_slack_url_and_langfuse_keys_are_used_once_the_cache_expires(stack: Stack, monkeypatch):
    secrets = boto3.client("secretsmanager")
    langfuse = {"host": stack.langfuse.url, "public_key": stack.langfuse.public_key}
    secrets.create_secret(Name="t/slack", SecretString=stack.slack.url)
    secrets.create_secret(
        Name="t/langfuse", SecretString=json.dumps({**langfuse, "secret_key": stack.langfuse.secret_key})
    )
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_NAME", "t/slack")
    monkeypatch.setenv("LANGFUSE_SECRET_NAME", "t/langfuse")
    reset_wiring()
    assert force(stack, 5)["outcome"] == "rolled_back"
    assert len(stack.slack.messages) == 1
    # Unchanged secrets: the same clients are reused.
    assert wiring.registry_for("langfuse") is wiring.registry_for("langfuse")
    assert wiring.notifier() is wiring.notifier()

    rotated_slack = SlackWebhookServer().start()
    try:
        secrets.put_secret_value(SecretId="t/slack", SecretString=rotated_slack.url)
        secrets.put_secret_value(
            SecretId="t/langfuse", SecretString=json.dumps({**langfuse, "secret_key": "revoked"})
        )
        monkeypatch.setattr(parameters_base, "datetime", _Later)  # five minutes later, same warm worker
        result = force(stack, 4)
        # The revoked key is what Langfuse now sees (401), and Slack hears it at the new URL.
        assert result["outcome"] == "failed" and "HTTP 401" in result["reason"]
        assert len(rotated_slack.messages) == 1 and len(stack.slack.messages) == 1
        assert stack.production() == 5
    finally:
        rotated_slack.stop()


def test_slack_channel_is_validated_and_named_where_messages_go(stack: Stack, monkeypatch, capsys):
    monkeypatch.setenv("SLACK_CHANNEL", "not a channel!")
    reset_wiring()
    with pytest.raises(ConfigurationError, match=r"^SLACK_CHANNEL is invalid"):
        wiring.settings()
    monkeypatch.setenv("SLACK_CHANNEL", "#llm-ops")
    monkeypatch.delenv("SLACK_WEBHOOK_URL")  # the console notifier shows where it would post
    reset_wiring()
    assert force(stack, 5)["outcome"] == "rolled_back"
    assert "Slack message for #llm-ops" in capsys.readouterr().out


def test_a_placeholder_slack_secret_counts_in_slack_failures(stack: Stack, firing_body, capsys):
    stack.monkeypatch.setenv("SLACK_WEBHOOK_URL", "q8Zr!x7Lw0Pp")  # a fresh deployment's placeholder
    reset_wiring()
    stack.post(firing_body)
    capsys.readouterr()
    stack.drain()
    [decision] = stack.decisions()
    assert decision["slack"]["status"] == "not_configured"
    emitted = metrics_emitted(capsys.readouterr().out)
    assert sum(sum(m.get("SlackFailures", [])) for m in emitted) == 1


def test_reset_forgets_the_idempotency_table_too(stack: Stack, monkeypatch):
    assert force(stack, 5, request_id="drill-1")["outcome"] == "rolled_back"
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="t-other-idempotency",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "t-other-idempotency")
    wiring.reset()  # the one call local mode and the tests make; nothing of the old table survives
    assert force(stack, 4, request_id="drill-2")["outcome"] == "rolled_back"
    assert dynamodb.scan(TableName="t-other-idempotency")["Count"] == 1


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MAX_RECEIVE_COUNT", "five", "MAX_RECEIVE_COUNT is invalid"),
        ("IDEMPOTENCY_EXPIRY_SECONDS", "-1", "IDEMPOTENCY_EXPIRY_SECONDS is invalid"),
        ("ROLLBACK_POLICY", '{"cooldown_minutes": -5}', "ROLLBACK_POLICY is invalid"),
        ("ROLLBACK_POLICY", "{not json", "ROLLBACK_POLICY is invalid"),
        ("LANGFUSE_TIMEOUT_SECONDS", "0", "LANGFUSE_TIMEOUT_SECONDS is invalid"),
    ],
)
def test_settings_errors_name_the_variable(variable: str, value: str, message: str):
    with pytest.raises(ConfigurationError, match=f"^{re.escape(message)}") as error:
        WorkerEnvironment.from_environment(
            {"AUDIT_TABLE_NAME": "audit", "IDEMPOTENCY_TABLE_NAME": "idempotency", variable: value}
        )
    assert error.value.variable == variable


def test_a_missing_table_is_named():
    with pytest.raises(ConfigurationError, match=r"^AUDIT_TABLE_NAME is not set$"):
        WorkerEnvironment.from_environment({"IDEMPOTENCY_TABLE_NAME": "idempotency"})


def test_cli_in_process_misconfigured_names_the_variable_and_changes_nothing(
    stack: Stack, monkeypatch, capsys
):
    monkeypatch.delenv("LANGFUSE_PUBLIC_KEY")
    reset_wiring()
    code = cli.main(
        [
            "rollback",
            "--prompt",
            "support-answer",
            "--to",
            "5",
            "--reason",
            "drill",
            "--actor",
            "jane",
            "--in-process",
        ]
    )
    assert code == 2
    assert "LANGFUSE_PUBLIC_KEY is not set" in capsys.readouterr().err
    assert stack.audit() == [] and stack.slack.messages == []
    assert stack.production() == 7
    assert boto3.client("dynamodb").scan(TableName=stack.resources.idempotency_table)["Count"] == 0
