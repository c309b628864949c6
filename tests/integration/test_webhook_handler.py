"""POST /alerts as Alertmanager sees it: status codes, what is queued, what is refused."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from pathlib import Path

import boto3
import yaml
from prompt_rollback.domain.intake import RESOLVED_REASON
from prompt_rollback.domain.requests import alert_request_id

from tests.integration.conftest import TOKEN, Stack, reset_wiring


def queued(stack: Stack) -> list[dict]:
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=stack.resources.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])
    return messages


def test_captured_firing_body_is_accepted_and_queued_once_per_prompt(stack: Stack, firing_body):
    status, body = stack.post(firing_body)
    assert status == 202
    assert [a["prompt_name"] for a in body["accepted"]] == ["support-answer"]
    [message] = queued(stack)
    request = json.loads(message["Body"])
    assert request["prompt_name"] == "support-answer"
    assert request["alerted_version"] == 7
    assert message["Attributes"]["MessageDeduplicationId"] == body["accepted"][0]["rollback_id"]


def test_resolved_body_is_answered_202_and_queues_only_a_recovery_signal(stack: Stack, resolved_body):
    status, body = stack.post(resolved_body)
    assert status == 202
    assert body["accepted"] == []
    assert body["skipped"][0]["reason"] == RESOLVED_REASON
    [message] = queued(stack)
    signal = json.loads(message["Body"])
    assert signal["message_type"] == "resolution"  # never a rollback request
    [resolved] = signal["alerts"]
    assert resolved["rollback_id"] == alert_request_id(
        "langfuse", "support-answer", resolved["fingerprint"], datetime.fromisoformat(resolved["starts_at"])
    )


def test_missing_or_wrong_token_is_401_and_queues_nothing(stack: Stack, firing_body):
    assert stack.post(firing_body, token=None)[0] == 401
    status, body = stack.post(firing_body, token="wrong")
    assert (status, body["error"]) == (401, "invalid Bearer token")
    assert stack.post(firing_body, token="test-token-0123456789abcdef-and-more")[0] == 401
    assert queued(stack) == []


def test_auth_is_checked_before_the_body_is_looked_at(stack: Stack):
    assert stack.post(None, token="wrong", raw=b"{not json")[0] == 401


def test_malformed_json_is_400_and_schema_errors_are_422_with_locations(stack: Stack, firing_body):
    status, body = stack.post(None, raw=b'{"version": "4", "alerts": [')
    assert (status, body["error"]) == (400, "body is not valid JSON")
    broken = copy.deepcopy(firing_body)
    del broken["alerts"][0]["fingerprint"]
    broken["version"] = "3"
    status, body = stack.post(broken)
    assert status == 422
    locations = {d["loc"] for d in body["details"]}
    assert {"version", "alerts.0.fingerprint"} <= locations
    assert queued(stack) == []


def test_unprocessable_input_is_not_echoed_back(stack: Stack, firing_body):
    broken = copy.deepcopy(firing_body)
    broken["alerts"][0]["startsAt"] = "<!channel> not a time"
    status, body = stack.post(broken)
    assert status == 422
    assert "<!channel>" not in json.dumps(body)


def test_wrong_content_type_is_415(stack: Stack, firing_body):
    assert stack.post(firing_body, content_type="text/plain")[0] == 415


def test_oversized_body_is_413(stack: Stack):
    assert stack.post(None, raw=b'{"pad": "' + b"x" * 1_100_000 + b'"}')[0] == 413


def test_alerts_with_bad_labels_are_skipped_individually(stack: Stack, firing_body):
    body = copy.deepcopy(firing_body)
    traversal = copy.deepcopy(body["alerts"][0])
    traversal["labels"]["prompt_name"] = "../../admin"
    traversal["fingerprint"] = "aaaaaaaaaaaaaaaa"
    unlabelled = copy.deepcopy(body["alerts"][0])
    del unlabelled["labels"]["prompt_version"]
    unlabelled["fingerprint"] = "bbbbbbbbbbbbbbbb"
    folder = copy.deepcopy(body["alerts"][0])
    folder["labels"]["prompt_name"] = "team/support-answer"
    folder["fingerprint"] = "cccccccccccccccc"
    body["alerts"] += [traversal, unlabelled, folder]
    status, answer = stack.post(body)
    assert status == 202
    assert sorted(a["prompt_name"] for a in answer["accepted"]) == ["support-answer", "team/support-answer"]
    assert {s["fingerprint"]: s["reason"] for s in answer["skipped"]} == {
        "aaaaaaaaaaaaaaaa": "invalid label: prompt_name has an empty, '.' or '..' path segment",
        "bbbbbbbbbbbbbbbb": "missing label prompt_version",
    }
    assert len(queued(stack)) == 2


def test_unreachable_token_secret_is_503_so_alertmanager_retries(stack: Stack, firing_body, monkeypatch):
    monkeypatch.setenv("WEBHOOK_TOKEN_SECRET_NAME", "does-not-exist")
    reset_wiring()
    assert stack.post(firing_body)[0] == 503
    assert queued(stack) == []


def test_unreachable_queue_is_503_so_alertmanager_retries(stack: Stack, firing_body, monkeypatch):
    monkeypatch.setenv("ROLLBACK_QUEUE_URL", stack.resources.queue_url.replace("requests", "missing"))
    reset_wiring()
    assert stack.post(firing_body)[0] == 503


def test_a_cold_start_reads_the_token_and_queues_on_one_botocore_session(
    stack: Stack, firing_body, botocore_sessions
):
    assert stack.post(firing_body)[0] == 202
    assert len(botocore_sessions) == 1
    assert len(queued(stack)) == 1


def test_unknown_route_is_404(stack: Stack):
    from prompt_rollback.sources import webhook_handler as webhook

    from local_mode.lambda_runtime import LocalLambdaContext, api_gateway_event

    result = webhook.lambda_handler(
        api_gateway_event("GET", "/admin", {}, b""), LocalLambdaContext("webhook")
    )
    assert result["statusCode"] == 404


def test_previous_token_keeps_working_during_a_rotation(stack: Stack, firing_body):
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stack.resources.webhook_token_secret, SecretString="rotated-token-abcdef0123456789"
    )
    reset_wiring()
    assert stack.post(firing_body, token="rotated-token-abcdef0123456789")[0] == 202
    assert stack.post(firing_body, token=TOKEN)[0] == 202  # the old one, now AWSPREVIOUS
    assert stack.post(firing_body, token="never-issued")[0] == 401


def emitted_metrics(capsys) -> list[dict]:
    """The EMF documents Powertools printed (one per invocation)."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def metric_total(documents: list[dict], name: str) -> float:
    return sum(sum(d[name]) if isinstance(d[name], list) else d[name] for d in documents if name in d)


def test_a_storm_of_more_than_a_thousand_alerts_is_accepted_not_refused(stack: Stack, firing_body, capsys):
    """Alertmanager never retries a 4xx: refusing a big group would drop every alert in it."""
    body = copy.deepcopy(firing_body)
    template = body["alerts"][0]
    # Mostly resolutions: each is queued (in batches) as a recovery signal, never as a rollback.
    body["alerts"] = [
        {
            **copy.deepcopy(template),
            "status": "firing" if n % 40 == 0 else "resolved",
            "fingerprint": f"{n:016x}",
            "labels": {**template["labels"], "n": str(n)},
        }
        for n in range(1200)
    ]
    body["truncatedAlerts"] = 7
    capsys.readouterr()
    status, answer = stack.post(body)
    assert status == 202, answer
    assert (len(answer["accepted"]), len(answer["skipped"])) == (30, 1170)
    assert answer["truncatedAlerts"] == 7
    assert metric_total(emitted_metrics(capsys), "AlertsTruncated") == 7
    # 30 requests, and the 1,170 resolutions of the one prompt in 12 messages of at most 100.
    assert stack.queue_depth(stack.resources.queue_url) == 30 + 12


def test_an_untruncated_body_reports_zero_truncated_alerts(stack: Stack, firing_body):
    status, answer = stack.post(firing_body)
    assert (status, answer["truncatedAlerts"]) == (202, 0)


def test_a_long_group_key_or_urls_are_cut_not_refused(stack: Stack, firing_body):
    body = copy.deepcopy(firing_body)
    body["groupKey"] = '{}:{prompt_name="' + "g" * 9000 + '"}'
    body["externalURL"] = "https://am.example/" + "x" * 9000
    body["alerts"][0]["generatorURL"] = "https://p.example/graph?" + "q" * 9000
    status, answer = stack.post(body)
    assert status == 202, answer
    [message] = queued(stack)
    trigger = json.loads(message["Body"])["trigger"]
    assert trigger["group_key"].endswith("…") and trigger["external_url"].endswith("…")
    assert trigger["generator_url"].endswith("…")


def test_alerts_of_a_misconfigured_rule_are_counted_for_the_alarm(stack: Stack, firing_body, capsys):
    body = copy.deepcopy(firing_body)
    unlabelled = copy.deepcopy(body["alerts"][0])
    del unlabelled["labels"]["prompt_version"]
    unlabelled["fingerprint"] = "bbbbbbbbbbbbbbbb"
    body["alerts"] += [
        unlabelled,
        copy.deepcopy(body["alerts"][0]),
    ]  # and a duplicate: not a misconfiguration
    capsys.readouterr()
    status, answer = stack.post(body)
    assert status == 202
    assert len(answer["skipped"]) == 2
    documents = emitted_metrics(capsys)
    assert metric_total(documents, "AlertsMisconfigured") == 1
    assert metric_total(documents, "AlertsSkipped") == 2


def test_the_shipped_alertmanager_config_and_the_deploy_guide_send_every_alert():
    """Alerts beyond max_alerts are never sent: both say 0 (every alert), and agree."""
    repo = Path(__file__).resolve().parents[2]
    config = yaml.safe_load((repo / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    [receiver] = [r for r in config["receivers"] if r["name"] == "prompt-rollback"]
    assert [w["max_alerts"] for w in receiver["webhook_configs"]] == [0]
    guide = (repo / "docs" / "deploy.md").read_text()
    assert re.findall(r"^\s*max_alerts:\s*(\d+)", guide, flags=re.MULTILINE) == ["0"]
