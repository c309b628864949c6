"""Alert → queue → worker → Langfuse label → Slack → audit, with the real SDK over HTTP."""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime

import boto3
import pytest
from moto.dynamodb.models import DynamoDBBackend
from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger
from prompt_rollback.domain.audit import verify_chain
from prompt_rollback.domain.requests import RollbackRequest, message_group_id
from prompt_rollback.rollback import wiring as rollback_wiring
from prompt_rollback.rollback.attempts import Attempt, run_attempt

from local_mode.lambda_runtime import sqs_event
from tests.integration.conftest import Stack, reset_wiring


def another_alert(body, fingerprint: str, alertname: str, **labels):
    body = copy.deepcopy(body)
    alert = body["alerts"][0]
    alert["fingerprint"] = fingerprint
    alert["labels"]["alertname"] = alertname
    alert["labels"].update(labels)
    return body


def test_firing_alert_moves_the_label_posts_to_slack_and_audits(stack: Stack, firing_body):
    assert stack.production() == 7
    stack.post(firing_body)
    stack.drain()
    assert stack.production() == 6
    [decision] = stack.decisions()
    assert decision["outcome"] == "rolled_back"
    assert (decision["from_version"], decision["to_version"]) == (7, 6)
    assert decision["trigger"]["fingerprint"] == "ca5218b4a4ed9b61"
    assert decision["trigger"]["group_key"] == firing_body["groupKey"]
    assert decision["trigger"]["labels"]["alertname"] == "PromptRegression"
    assert decision["actor"] == "alertmanager" and decision["mode"] == "automatic"
    assert decision["slack"] == {"status": "sent", "detail": "HTTP 200"}
    [message] = stack.slack.messages
    text = json.dumps(message, ensure_ascii=False)
    assert "v7 → v6" in text and decision["request_id"] in text
    assert verify_chain(stack.audit()) == []


def test_redelivered_alert_rolls_back_once_and_audits_once(stack: Stack, firing_body):
    stack.post(firing_body)
    stack.drain()
    # After SQS's 5-minute dedup window Alertmanager re-sends the group (repeat_interval):
    # the message reaches the worker again and must change nothing.
    sqs = boto3.client("sqs")
    [first] = stack.decisions()
    original = RollbackRequest(
        request_id=first["request_id"],
        prompt_name="support-answer",
        alerted_version=7,
        rollback_to=6,
        received_at=datetime.now(UTC),
    )
    sqs.send_message(
        QueueUrl=stack.resources.queue_url,
        MessageBody=original.model_dump_json(),
        MessageGroupId="g",
        MessageDeduplicationId="redelivery-after-window",
    )
    stack.drain()
    assert stack.label_moves() == 1
    assert len(stack.decisions()) == 1
    assert len(stack.slack.messages) == 1


def test_two_alerts_about_one_bad_version_give_one_rollback(stack: Stack, firing_body):
    stack.post(firing_body)
    stack.post(another_alert(firing_body, "dddddddddddddddd", "PromptLatencyP99"))
    stack.drain()
    assert stack.production() == 6
    assert stack.label_moves() == 1
    outcomes = [(d["outcome"], d["reason"].split(":")[0]) for d in stack.decisions()]
    assert outcomes == [("rolled_back", "rolled back"), ("skipped", "already moved")]
    assert len(stack.slack.messages) == 1  # the echo is audited, not announced


def test_concurrent_workers_on_one_prompt_roll_back_once(stack: Stack, firing_body, monkeypatch):
    # DynamoDB applies a conditional PutItem atomically; moto's in-process backend checks the
    # condition and stores the item in two steps, so threads can interleave between them.
    # Serialise PutItem as DynamoDB does; the race under test is ours, not moto's.
    put_item = DynamoDBBackend.put_item
    atomic = threading.Lock()

    def atomic_put_item(self, *args, **kwargs):
        with atomic:
            return put_item(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", atomic_put_item)
    # Two different alerts delivered to two worker instances at the same moment (the FIFO
    # group normally serialises them; a manual invocation or a second queue would not).
    requests = [
        RollbackRequest(
            request_id=f"rb-concurrent-{i}",
            prompt_name="support-answer",
            alerted_version=7,
            received_at=datetime.now(UTC),
        )
        for i in range(4)
    ]
    service = rollback_wiring.rollback_service()  # built once, before the threads race for it
    barrier = threading.Barrier(len(requests))
    outcomes: list[str] = []

    def run(request: RollbackRequest) -> None:
        barrier.wait()
        try:
            result = run_attempt(service, request, Attempt(final=False, from_queue=True))
            outcomes.append(result.outcome)
        except Exception as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=run, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert stack.label_moves() == 1
    assert outcomes.count("rolled_back") == 1
    assert set(outcomes) <= {"rolled_back", "skipped", "RollbackInProgress"}
    assert [d["outcome"] for d in stack.decisions()].count("rolled_back") == 1
    assert verify_chain(stack.audit()) == []


def test_stale_alert_changes_nothing_and_is_audited_as_skipped(stack: Stack, firing_body):
    stale = another_alert(firing_body, "eeeeeeeeeeeeeeee", "PromptRegression", prompt_version="5")
    del stale["alerts"][0]["annotations"]["rollback_to"]
    stack.post(stale)
    stack.drain()
    assert stack.production() == 7
    assert stack.label_moves() == 0
    [decision] = stack.decisions()
    assert decision["outcome"] == "skipped"
    assert decision["reason"] == "already moved: production is v7, the alert was about v5"
    assert decision["slack"]["status"] == "not_sent"


def test_without_rollback_to_the_target_comes_from_history_not_minus_one(stack: Stack, firing_body):
    body = copy.deepcopy(firing_body)
    del body["alerts"][0]["annotations"]["rollback_to"]
    stack.langfuse.store.create("support-answer", "v8 text", labels=["production"])
    # An earlier decision saw v5 in production; v6 and v7 were never production-tested by us.
    body8 = another_alert(body, "ffffffffffffffff", "PromptRegression", prompt_version="8")
    stack.set_policy(cooldown_minutes=0)
    stack.langfuse.store.set_labels("support-answer", 5, ["production"])
    stale = another_alert(body, "abababababababab", "PromptRegression", prompt_version="4")
    stack.post(stale)
    stack.drain()  # audited skip that observed v5 in production
    stack.langfuse.store.set_labels("support-answer", 8, ["production"])
    stack.post(body8)
    stack.drain()
    assert stack.production() == 5
    assert "held production before" in stack.decisions()[-1]["basis"]


def test_resolved_notification_after_rollback_changes_nothing(stack: Stack, firing_body, resolved_body):
    stack.post(firing_body)
    stack.drain()
    stack.post(resolved_body)
    stack.drain()
    assert stack.production() == 6
    assert len(stack.decisions()) == 1


def test_langfuse_rate_limit_is_waited_out(stack: Stack, firing_body):
    stack.langfuse.app.fail_next(429, count=1, retry_after="1", methods=("PATCH",))
    stack.post(firing_body)
    stack.drain()
    assert stack.production() == 6
    assert stack.decisions()[-1]["outcome"] == "rolled_back"


def test_langfuse_down_ends_in_dlq_with_a_failed_audit_and_slack_alarm(stack: Stack, firing_body):
    stack.langfuse.app.fail_next(503, count=100)  # every call, SDK retries included
    stack.post(firing_body)
    stack.drain()
    assert stack.production() == 7
    [decision] = stack.decisions()
    assert decision["outcome"] == "failed"
    assert "HTTP 503" in decision["error"]
    assert "FAILED" in json.dumps(stack.slack.messages[-1])
    assert stack.queue_depth(stack.resources.dlq_url) == 1
    assert stack.queue_depth(stack.resources.queue_url) == 0


def test_langfuse_recovering_before_the_last_attempt_rolls_back(stack: Stack, firing_body):
    stack.langfuse.app.fail_next(503, count=3)  # first attempt: the SDK's own 2 retries all fail
    stack.post(firing_body)
    stack.drain()
    assert stack.production() == 6
    assert [d["outcome"] for d in stack.decisions()] == ["rolled_back"]
    assert stack.queue_depth(stack.resources.dlq_url) == 0


def test_target_that_vanished_is_failed_at_once_not_retried(stack: Stack, firing_body):
    stack.langfuse.app.fail_next(404, count=1, methods=("PATCH",))
    stack.post(firing_body)
    stack.drain()
    [decision] = stack.decisions()
    assert decision["outcome"] == "failed"
    assert "HTTP 404" in decision["error"]
    assert stack.queue_depth(stack.resources.dlq_url) == 0
    assert stack.production() == 7


def test_slack_down_never_undoes_or_hides_the_rollback(stack: Stack, firing_body, capsys):
    stack.slack.fail_next(500, count=10)
    stack.post(firing_body)
    stack.drain()
    assert stack.production() == 6
    [decision] = stack.decisions()
    assert decision["outcome"] == "rolled_back"
    assert decision["slack"] == {"status": "failed", "detail": "HTTP 500"}
    assert stack.label_moves() == 1
    assert "sEcReTwEbHoOkToKeN" not in capsys.readouterr().out
    assert "sEcReTwEbHoOkToKeN" not in json.dumps(stack.audit())


def test_slack_unreachable_keeps_the_webhook_url_out_of_audit_and_logs(stack: Stack, firing_body, capsys):
    stack.slack.stop()
    stack.post(firing_body)
    stack.drain()
    [decision] = stack.decisions()
    assert decision["outcome"] == "rolled_back"
    assert decision["slack"]["status"] == "failed"
    assert decision["slack"]["detail"] == "ConnectionRefusedError"
    assert "sEcReTwEbHoOkToKeN" not in capsys.readouterr().out + json.dumps(stack.audit())


def test_slack_429_retry_after_is_honoured(stack: Stack, firing_body):
    stack.slack.fail_next(429, count=1, retry_after="1")
    stack.post(firing_body)
    stack.drain()
    assert stack.decisions()[-1]["slack"]["status"] == "sent"
    assert stack.slack.attempts == 2


def test_worker_crash_between_label_move_and_audit_finishes_the_audit_without_moving_again(
    stack: Stack, firing_body, monkeypatch
):
    original_append = DynamoDBAuditLedger.append
    crashed = {"done": False}

    def crash_once_on_decision(self, record, after):
        if record.kind == "decision" and not crashed["done"]:
            crashed["done"] = True
            raise RuntimeError("worker died")
        return original_append(self, record, after)

    monkeypatch.setattr(DynamoDBAuditLedger, "append", crash_once_on_decision)
    stack.post(firing_body)
    stack.drain()
    assert crashed["done"]
    assert stack.production() == 6
    assert stack.label_moves() == 1
    [decision] = stack.decisions()
    assert decision["outcome"] == "rolled_back"
    assert decision["reason"].endswith("(audit completed on retry)")
    kinds = [r["kind"] for r in stack.audit()]
    assert kinds == ["intent", "decision"]


@pytest.mark.parametrize(
    ("policy", "outcome", "moved"),
    [
        ({"dry_run": True}, "dry_run", False),
        ({"allowed_prompts": ["billing-*"]}, "skipped", False),
        ({"prompts": {"support-*": {"dry_run": True}}}, "dry_run", False),
        ({"allowed_prompts": ["support-*"]}, "rolled_back", True),
    ],
)
def test_guards_are_applied_per_prompt(stack: Stack, firing_body, policy, outcome, moved):
    stack.set_policy(**policy)
    stack.post(firing_body)
    stack.drain()
    assert stack.decisions()[-1]["outcome"] == outcome
    assert (stack.production() == 6) is moved
    assert len(stack.slack.messages) == 1  # dry runs and guard skips are announced too


def test_cooldown_and_daily_limit_stop_a_flapping_prompt(stack: Stack, firing_body):
    stack.set_policy(cooldown_minutes=60)
    stack.post(firing_body)
    stack.drain()
    stack.langfuse.store.create("support-answer", "v8", labels=["production"])
    stack.post(another_alert(firing_body, "1234567812345678", "PromptRegression", prompt_version="8"))
    stack.drain()
    assert stack.production() == 8
    assert stack.decisions()[-1]["reason"].startswith("cooldown:")


def test_forced_manual_rollback_is_audited_with_the_actor(stack: Stack):
    result = stack.invoke_worker(
        {
            "prompt": "support-answer",
            "to_version": 5,
            "reason": "customers complain",
            "actor": "jane@example.com",
        }
    )
    assert result["outcome"] == "rolled_back"
    assert stack.production() == 5
    [decision] = stack.decisions()
    assert decision["actor"] == "jane@example.com"
    assert decision["mode"] == "manual"
    assert decision["request_reason"] == "customers complain"
    assert "jane@example.com (manual)" in json.dumps(stack.slack.messages[-1])


def test_forced_manual_rollback_with_bad_input_changes_nothing(stack: Stack):
    result = stack.invoke_worker({"prompt": "../etc", "to_version": 0, "reason": "", "actor": "x"})
    assert result["error"] == "invalid manual rollback request"
    assert stack.production() == 7
    assert stack.label_moves() == 0


def test_forced_rollback_to_a_missing_version_is_refused(stack: Stack):
    result = stack.invoke_worker(
        {"prompt": "support-answer", "to_version": 42, "reason": "r", "actor": "jane"}
    )
    assert result["outcome"] == "skipped"
    assert result["reason"] == "rollback_to v42 does not exist"
    assert stack.production() == 7


def test_folder_prompt_names_travel_encoded(stack: Stack, firing_body):
    stack.langfuse.store.create("team/support", "a", labels=["production"])
    stack.langfuse.store.create("team/support", "b", labels=["production"])
    body = another_alert(
        firing_body, "9999999999999999", "PromptRegression", prompt_name="team/support", prompt_version="2"
    )
    del body["alerts"][0]["annotations"]["rollback_to"]
    stack.post(body)
    stack.drain()
    assert stack.production("team/support") == 1
    assert ("PATCH", "/api/public/v2/prompts/team%2Fsupport/versions/1") in stack.langfuse.app.requests


def test_poison_message_is_parked_in_the_dlq(stack: Stack):
    boto3.client("sqs").send_message(
        QueueUrl=stack.resources.queue_url,
        MessageBody="{not a request",
        MessageGroupId="g",
        MessageDeduplicationId="poison",
    )
    stack.drain()
    assert stack.queue_depth(stack.resources.dlq_url) == 1


def test_placeholder_slack_secret_is_reported_not_posted(stack: Stack, firing_body):
    # What a fresh deployment holds until someone stores the real URL: a random string.
    stack.monkeypatch.setenv("SLACK_WEBHOOK_URL", "q8Zr!x7Lw0Pp")
    reset_wiring()
    stack.post(firing_body)
    stack.drain()
    [decision] = stack.decisions()
    assert decision["outcome"] == "rolled_back"
    assert decision["slack"]["status"] == "not_configured"
    assert stack.slack.attempts == 0


def test_a_redelivery_is_not_counted_as_a_second_rollback_in_metrics(stack: Stack, firing_body, capsys):
    stack.post(firing_body)
    stack.drain()
    [decision] = stack.decisions()
    redelivered = RollbackRequest(
        request_id=decision["request_id"],
        prompt_name="support-answer",
        alerted_version=7,
        received_at=datetime.now(UTC),
    )
    boto3.client("sqs").send_message(
        QueueUrl=stack.resources.queue_url,
        MessageBody=redelivered.model_dump_json(),
        MessageGroupId="g",
        MessageDeduplicationId="after-the-window",
    )
    stack.drain()
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert sum(len(m.get("RollbacksDone", [])) for m in emitted) == 1
    assert stack.label_moves() == 1


def test_a_request_queued_by_the_deployed_version_still_rolls_back(stack: Stack):
    # Untagged, exactly as the webhook has always written a request: still on queues after a deploy.
    body = json.dumps(
        {
            "request_id": "rb-queued-before-the-deploy",
            "provider": "langfuse",
            "prompt_name": "support-answer",
            "alerted_version": 7,
            "rollback_to": None,
            "environment": "",
            "actor": "alertmanager",
            "reason": "answers got worse",
            "forced": False,
            "allow_forward": False,
            "dry_run": None,
            "trigger": None,
            "received_at": datetime.now(UTC).isoformat(),
            "provider_target": {},
            "slack_channel": "",
            "slack_ts": "",
        }
    )
    boto3.client("sqs").send_message(
        QueueUrl=stack.resources.queue_url,
        MessageBody=body,
        MessageGroupId=message_group_id("langfuse", "support-answer"),
        MessageDeduplicationId="queued-before-the-deploy",
    )
    stack.drain()
    assert stack.production() == 6
    [decision] = stack.decisions()
    assert (decision["request_id"], decision["outcome"]) == ("rb-queued-before-the-deploy", "rolled_back")


def test_malformed_bodies_fail_only_their_own_message_group(stack: Stack):
    # The second malformed body follows a failed message of its group: it fails with it, and the
    # healthy request of another group in the same batch is done, not retried with them.
    request = RollbackRequest(
        request_id="rb-healthy",
        prompt_name="support-answer",
        alerted_version=7,
        received_at=datetime.now(UTC),
    )
    bodies = [("m-1", "{not a request", "g-bad"), ("m-2", "[]", "g-bad")]
    bodies.append(("m-3", request.model_dump_json(), message_group_id("langfuse", "support-answer")))
    event = sqs_event(
        [
            {
                "MessageId": message_id,
                "ReceiptHandle": message_id,
                "Body": body,
                "Attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": group},
            }
            for message_id, body, group in bodies
        ],
        queue_arn="arn:aws:sqs:us-east-1:000000000000:rollbacks.fifo",
        region="us-east-1",
    )
    result = stack.invoke_worker(event)
    assert result["batchItemFailures"] == [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]
    assert stack.production() == 6
    assert [d["request_id"] for d in stack.decisions()] == ["rb-healthy"]
