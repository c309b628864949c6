"""From an Alertmanager body to rollback requests: the captured fixtures and hostile labels."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from prompt_rollback.domain.alertmanager import AlertmanagerWebhook
from prompt_rollback.domain.intake import RESOLVED_REASON, triage
from prompt_rollback.domain.requests import alert_request_id
from pydantic import ValidationError

RECEIVED = datetime(2026, 11, 25, 4, 56, tzinfo=UTC)


def with_labels(body, **labels):
    body = copy.deepcopy(body)
    alert = body["alerts"][0]
    for key, value in labels.items():
        if value is None:
            alert["labels"].pop(key, None)
        else:
            alert["labels"][key] = value
    return body


def test_captured_firing_body_becomes_one_request(firing_body):
    intake = triage(AlertmanagerWebhook.model_validate(firing_body), RECEIVED)
    assert intake.skipped == []
    [request] = intake.accepted
    assert (request.prompt_name, request.alerted_version, request.rollback_to) == ("support-answer", 7, 6)
    assert request.provider == "langfuse"
    assert request.environment == "prod"
    assert request.trigger is not None
    assert request.trigger.fingerprint == "ca5218b4a4ed9b61"
    assert request.trigger.runbook_url == "https://example.invalid/runbook"
    assert request.request_id == alert_request_id(
        "langfuse", "support-answer", "ca5218b4a4ed9b61", request.trigger.starts_at
    )


def test_captured_resolved_body_is_recorded_never_acted_on(resolved_body):
    intake = triage(AlertmanagerWebhook.model_validate(resolved_body), RECEIVED)
    assert intake.accepted == []
    assert [s.reason for s in intake.skipped] == [RESOLVED_REASON]


def test_redelivery_of_the_same_firing_maps_to_the_same_request_id(firing_body):
    first = triage(AlertmanagerWebhook.model_validate(firing_body), RECEIVED).accepted[0]
    again = triage(AlertmanagerWebhook.model_validate(firing_body), datetime.now(UTC)).accepted[0]
    assert first.request_id == again.request_id
    refired = copy.deepcopy(firing_body)
    refired["alerts"][0]["startsAt"] = "2026-11-26T04:55:43Z"
    assert (
        triage(AlertmanagerWebhook.model_validate(refired), RECEIVED).accepted[0].request_id
        != first.request_id
    )


def test_newer_alertmanager_fields_are_ignored(firing_body):
    body = {**firing_body, "notification_reason": "repeat", "routeLabels": {"team": "ml"}}
    body["alerts"][0]["extra"] = {"anything": 1}
    assert len(triage(AlertmanagerWebhook.model_validate(body), RECEIVED).accepted) == 1


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        ({"prompt_name": None}, "missing label prompt_name"),
        ({"prompt_version": None}, "missing label prompt_version"),
        ({"prompt_version": "seven"}, "invalid label: prompt_version must be a positive integer"),
        ({"prompt_version": "0"}, "invalid label: prompt_version must be a positive integer"),
        ({"prompt_version": "٧"}, "invalid label: prompt_version must be a positive integer"),  # noqa: RUF001
        ({"prompt_name": ".."}, "invalid label: prompt_name has an empty, '.' or '..' path segment"),
        (
            {"prompt_name": "team/../admin"},
            "invalid label: prompt_name has an empty, '.' or '..' path segment",
        ),
        ({"prompt_name": "/etc/passwd"}, "invalid label: prompt_name has an empty, '.' or '..' path segment"),
        (
            {"prompt_name": "%2e%2e"},
            "invalid label: prompt_name may only hold letters, digits, space and _ . : @ + - /",
        ),
        (
            {"prompt_name": "a\nb"},
            "invalid label: prompt_name may only hold letters, digits, space and _ . : @ + - /",
        ),
        ({"provider": "openai"}, "unsupported provider (supported: langfuse, bedrock)"),
        (
            {"provider": "bedrock"},
            "missing target labels: name the Bedrock pointer with bedrock_agent_id + bedrock_alias_id, "
            "bedrock_flow_id + bedrock_alias_id, or prompt_parameter",
        ),
        (
            {"provider": "bedrock", "bedrock_agent_id": "AGENT12345"},
            "missing label bedrock_alias_id (which alias of the agent to roll back)",
        ),
        (
            {"provider": "bedrock", "bedrock_agent_id": "AGENT12345", "prompt_parameter": "/prompts/a"},
            "contradictory target labels: prompt_parameter and bedrock_agent_id "
            "name different pointers; keep one",
        ),
        (
            {"prompt_parameter": "/prompts/support-answer/production"},
            "Bedrock target labels (prompt_parameter) on a langfuse alert: "
            'set provider="bedrock" or drop them',
        ),
        ({"rollback_to": "-1"}, "invalid rollback_to: must be a positive integer"),
    ],
)
def test_alerts_without_usable_labels_are_skipped_with_the_reason(firing_body, labels, reason):
    intake = triage(AlertmanagerWebhook.model_validate(with_labels(firing_body, **labels)), RECEIVED)
    assert intake.accepted == []
    assert [s.reason for s in intake.skipped] == [reason]


def test_bedrock_alerts_carry_their_target_labels(firing_body):
    body = with_labels(
        firing_body,
        provider="Bedrock",
        bedrock_agent_id="AGENT12345",
        bedrock_alias_id="ALIAS12345",
        bedrock_model_id="anthropic.claude",
    )
    [request] = triage(AlertmanagerWebhook.model_validate(body), RECEIVED).accepted
    assert request.provider == "bedrock"
    assert request.prompt_key == "bedrock#support-answer"
    assert request.provider_target == {
        "bedrock_agent_id": "AGENT12345",
        "bedrock_alias_id": "ALIAS12345",
        "bedrock_model_id": "anthropic.claude",
    }
    # The same alert about another provider is another rollback.
    langfuse = triage(AlertmanagerWebhook.model_validate(firing_body), RECEIVED).accepted[0]
    assert request.request_id != langfuse.request_id


def test_folder_prompt_names_are_accepted(firing_body):
    intake = triage(
        AlertmanagerWebhook.model_validate(with_labels(firing_body, prompt_name="team/support-answer")),
        RECEIVED,
    )
    assert intake.accepted[0].prompt_name == "team/support-answer"


def test_rollback_to_label_wins_over_annotation(firing_body):
    intake = triage(AlertmanagerWebhook.model_validate(with_labels(firing_body, rollback_to="5")), RECEIVED)
    assert intake.accepted[0].rollback_to == 5


def test_the_same_alert_twice_in_one_body_is_queued_once(firing_body):
    body = copy.deepcopy(firing_body)
    body["alerts"].append(copy.deepcopy(body["alerts"][0]))
    intake = triage(AlertmanagerWebhook.model_validate(body), RECEIVED)
    assert len(intake.accepted) == 1
    assert [s.reason for s in intake.skipped] == ["duplicate alert in the same body"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(version="3"),
        lambda b: b.pop("alerts"),
        lambda b: b["alerts"][0].update(status="pending"),
        lambda b: b["alerts"][0].update(fingerprint="../../x"),
        lambda b: b["alerts"][0].update(startsAt="yesterday"),
        lambda b: b["alerts"][0]["labels"].update(prompt_version=7),
    ],
)
def test_bodies_that_are_not_alertmanager_v4_are_rejected(firing_body, mutate):
    body = copy.deepcopy(firing_body)
    mutate(body)
    with pytest.raises(ValidationError):
        AlertmanagerWebhook.model_validate(body)


def test_a_resolved_alert_becomes_the_recovery_signal_of_its_firings_rollback(firing_body, resolved_body):
    [request] = triage(AlertmanagerWebhook.model_validate(firing_body), RECEIVED).accepted
    [signal] = triage(AlertmanagerWebhook.model_validate(resolved_body), RECEIVED).resolved
    assert signal.rollback_id == request.request_id
    assert signal.resolved_at > signal.starts_at


def test_a_resolved_alert_without_a_valid_prompt_is_no_recovery_signal(resolved_body):
    body = copy.deepcopy(resolved_body)
    for alert in body["alerts"]:
        alert["labels"]["prompt_name"] = "../etc/passwd"
    assert triage(AlertmanagerWebhook.model_validate(body), RECEIVED).resolved == []
