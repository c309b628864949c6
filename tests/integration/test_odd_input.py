"""Odd input and operator mistakes, from POST /alerts or a manual invocation to the label, the
audit ledger and Slack: never a bad version left live, an alert lost, or production moved
forward without someone asking for exactly that."""

from __future__ import annotations

import copy
import json

from tests.integration.conftest import Stack

CUT_MARK = "…"


def alert_body(firing_body: dict, *, labels: dict | None = None, annotations: dict | None = None) -> dict:
    body = copy.deepcopy(firing_body)
    alert = body["alerts"][0]
    for key, value in (labels or {}).items():
        if value is None:
            alert["labels"].pop(key, None)
        else:
            alert["labels"][key] = value
    for key, value in (annotations or {}).items():
        if value is None:
            alert["annotations"].pop(key, None)
        else:
            alert["annotations"][key] = value
    return body


def add_versions_above_production(stack: Stack, *versions: int) -> None:
    for version in versions:
        created = stack.langfuse.store.create("support-answer", f"draft v{version}", labels=[])
        assert created["version"] == version


def slack_text(stack: Stack) -> str:
    return json.dumps(stack.slack.messages[-1], ensure_ascii=False)


def test_a_summary_over_the_reason_limit_is_cut_and_the_rollback_happens(stack: Stack, firing_body):
    summary = "answers leak the system prompt; " * 300  # 9,600 characters
    body = alert_body(firing_body, annotations={"summary": summary})
    status, answer = stack.post(body)
    assert status == 202, answer
    assert len(answer["accepted"]) == 1
    stack.drain()
    assert stack.production() == 6
    [decision] = stack.decisions()
    assert decision["outcome"] == "rolled_back"
    assert decision["request_reason"].endswith(CUT_MARK)
    assert summary.startswith(decision["request_reason"][:-1])


def test_a_long_description_or_alertname_without_summary_is_not_a_500(stack: Stack, firing_body):
    described = alert_body(firing_body, annotations={"summary": None, "description": "d" * 5000})
    assert stack.post(described)[0] == 202
    named = alert_body(
        firing_body,
        labels={"alertname": "A" * 5000},
        annotations={"summary": None, "description": None},
    )
    named["alerts"][0]["fingerprint"] = "abcdefabcdef0001"
    status, answer = stack.post(named)
    assert status == 202 and len(answer["accepted"]) == 1


def test_a_rollback_to_above_production_rolls_back_not_forward(stack: Stack, firing_body):
    add_versions_above_production(stack, 8, 9)
    stack.post(alert_body(firing_body, annotations={"rollback_to": "9"}))
    stack.drain()
    assert stack.production() == 6
    [decision] = stack.decisions()
    assert (decision["from_version"], decision["to_version"]) == (7, 6)
    why = "rollback_to v9 ignored: it is newer than production v7 (a rollback never moves forward)"
    assert why in decision["basis"]
    assert why in slack_text(stack)


def test_a_rollback_to_that_does_not_exist_falls_back_instead_of_leaving_the_bad_version(
    stack: Stack, firing_body
):
    stack.post(alert_body(firing_body, annotations={"rollback_to": "99"}))
    stack.drain()
    assert stack.production() == 6
    [decision] = stack.decisions()
    assert decision["outcome"] == "rolled_back"
    assert "rollback_to v99 ignored: it does not exist" in decision["basis"]
    assert "rollback_to v99 ignored: it does not exist" in slack_text(stack)


def test_a_forced_rollback_forward_needs_allow_forward(stack: Stack):
    add_versions_above_production(stack, 8, 9)
    manual = {"prompt": "support-answer", "to_version": 9, "reason": "v9 fixes it", "actor": "jane"}
    refused = stack.invoke_worker(manual)
    assert refused["outcome"] == "skipped"
    assert "newer than production v7" in refused["reason"] and "allow_forward" in refused["reason"]
    assert stack.production() == 7
    allowed = stack.invoke_worker({**manual, "allow_forward": True})
    assert (allowed["outcome"], allowed["from_version"], allowed["to_version"]) == ("rolled_back", 7, 9)
    assert stack.production() == 9
    assert stack.decisions()[-1]["basis"] == "rollback_to requested; moves forward (allow_forward)"


def test_a_version_label_of_thousands_of_digits_is_skipped_with_a_reason(stack: Stack, firing_body):
    for label in ("prompt_version", "rollback_to"):
        status, answer = stack.post(alert_body(firing_body, labels={label: "9" * 4301}))
        assert status == 202, answer
        assert answer["accepted"] == []
        assert "must be a positive integer" in answer["skipped"][0]["reason"]
    assert stack.drain() == 0


def test_a_450_kb_label_still_queues_a_bounded_request(stack: Stack, firing_body):
    status, answer = stack.post(alert_body(firing_body, labels={"team": "t" * 450_000}))
    assert status == 202, answer
    assert len(answer["accepted"]) == 1
    stack.drain()
    assert stack.production() == 6
    [decision] = stack.decisions()
    assert decision["trigger"]["labels"]["team"].endswith(CUT_MARK)


def test_ten_alerts_of_maximal_escaped_text_are_all_queued(stack: Stack, firing_body):
    """Cut text is counted in characters, the queue's limits in bytes: ten requests with every
    field at its limit, in characters JSON writes as 6 bytes (\\u0001), are more than one SQS
    batch may carry (1 MiB), though their body is not."""
    body = copy.deepcopy(firing_body)
    template = body["alerts"][0]
    wide = "\x01" * 2100  # longer than any field is kept
    body["alerts"] = [
        {
            **copy.deepcopy(template),
            "fingerprint": f"{n:016x}",
            "generatorURL": "https://p.example/?" + wide,
            "labels": {
                **template["labels"],
                "prompt_name": f"p-{n}",
                "provider": "bedrock",
                "prompt_parameter": f"/prompts/p-{n}/production",
                # Other bedrock_* labels travel twice: in the trigger's labels and the target.
                **{f"bedrock_extra_{i}": wide[:1100] for i in range(8)},
            },
            "annotations": {"summary": wide, "runbook_url": "https://r.example/" + wide},
        }
        for n in range(10)
    ]
    body["groupKey"] = wide
    body["externalURL"] = "https://am.example/" + wide
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert len(raw) < 1_048_576
    status, answer = stack.post(None, raw=raw)
    assert status == 202, answer
    assert len(answer["accepted"]) == 10
    assert stack.queue_depth(stack.resources.queue_url) == 10
