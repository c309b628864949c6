"""`prompt-rollback postmortem`: drafts from a ledger in moto and the Langfuse-compatible registry,
held against golden files (tests/fixtures/postmortem/; UPDATE_GOLDEN=1 rewrites them), and the thread
reply that names the command once a real rollback in the local stack has recovered."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prompt_rollback import cli, wiring
from prompt_rollback.changes.recorder import ChangeRecorder
from prompt_rollback.domain.audit import iso_utc
from prompt_rollback.domain.audit_record import AuditRecord, SlackReport
from prompt_rollback.domain.gate_evidence import gate_record
from prompt_rollback.domain.interactions import FollowupOutcome
from prompt_rollback.domain.langfuse_events import PromptVersionEvent
from prompt_rollback.domain.paging import PagerReport
from prompt_rollback.domain.policy import Outcome
from prompt_rollback.domain.provenance import Authority, Provenance

from tests.integration.conftest import Stack
from tests.integration.slack_app_stack import AppStack
from tests.langfuse_webhooks import prompt_event

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "postmortem"
PROMPT, KEY = "financial-analysis", "langfuse#financial-analysis"
DEMO = "support-answer"  # local mode's demo prompt, for the end-to-end test
T0 = datetime(2026, 4, 17, 14, 0, tzinfo=UTC)
ROLLBACK_ID = "rb-4f1c2a9e0b7d6c5a4f3e2d1c"
PROPOSAL_ID = "rb-0a1b2c3d4e5f60718293a4b5"
TRIGGER = {
    "alertname": "PromptRegression",
    "fingerprint": "5b1d7c0e9a2f4d63",
    "group_key": '{}:{alertname="PromptRegression"}',
    "starts_at": iso_utc(T0 + timedelta(minutes=20)),
    "labels": {
        "alertname": "PromptRegression",
        "prompt_name": PROMPT,
        "prompt_version": "7",
        "trigger": "exact_match",
        "env": "prod",
        "severity": "critical",
    },
    "labels_cut": 0,
    "summary": "financial-analysis v7 exact match 0.61 against 0.90 for v6 (1,204 scores) | <b>bold</b>",
    "generator_url": "https://prometheus.example.com/graph?g0.expr=prompt_regression",
    "runbook_url": "https://runbooks.example.com/prompt-rollback/detection",
    "external_url": "javascript:alert(1)",
}


def _record(kind: str, outcome: Outcome | FollowupOutcome, at: datetime, **fields) -> AuditRecord:
    base = AuditRecord(
        prompt_key=KEY,
        prompt_name=PROMPT,
        provider="langfuse",
        kind=kind,  # type: ignore[arg-type]
        outcome=outcome,
        request_id=ROLLBACK_ID,
        from_version=7,
        to_version=6,
        observed_production=7,
        reason="",
        basis="the last version that held production before v7",
        actor="alertmanager",
        mode="automatic",
        request_reason="",
        environment="prod",
        stage="prod",
        received_at=iso_utc(at),
        recorded_at=iso_utc(at),
        trigger=TRIGGER,
    )
    return replace(base, **fields)


def _append(record: AuditRecord) -> None:
    ledger = wiring.audit_ledger()
    head = ledger.recent(KEY, 1)
    ledger.append(record.bounded(), head[0] if head else None)


def _person_moves(at: datetime, event_id: str, to: int, loser: int, who: str, message: str) -> None:
    recorder = ChangeRecorder(wiring.audit_ledger(), clock=lambda: at)
    user = {"name": who.split("@", maxsplit=1)[0], "email": who}
    gainer = prompt_event(
        event_id, PROMPT, to, ["production"], changed_at=at, user=user, commit_message=message
    )
    recorder.record_langfuse(PromptVersionEvent.model_validate(gainer))
    lost = prompt_event(event_id + "-l", PROMPT, loser, [], changed_at=at, user=user)
    recorder.record_langfuse(PromptVersionEvent.model_validate(lost))


@pytest.fixture
def recovered_ledger(stack: Stack) -> Stack:
    """carol moved v6 -> v7; the alert fired; we rolled back; a stranger clicked; it recovered."""
    for version in range(1, 8):  # v7 carries the gate's verdict in its config, as CI can write it
        gate = {"prompt_gate": {"verdict": "APPROVE", "report": "ci run 512"}} if version == 7 else {}
        message = "shorter answers, new model" if version == 7 else f"v{version}"
        stack.langfuse.store.create(
            PROMPT, f"Analyse v{version}", ["production"], gate, commit_message=message
        )
    stack.langfuse.store.set_labels(PROMPT, 6, ["production"])  # where the rollback below left it
    # The gate passed v7 on the chain too, before carol put it live (`prompt-gate … --record`).
    gate = gate_record("langfuse", PROMPT, 7, "APPROVE", "ci", T0 - timedelta(hours=1), {"report": "run 512"})
    wiring.audit_ledger().append(gate, None)
    _person_moves(T0, "evt_v7", 7, 6, "carol@example.com", "shorter answers, new model")
    intent_at = T0 + timedelta(minutes=21)
    _append(_record("intent", Outcome.ROLLED_BACK, intent_at))
    slack = SlackReport("sent", "chat.postMessage", "C0ONCALL01", "1776434462.000100")
    paged = PagerReport("sent", "change event accepted")
    decided = intent_at + timedelta(seconds=2)
    reason = "v7 regressed (PromptRegression); rolled back to v6, the last known-good version"
    _append(_record("decision", Outcome.ROLLED_BACK, decided, reason=reason, slack=slack, pagerduty=paged))
    refused = _record(
        "followup",
        FollowupOutcome.REFUSED,
        decided + timedelta(minutes=3),
        request_id="act-1",
        actor="slack:U0MALLORY (mallory)",
        mode="manual",
        click="undo",
        rollback_id=ROLLBACK_ID,
        reason="U0MALLORY is not an approver of financial-analysis",
        provenance=Provenance(authority=Authority.SLACK_SIGNATURE, lambda_request_id="req-1"),
    )
    _append(refused)
    recovered = _record(
        "followup",
        FollowupOutcome.RECOVERED,
        decided + timedelta(minutes=14),
        request_id=f"recovered-{ROLLBACK_ID}",
        rollback_id=ROLLBACK_ID,
        reason="PromptRegression resolved 14.0 min after the rollback",
        recovery_seconds=840,
        resolved_at=iso_utc(decided + timedelta(minutes=14)),
        pagerduty=PagerReport("resolved", "", ROLLBACK_ID),
    )
    _append(recovered)
    return stack


@pytest.fixture
def overdue_ledger(stack: Stack) -> Stack:
    """Approval mode on a version nobody recorded going live: proposed, approved, then overdue."""
    ids = {"request_id": PROPOSAL_ID, "trigger": {**TRIGGER, "external_url": ""}}
    proposed_at = T0 + timedelta(hours=2)
    _append(_record("intent", Outcome.PROPOSED, proposed_at, **ids))
    _append(
        _record(
            "decision",
            Outcome.PROPOSED,
            proposed_at,
            **ids,
            reason="approval mode: waiting for an approver",
            slack=SlackReport("sent", "chat.postMessage", "C0ONCALL01", "1776441600.000200"),
            pagerduty=PagerReport("triggered", "", PROPOSAL_ID),
        )
    )
    approved_at = proposed_at + timedelta(minutes=4)
    approval = {"request_id": f"approve-{PROPOSAL_ID}", "actor": "slack:U0ALICE (alice)", "mode": "manual"}
    _append(_record("intent", Outcome.ROLLED_BACK, approved_at, **{**ids, **approval}))
    _append(
        _record(
            "decision",
            Outcome.ROLLED_BACK,
            approved_at,
            **{**ids, **approval},
            reason="approved in Slack by slack:U0ALICE (alice)",
            pagerduty=PagerReport("sent", "", ""),
        )
    )
    overdue_at = approved_at + timedelta(minutes=30)
    _append(
        _record(
            "followup",
            FollowupOutcome.RECOVERY_OVERDUE,
            overdue_at,
            request_id=f"overdue-approve-{PROPOSAL_ID}",
            actor="recovery-check",
            rollback_id=f"approve-{PROPOSAL_ID}",
            trigger=ids["trigger"],
            reason="no resolution within 30 min of the rollback",
            pagerduty=PagerReport("triggered", "", f"approve-{PROPOSAL_ID}"),
        )
    )
    for version in range(1, 8):
        stack.langfuse.store.create(PROMPT, f"Analyse v{version}", ["production"])
    stack.langfuse.app.fail_next(403, methods=("GET",))  # the key may not read versions: noted, not fatal
    return stack


def _draft(rollback_id: str, fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["postmortem", rollback_id, "--format", fmt]) == 0
    return capsys.readouterr().out


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from the draft (UPDATE_GOLDEN=1 to accept it)"


@pytest.mark.parametrize("fmt,suffix", [("markdown", "md"), ("json", "json")])
def test_a_recovered_rollback_drafts_as_the_golden_file(recovered_ledger, capsys, fmt, suffix):
    _golden(f"recovered.{suffix}", _draft(ROLLBACK_ID, fmt, capsys))


@pytest.mark.parametrize("fmt,suffix", [("markdown", "md"), ("json", "json")])
def test_an_approved_then_overdue_rollback_drafts_as_the_golden_file(overdue_ledger, capsys, fmt, suffix):
    _golden(f"overdue.{suffix}", _draft(PROPOSAL_ID, fmt, capsys))


def test_the_draft_says_who_put_the_bad_version_live_and_escapes_what_the_alert_said(
    recovered_ledger, capsys
):
    draft = json.loads(_draft(ROLLBACK_ID, "json", capsys))
    impact = draft["impact"]
    assert (impact["version"], impact["put_there_by"], impact["went_live_at"]) == (
        7,
        "carol@example.com",
        "2026-04-17T14:00:00Z",
    )
    assert impact["left_at"] == "2026-04-17T14:21:02Z"
    assert draft["version_record"]["commit_message"] == "shorter answers, new model"
    assert draft["version_record"]["gate_verdict"] == "APPROVE"
    gate = draft["gate_on_chain"]
    assert (gate["verdict"], gate["seq"], gate["recorded_by"]) == ("APPROVE", 1, "ci")
    markdown = _draft(ROLLBACK_ID, "markdown", capsys)
    assert "<b>" not in markdown and "&lt;b&gt;" in markdown
    assert "javascript:" not in markdown  # only http(s) links are shown as links, and that one is not
    assert "## Cause\n\n_To be written._" in markdown


def test_an_auditor_without_registry_keys_gets_the_draft_with_the_record_marked_unread(
    recovered_ledger, capsys
):
    for variable in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_SECRET_NAME"):
        recovered_ledger.monkeypatch.delenv(variable, raising=False)
    wiring.reset()
    draft = json.loads(_draft(ROLLBACK_ID, "json", capsys))
    assert draft["impact"]["put_there_by"] == "carol@example.com"  # the ledger's facts are all there
    assert draft["version_record"] is None
    assert "the registry was not read (LANGFUSE_PUBLIC_KEY is not set here)" in json.dumps(draft)


def test_an_unknown_rollback_id_is_an_error_that_changes_nothing(recovered_ledger, capsys):
    before = recovered_ledger.audit(PROMPT)
    assert before
    assert cli.main(["postmortem", "rb-000000000000000000000000"]) == 1
    assert "no record with rollback id" in capsys.readouterr().err
    assert recovered_ledger.audit(PROMPT) == before


def test_once_recovered_the_thread_names_the_postmortem_command_and_it_drafts(
    app_stack: AppStack, firing_body, resolved_body, capsys
):
    app_stack.stack.post(firing_body)
    app_stack.stack.drain()
    [decision] = app_stack.stack.decisions(DEMO)
    resolved = copy.deepcopy(resolved_body)
    for alert in resolved["alerts"]:
        alert["endsAt"] = (datetime.now(UTC) + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    app_stack.stack.post(resolved)
    app_stack.stack.drain()
    [reply] = app_stack.slack_api.thread(app_stack.incident().ts)
    command = f"prompt-rollback postmortem {decision['request_id']}"
    assert f"`{command}`" in reply.text
    draft = _draft(decision["request_id"], "markdown", capsys)
    assert "| recovered | recovered: PromptRegression resolved 4.0 min after the rollback |" in draft
    assert "C0ONCALL01" in draft  # the Slack message's channel and ts, from the decision record
