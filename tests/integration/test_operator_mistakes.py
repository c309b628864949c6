"""Odd input and operator mistakes at the worker and the webhook's token check:
huge labels, a token secret with a newline, a reused request_id, a lost lock, a blank actor,
and a flood of wrong tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from moto.secretsmanager.models import SecretsManagerBackend
from prompt_rollback import cli, wiring
from prompt_rollback.domain.audit import iso_utc
from prompt_rollback.domain.audit_record import AuditRecord
from prompt_rollback.domain.policy import Outcome

from tests.integration.conftest import TOKEN, Stack, reset_wiring


def force(stack: Stack, **fields) -> dict:
    payload = {"prompt": "support-answer", "to_version": 5, "reason": "drill", "actor": "jane", **fields}
    return stack.invoke_worker(payload)


def metrics_emitted(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if '"_aws"' in line]


def test_a_token_secret_ending_in_a_newline_still_matches(stack: Stack, firing_body):
    # `echo "$TOKEN" > file; put-secret-value --secret-string file://file` stores the newline too.
    boto3.client("secretsmanager").create_secret(Name="t/token-with-newline", SecretString=TOKEN + "\n")
    stack.monkeypatch.setenv("WEBHOOK_TOKEN_SECRET_NAME", "t/token-with-newline")
    reset_wiring()
    assert stack.post(firing_body, token=TOKEN)[0] == 202


@pytest.mark.parametrize("rotated", [False, True])
def test_a_flood_of_wrong_tokens_makes_no_secrets_manager_calls(
    stack: Stack, firing_body, monkeypatch, rotated
):
    if rotated:
        boto3.client("secretsmanager").put_secret_value(
            SecretId=stack.resources.webhook_token_secret, SecretString="rotated-token-abcdef0123456789"
        )
    reset_wiring()
    calls: list[str | None] = []
    get_secret_value = SecretsManagerBackend.get_secret_value

    def counted(self, secret_id, version_id, version_stage):
        calls.append(version_stage)
        return get_secret_value(self, secret_id, version_id, version_stage)

    monkeypatch.setattr(SecretsManagerBackend, "get_secret_value", counted)
    for attempt in range(10):
        assert stack.post(firing_body, token=f"wrong-token-{attempt}")[0] == 401
    assert calls.count("AWSPREVIOUS") == 1
    assert len(calls) == 2  # the current token once, the previous one (or its absence) once


def test_a_cold_forced_rollback_reads_writes_and_remembers_it_on_one_botocore_session(
    stack: Stack, botocore_sessions
):
    assert force(stack, request_id="drill-cold")["outcome"] == "rolled_back"
    assert len(botocore_sessions) == 1


def test_reusing_a_manual_request_id_with_other_parameters_is_refused(stack: Stack, capsys):
    assert force(stack, request_id="drill-7")["outcome"] == "rolled_back"
    again = force(stack, request_id="drill-7")
    assert again["outcome"] == "rolled_back" and again["replayed"] is True  # a retry: same answer
    other = force(stack, request_id="drill-7", to_version=3)
    assert other == {"error": "request_id drill-7 was already used for a different rollback"}
    assert stack.production() == 5 and len(stack.decisions()) == 1
    capsys.readouterr()
    code = cli.main(
        [
            *("rollback", "--prompt", "support-answer", "--to", "4", "--reason", "drill", "--actor", "jane"),
            *("--request-id", "drill-7", "--in-process"),
        ]
    )
    assert code == 1
    assert "already used for a different rollback" in capsys.readouterr().out
    assert stack.production() == 5


def test_a_forced_rollback_that_loses_the_lock_is_in_progress_not_failed(stack: Stack, capsys):
    # Another rollback of the prompt has written its intent and is moving production right now.
    other = AuditRecord(
        prompt_key="langfuse#support-answer",
        prompt_name="support-answer",
        provider="langfuse",
        kind="intent",
        outcome=Outcome.ROLLED_BACK,
        request_id="rb-the-other-one",
        from_version=7,
        to_version=6,
        observed_production=7,
        reason="rolled back",
        basis="rollback_to requested",
        actor="alertmanager",
        mode="automatic",
        request_reason="",
        environment="",
        stage="test",
        received_at=iso_utc(datetime.now(UTC)),
        recorded_at=iso_utc(datetime.now(UTC)),
    )
    wiring.audit_ledger().append(other, None)
    capsys.readouterr()
    result = force(stack)
    assert result["outcome"] == "skipped"
    assert result["reason"].startswith("another rollback is in progress")
    [decision] = stack.decisions()
    assert decision["outcome"] == "skipped"
    emitted = metrics_emitted(capsys.readouterr().out)
    assert not any("RollbacksFailed" in m for m in emitted)
    assert any("RollbacksSkipped" in m for m in emitted)
    assert "FAILED" not in json.dumps(stack.slack.messages)
    assert stack.production() == 7


@pytest.mark.parametrize("blank", [" ", "\t", ""])
def test_a_blank_actor_or_reason_is_refused(stack: Stack, blank: str, capsys):
    assert force(stack, actor=blank)["error"] == "invalid manual rollback request"
    assert force(stack, reason=blank)["error"] == "invalid manual rollback request"
    with pytest.raises(SystemExit) as exit_:
        cli.main(
            ["rollback", "--prompt", "support-answer", "--reason", "r", "--actor", blank, "--in-process"]
        )
    assert exit_.value.code == 2
    assert "must not be blank" in capsys.readouterr().err
    assert stack.audit() == [] and stack.production() == 7


@pytest.mark.parametrize(
    "version",
    [10**4300, 1_000_000_001, "9" * 5000],
    ids=["4301-digit int", "above the bound", "digit string"],
)
def test_a_huge_version_number_is_refused_not_a_crash(stack: Stack, version):
    assert force(stack, to_version=version)["error"] == "invalid manual rollback request"
    assert force(stack, from_version=version)["error"] == "invalid manual rollback request"
    assert stack.audit() == [] and stack.production() == 7
