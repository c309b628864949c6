"""From an Alertmanager body to rollback requests: the captured fixtures and hostile labels."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from prompt_rollback.adapters.rollback_queue import SQS_BATCH_BYTES
from prompt_rollback.domain.alertmanager import MAX_TRUNCATED_ALERTS, AlertmanagerWebhook
from prompt_rollback.domain.intake import RESOLVED_REASON, SkipKind, triage
from prompt_rollback.domain.requests import (
    MAX_LABEL_NAME_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
    MAX_LABELS_CHARS,
    MAX_NAME_LENGTH,
    MAX_REASON_LENGTH,
    MAX_URL_LENGTH,
    MAX_VERSION,
    alert_request_id,
)
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
    [resolved] = signal.alerts
    assert (signal.provider, signal.prompt_name) == (request.provider, request.prompt_name)
    assert resolved.rollback_id == request.request_id
    assert resolved.resolved_at > resolved.starts_at


def test_a_storm_of_resolutions_is_one_signal_per_prompt_of_at_most_a_hundred(resolved_body):
    body = copy.deepcopy(resolved_body)
    template = body["alerts"][0]
    body["alerts"] = [
        {**copy.deepcopy(template), "fingerprint": f"{n:016x}", "labels": {**template["labels"], "n": str(n)}}
        for n in range(250)
    ]
    signals = triage(AlertmanagerWebhook.model_validate(body), RECEIVED).resolved
    assert [len(s.alerts) for s in signals] == [100, 100, 50]
    assert len({s.deduplication_id for s in signals}) == 3


def test_a_resolved_alert_without_a_valid_prompt_is_no_recovery_signal(resolved_body):
    body = copy.deepcopy(resolved_body)
    for alert in body["alerts"]:
        alert["labels"]["prompt_name"] = "../etc/passwd"
    assert triage(AlertmanagerWebhook.model_validate(body), RECEIVED).resolved == []


# ---- untrusted text is cut to fit, never refused ---------------------------------------------

CUT_MARK = "…"
# All the cut fields of one request together, as JSON, stay below this: far inside SQS's 256 KiB.
REQUEST_JSON_BOUND = 48_000


def body_with(firing_body, *, labels=None, annotations=None, **top):
    body = copy.deepcopy(firing_body)
    alert = body["alerts"][0]
    for key, value in (labels or {}).items():
        alert["labels"][key] = value
    for key, value in (annotations or {}).items():
        if value is None:
            alert["annotations"].pop(key, None)
        else:
            alert["annotations"][key] = value
    for key, value in top.items():
        (alert if key == "generatorURL" else body)[key] = value
    return body


def only_request(body):
    intake = triage(AlertmanagerWebhook.model_validate(body), RECEIVED)
    assert intake.skipped == [], intake.skipped
    [request] = intake.accepted
    return request


def assert_cut(text: str, limit: int, original: str) -> None:
    assert len(text) == limit, len(text)
    assert text.endswith(CUT_MARK)
    assert original.startswith(text[:-1])


def test_a_long_summary_is_cut_to_fit_and_marked_not_a_crash(firing_body):
    summary = "the support bot answers in Klingon. " * 200  # 7,200 characters
    request = only_request(body_with(firing_body, annotations={"summary": summary}))
    assert_cut(request.reason, MAX_REASON_LENGTH, summary)
    assert request.trigger is not None
    assert_cut(request.trigger.summary, MAX_REASON_LENGTH, summary)


def test_a_long_description_without_summary_is_cut_too(firing_body):
    description = "d" * 5000
    request = only_request(body_with(firing_body, annotations={"summary": None, "description": description}))
    assert_cut(request.reason, MAX_REASON_LENGTH, description)


def test_a_long_alertname_without_summary_or_description_is_cut(firing_body):
    alertname = "A" * 5000
    body = body_with(
        firing_body, labels={"alertname": alertname}, annotations={"summary": None, "description": None}
    )
    request = only_request(body)
    assert request.trigger is not None
    assert_cut(request.trigger.alertname, MAX_NAME_LENGTH, alertname)
    assert_cut(request.reason, MAX_NAME_LENGTH, alertname)
    skipped_too = triage(
        AlertmanagerWebhook.model_validate(body_with(body, labels={"prompt_version": "x"})), RECEIVED
    ).skipped
    assert_cut(skipped_too[0].alertname, MAX_NAME_LENGTH, alertname)


@pytest.mark.parametrize(
    ("where", "read", "limit"),
    [
        ({"labels": {"env": "e" * 5000}}, lambda r: r.environment, MAX_NAME_LENGTH),
        (
            {"generatorURL": "https://p.example/g?" + "q" * 9000},
            lambda r: r.trigger.generator_url,
            MAX_URL_LENGTH,
        ),
        (
            {"annotations": {"runbook_url": "https://r.example/" + "r" * 9000}},
            lambda r: r.trigger.runbook_url,
            MAX_URL_LENGTH,
        ),
        (
            {"externalURL": "https://am.example/" + "x" * 9000},
            lambda r: r.trigger.external_url,
            MAX_URL_LENGTH,
        ),
        (
            {"groupKey": '{}:{prompt_name="' + "g" * 9000 + '"}'},
            lambda r: r.trigger.group_key,
            MAX_URL_LENGTH,
        ),
    ],
)
def test_every_other_text_field_from_the_alert_is_cut_to_fit(firing_body, where, read, limit):
    request = only_request(body_with(firing_body, **where))
    text = read(request)
    assert len(text) == limit and text.endswith(CUT_MARK)


def test_a_huge_label_value_is_cut_and_the_labels_stay_bounded(firing_body):
    request = only_request(body_with(firing_body, labels={"team": "t" * 450_000}))
    assert request.trigger is not None
    assert_cut(request.trigger.labels["team"], MAX_LABEL_VALUE_LENGTH, "t" * 450_000)
    assert request.trigger.labels["prompt_name"] == "support-answer"
    assert len(request.model_dump_json()) < REQUEST_JSON_BOUND


def test_many_labels_are_bounded_and_the_cut_is_counted(firing_body):
    extra = {f"label_{n:04d}": "v" * 500 for n in range(2000)}
    request = only_request(body_with(firing_body, labels=extra))
    assert request.trigger is not None
    kept = request.trigger.labels
    # The labels that say what to roll back are kept whatever else is cut.
    assert {"alertname", "prompt_name", "prompt_version"} <= set(kept)
    assert sum(len(k) + len(v) for k, v in kept.items()) <= MAX_LABELS_CHARS
    assert request.trigger.labels_cut == 2000 + len(firing_body["alerts"][0]["labels"]) - len(kept)
    assert request.trigger.labels_cut > 0
    assert len(request.model_dump_json()) < REQUEST_JSON_BOUND


def test_a_huge_label_name_is_cut(firing_body):
    request = only_request(body_with(firing_body, labels={"n" * 5000: "v"}))
    assert request.trigger is not None
    assert all(len(name) <= MAX_LABEL_NAME_LENGTH for name in request.trigger.labels)


def test_bedrock_extra_labels_in_the_target_are_bounded(firing_body):
    body = body_with(
        firing_body,
        labels={
            "provider": "bedrock",
            "bedrock_agent_id": "AGENT12345",
            "bedrock_alias_id": "ALIAS12345",
            "bedrock_model_id": "m" * 100_000,
        },
    )
    request = only_request(body)
    assert request.provider_target["bedrock_agent_id"] == "AGENT12345"
    assert_cut(request.provider_target["bedrock_model_id"], MAX_LABEL_VALUE_LENGTH, "m" * 100_000)


# ---- version numbers: any digit string, bounded before int() (defect 4) -------------------------


@pytest.mark.parametrize("label", ["prompt_version", "rollback_to"])
@pytest.mark.parametrize("digits", ["9" * 4301, "1" * 100_000, "2147483648", "9" * 11])
def test_absurd_version_numbers_are_skipped_with_a_reason_not_a_crash(firing_body, label, digits):
    intake = triage(AlertmanagerWebhook.model_validate(with_labels(firing_body, **{label: digits})), RECEIVED)
    assert intake.accepted == []
    [skipped] = intake.skipped
    assert "must be a positive integer" in skipped.reason
    assert skipped.kind is SkipKind.MISCONFIGURED


def test_leading_zeros_do_not_count_against_the_bound(firing_body):
    request = only_request(with_labels(firing_body, prompt_version="0" * 5000 + "7", rollback_to="0006"))
    assert (request.alerted_version, request.rollback_to) == (7, 6)


def test_the_largest_version_is_accepted(firing_body):
    request = only_request(with_labels(firing_body, prompt_version=str(MAX_VERSION)))
    assert request.alerted_version == MAX_VERSION


# ---- what a skip means: a misconfigured rule, or nothing to do (the "also decide" item) ---------


def test_skips_that_mean_a_misconfigured_rule_are_told_apart(firing_body, resolved_body):
    body = copy.deepcopy(firing_body)
    unlabelled = copy.deepcopy(body["alerts"][0])
    del unlabelled["labels"]["prompt_version"]
    unlabelled["fingerprint"] = "bbbbbbbbbbbbbbbb"
    body["alerts"] += [copy.deepcopy(body["alerts"][0]), unlabelled]
    intake = triage(AlertmanagerWebhook.model_validate(body), RECEIVED)
    assert [(s.reason, s.kind) for s in intake.skipped] == [
        ("duplicate alert in the same body", SkipKind.NOTHING_TO_DO),
        ("missing label prompt_version", SkipKind.MISCONFIGURED),
    ]
    assert intake.misconfigured == 1
    resolved = triage(AlertmanagerWebhook.model_validate(resolved_body), RECEIVED)
    assert resolved.misconfigured == 0


# ---- more alerts than any limit: accepted, and Alertmanager's own cut reported (defect 12) ------


def test_a_storm_of_alerts_is_accepted_whole(firing_body):
    body = copy.deepcopy(firing_body)
    template = body["alerts"][0]
    body["alerts"] = [
        {**copy.deepcopy(template), "fingerprint": f"{n:016x}", "labels": {**template["labels"], "n": str(n)}}
        for n in range(1500)
    ]
    body["truncatedAlerts"] = 12
    intake = triage(AlertmanagerWebhook.model_validate(body), RECEIVED)
    assert len(intake.accepted) == 1500
    assert intake.truncated_alerts == 12


@pytest.mark.parametrize(("sent", "kept"), [("9" * 4300, MAX_TRUNCATED_ALERTS), ("-3", 0)])
def test_an_absurd_truncated_alerts_count_is_kept_bounded_not_refused(firing_body, sent, kept):
    # 4,300 digits is the most the JSON parser turns into a number (beyond it: 400, invalid JSON).
    raw = json.dumps(firing_body)[:-1] + ', "truncatedAlerts": ' + sent + "}"
    intake = triage(AlertmanagerWebhook.model_validate_json(raw), RECEIVED)
    assert len(intake.accepted) == 1
    assert intake.truncated_alerts == kept


def test_a_request_with_every_field_at_its_limit_fits_one_sqs_message(firing_body):
    """Limits count characters, SQS bytes: a control character is 6 bytes of JSON (\\u0001)."""
    escaped = "\x01" * 20_000
    body = body_with(
        firing_body,
        labels={
            "alertname": escaped,
            "env": escaped,
            "provider": "bedrock",
            "prompt_parameter": "/prompts/" + "p" * 2000,
            **{f"bedrock_extra_{n}": escaped for n in range(20)},
            **{f"other_{n}": escaped for n in range(20)},
        },
        annotations={"summary": escaped, "runbook_url": escaped},
        generatorURL=escaped,
        groupKey=escaped,
        externalURL=escaped,
    )
    request = only_request(body)
    assert request.trigger is not None and request.trigger.labels_cut > 0
    assert len(request.model_dump_json().encode()) <= SQS_BATCH_BYTES  # 256 KiB, the default message size


def test_if_a_cut_and_its_model_limit_ever_disagree_the_alert_is_skipped_not_a_crash(
    firing_body, monkeypatch
):
    """The last guard: a future field whose cut is longer than its model allows."""
    from prompt_rollback.domain import intake as intake_module

    monkeypatch.setattr(intake_module, "MAX_NAME_LENGTH", MAX_NAME_LENGTH * 2)
    body = body_with(firing_body, labels={"env": "e" * 5000, "alertname": "<!channel>" * 100})
    result = triage(AlertmanagerWebhook.model_validate(body), RECEIVED)
    assert result.accepted == []
    [skipped] = result.skipped
    assert skipped.kind is SkipKind.MISCONFIGURED
    assert skipped.reason == "could not build a rollback request (alertname out of bounds)"
    assert "<!channel>" not in skipped.reason
