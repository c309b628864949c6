"""The typed audit record: stored items round-trip unchanged (the hash chain stays valid), and
untrusted text is cut to fit with the cut fields listed."""

from __future__ import annotations

from prompt_rollback.domain.audit import GENESIS_HASH, canonical_json, record_hash, seal, verify_chain
from prompt_rollback.domain.audit_record import RECORD_BUDGET_BYTES, AuditRecord, SlackReport
from prompt_rollback.domain.interactions import FollowupOutcome
from prompt_rollback.domain.requests import CUT_MARK

# A decision as the worker stored it before the typed record existed (same keys, same order).
STORED_DECISION = seal(
    {
        "prompt_key": "langfuse#support-answer",
        "prompt_name": "support-answer",
        "provider": "langfuse",
        "kind": "decision",
        "outcome": "rolled_back",
        "request_id": "rb-d3415699e4d6fa320e52056e",
        "from_version": 7,
        "to_version": 6,
        "observed_production": 6,
        "reason": "rolled back",
        "basis": "rollback_to requested",
        "actor": "alertmanager",
        "mode": "automatic",
        "request_reason": "Faithfulness dropped",
        "environment": "prod",
        "stage": "dev",
        "received_at": "2026-11-26T02:22:18.000000Z",
        "recorded_at": "2026-11-26T02:22:18.410520Z",
        "trigger": {"alertname": "PromptRegression", "fingerprint": "ca5218b4a4ed9b61", "labels": {"a": "b"}},
        "provider_target": {},
        "slack": {"status": "printed", "detail": "console"},
        "registry_request_id": "",
        "error": "",
        "seq": 1,
    },
    GENESIS_HASH,
)


def test_a_stored_record_reads_back_and_writes_the_same_item():
    record = AuditRecord.from_item(STORED_DECISION)
    assert (record.outcome.value, record.from_version, record.to_version) == ("rolled_back", 7, 6)
    assert record.slack is not None and record.slack.status == "printed"
    assert record.trigger_fingerprint == "ca5218b4a4ed9b61"
    assert record.to_item() == STORED_DECISION
    assert record_hash(record.to_item()) == STORED_DECISION["hash"]
    assert verify_chain([record.to_item()]) == []


def test_an_intent_has_no_decision_fields():
    intent = AuditRecord.from_item({**STORED_DECISION, "kind": "intent"})
    assert not {"slack", "registry_request_id", "error"} & set(intent.to_item())


def test_huge_untrusted_text_is_cut_and_marked_and_fits():
    huge = "é" * 450_000
    record = AuditRecord.from_item(
        {
            **STORED_DECISION,
            "reason": huge,
            "trigger": {"alertname": huge, "labels": {f"k{i}": huge for i in range(200)}},
            "provider_target": {"prompt_parameter": huge},
        }
    ).bounded()
    item = record.to_item()
    assert len(canonical_json(item).encode()) <= RECORD_BUDGET_BYTES
    assert item["reason"].endswith(CUT_MARK) and item["trigger"]["alertname"].endswith(CUT_MARK)
    assert {"reason", "trigger.alertname", "trigger.labels", "provider_target.prompt_parameter"} <= set(
        item["cut"]
    )


def test_a_record_within_its_limits_is_stored_as_is():
    record = AuditRecord.from_item(STORED_DECISION)
    assert record.bounded() == record
    assert "cut" not in record.bounded().to_item()


def test_a_followup_round_trips_with_its_link_and_a_decision_keeps_its_slack_message():
    followup = AuditRecord.from_item(
        {
            "prompt_key": "langfuse#support-answer",
            "kind": "followup",
            "outcome": "recovered",
            "request_id": "recovered-rb-1",
            "rollback_id": "rb-1",
            "recovery_seconds": 240,
            "resolved_at": "2026-12-01T22:04:00.000000Z",
            "recorded_at": "2026-12-01T22:04:01.000000Z",
        }
    )
    assert (followup.kind, followup.outcome, followup.rollback_id) == (
        "followup",
        FollowupOutcome.RECOVERED,
        "rb-1",
    )
    assert AuditRecord.from_item(followup.to_item()) == followup
    assert not followup.is_decision  # never read back as a decision, nor as an intent (a lock)

    decision = AuditRecord.from_item(
        {
            "prompt_key": "langfuse#p",
            "kind": "decision",
            "outcome": "rolled_back",
            "request_id": "rb-1",
            "slack": {"status": "sent", "detail": "chat.postMessage", "channel": "C0ONCALL01", "ts": "1.2"},
        }
    )
    assert decision.slack == SlackReport("sent", "chat.postMessage", "C0ONCALL01", "1.2")
    assert decision.to_item()["slack"] == {
        "status": "sent",
        "detail": "chat.postMessage",
        "channel": "C0ONCALL01",
        "ts": "1.2",
    }
