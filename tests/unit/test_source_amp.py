"""AMP's alert manager messages (SNS) become the webhook body intake triages, or skips with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from prompt_rollback.domain.intake import triage
from prompt_rollback.domain.sources.amp_sns import convert_amp_message

from tests.unit.sources_fixtures import sns_message

RECEIVED = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def test_our_template_keeps_quotes_newlines_backslashes_and_control_characters():
    converted = convert_amp_message(*sns_message("amp-json-template.sns.json"))
    assert converted.skipped == []
    assert converted.body is not None
    [alert] = converted.body.alerts
    assert alert.annotations["summary"] == (
        'Error rate of support-answer v7 is 12% ("timeout" from the model)\nsee the runbook'
    )
    assert alert.annotations["description"] == "C:\\logs\\app\ttab\x1b[31m red"
    assert alert.starts_at == datetime(2026, 12, 1, 21, 58, 3, 123456, tzinfo=UTC)
    assert alert.ends_at is None  # Go's zero time for a firing alert


def test_a_message_from_our_template_is_triaged_into_one_rollback_request():
    converted = convert_amp_message(*sns_message("amp-json-template.sns.json"))
    assert converted.body is not None
    intake = triage(converted.body, received_at=RECEIVED)
    [request] = intake.accepted
    assert (request.prompt_name, request.alerted_version) == ("support-answer", 7)
    assert request.trigger is not None
    assert request.trigger.summary.startswith("Error rate of support-answer v7")
    assert request.trigger.runbook_url == "https://runbooks.example.com/prompt-errors"


def test_the_same_message_delivered_twice_is_the_same_request():
    ids = []
    for _ in range(2):
        body = convert_amp_message(*sns_message("amp-json-template.sns.json")).body
        assert body is not None
        ids.append(triage(body, received_at=RECEIVED).accepted[0].request_id)
    assert ids[0] == ids[1]


def test_aws_documented_template_is_read_when_no_value_needs_escaping():
    converted = convert_amp_message(*sns_message("amp-aws-template-plain.sns.json"))
    assert converted.body is not None, converted.skipped
    [alert] = converted.body.alerts
    # A raw newline inside a string, and Go's time.Time text, are both accepted.
    assert alert.annotations["summary"] == "Error rate of support-answer v7 is 12%\nsee the runbook"
    assert alert.starts_at == datetime(2026, 12, 1, 21, 58, 3, 123456, tzinfo=UTC)
    assert [r.prompt_name for r in triage(converted.body, received_at=RECEIVED).accepted] == [
        "support-answer"
    ]


def test_aws_documented_template_with_a_quote_is_skipped_with_a_reason_pointing_at_ours():
    converted = convert_amp_message(*sns_message("amp-aws-template-quotes.sns.json"))
    assert converted.body is None
    [skipped] = converted.skipped
    assert skipped.alertname == "PromptErrorRateHigh"
    assert "deploy/amp/alertmanager.yaml" in skipped.reason
    assert "[prompt support-answer v7]" in skipped.reason
    assert skipped.fingerprint == "4f1c2e3a-0b9d-5c8e-9f7a-6b5d4c3e2f1a"  # the SNS message id, to find it


def test_default_text_format_is_recognised_and_skipped_per_alert_with_the_template_to_set():
    converted = convert_amp_message(*sns_message("amp-text-format.sns.json"))
    assert converted.body is None
    [skipped] = converted.skipped
    assert skipped.alertname == "PromptErrorRateHigh"
    assert "default text format" in skipped.reason
    assert "template_files.default_template" in skipped.reason
    assert "[prompt support-answer v7]" in skipped.reason


def test_truncated_message_is_not_half_read():
    message, attributes, message_id = sns_message("amp-truncated.sns.json")
    # Without the attribute, the complete alerts at the start would look like a whole message.
    converted = convert_amp_message(message, attributes, message_id)
    assert converted.body is None
    reasons = [s.reason for s in converted.skipped]
    assert reasons, "every alert of a cut message is recorded as skipped"
    assert all("truncated" in r and "256 KB" in r and "group_by" in r for r in reasons)
    assert "412KB" in reasons[0]  # AMP's own explanation, from the `modified` attribute
    assert [r.rsplit("[prompt ", 1)[1] for r in reasons] == ["support-answer v5]", "support-answer v6]"]


def test_go_escapes_beyond_json_are_read():
    body = {
        "receiver": "r",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "A", "prompt_name": "p", "prompt_version": "1"},
                "annotations": {"summary": "SUMMARY"},
                "startsAt": "2026-12-01T21:58:03Z",
                "fingerprint": "abc123",
            }
        ],
    }
    # What `printf "%q"` writes for BEL, VT, an invalid UTF-8 byte, U+E0001 and an apostrophe-free text.
    message = json.dumps(body).replace("SUMMARY", r"bell\a vt\v bad\xff tag\U000e0001 end")
    converted = convert_amp_message(message, {}, "m-1")
    assert converted.body is not None, converted.skipped
    assert converted.body.alerts[0].annotations["summary"] == "bell\a vt\v bad\ufffd tag\U000e0001 end"


@pytest.mark.parametrize(
    ("message", "expected_in_reason"),
    [
        ("", "not JSON"),
        ("Error - not a valid UTF-8 encoded string", "not JSON"),
        ('{"receiver": "r", "status": "firing"}', "alerts"),
        ('{"receiver": "r", "status": "boiling", "alerts": []}', "status"),
        ("[1, 2, 3]", "not an alert notification"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
    ],
)
def test_other_messages_are_skipped_with_a_reason(message: str, expected_in_reason: str):
    attributes = (
        {"modified": "Message: Error - not a valid UTF-8 encoded string"} if "UTF-8" in message else {}
    )
    converted = convert_amp_message(message, attributes, "m-2")
    assert converted.body is None
    [skipped] = converted.skipped
    assert expected_in_reason in skipped.reason
    assert skipped.fingerprint == "m-2"


def test_untrusted_text_in_a_reason_is_one_bounded_line():
    attributes = {"truncated": "true", "modified": "<!channel>\n" + "x" * 5000}
    [skipped] = convert_amp_message("{", attributes, "m-3" * 100).skipped
    assert "\n" not in skipped.reason
    assert len(skipped.reason) < 600
    assert len(skipped.fingerprint) <= 64
