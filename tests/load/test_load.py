"""Load: 1,000 alerts about 50 prompts in 200 concurrent webhook calls full of duplicates, then drained
through the worker: exactly 50 label moves (v3 -> v2) and every alert accounted for. The webhook runs
in WEBHOOK_ENVIRONMENTS processes (webhook_environment.py); the worker drains the queue in this process."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer
from prompt_rollback.domain.audit import verify_chain

from local_mode.lambda_runtime import api_gateway_event
from tests.integration.conftest import TOKEN, Stack

REPO = Path(__file__).resolve().parents[2]
PROMPTS = 50
ALERTNAMES = ("PromptRegression", "PromptLatencyP99", "PromptCostSpike", "PromptErrorRate")
DELIVERIES_PER_ALERT = 5  # 50 prompts x 4 alerts x 5 deliveries = 1,000 alerts
ALERTS_PER_CALL = 5
CALLS = 200
WEBHOOK_ENVIRONMENTS = int(os.environ.get("LOAD_WEBHOOK_ENVIRONMENTS", "8"))
STARTS_AT = "2026-04-17T14:00:00.000Z"


def prompt_name(index: int) -> str:
    return f"load-prompt-{index:02d}"


def distinct_alerts() -> list[dict[str, Any]]:
    alerts = []
    for index in range(PROMPTS):
        for alertname in ALERTNAMES:
            fingerprint = hashlib.sha256(f"{index}:{alertname}".encode()).hexdigest()[:16]
            alerts.append(
                {
                    "status": "firing",
                    "labels": {
                        "alertname": alertname,
                        "prompt_name": prompt_name(index),
                        "prompt_version": "3",
                        "env": "prod",
                    },
                    "annotations": {"summary": f"{alertname} for {prompt_name(index)} v3"},
                    "startsAt": STARTS_AT,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example/graph",
                    "fingerprint": fingerprint,
                }
            )
    return alerts


def webhook_bodies() -> list[dict[str, Any]]:
    deliveries = [alert for alert in distinct_alerts() for _ in range(DELIVERIES_PER_ALERT)]
    random.Random(20261126).shuffle(deliveries)  # duplicates land in different calls (some in the same)
    assert len(deliveries) == CALLS * ALERTS_PER_CALL == 1000
    return [
        {
            "version": "4",
            "groupKey": f'{{}}:{{batch="{call}"}}',
            "status": "firing",
            "receiver": "prompt-rollback",
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.example:9093",
            "truncatedAlerts": 0,
            "alerts": deliveries[call * ALERTS_PER_CALL : (call + 1) * ALERTS_PER_CALL],
        }
        for call in range(CALLS)
    ]


class WebhookEnvironments:
    """A pool of webhook execution environments; a call waits for a free one, as a throttled
    Lambda would, and runs in it alone."""

    def __init__(self, count: int, environment: dict[str, str], log_dir: Path) -> None:
        self._idle: queue.Queue[subprocess.Popen[str]] = queue.Queue()
        self._processes = []
        for index in range(count):
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.load.webhook_environment"],
                cwd=REPO,
                env=environment,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=(log_dir / f"webhook-{index}.log").open("w"),
                text=True,
                bufsize=1,
            )
            self._processes.append(process)
        for process in self._processes:
            assert process.stdout is not None
            assert json.loads(process.stdout.readline()) == {"ready": True}
            self._idle.put(process)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        process = self._idle.get()
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(event) + "\n")
            result: dict[str, Any] = json.loads(process.stdout.readline())
            return result
        finally:
            self._idle.put(process)

    def close(self) -> None:
        for process in self._processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in self._processes:
            process.wait(timeout=10)


# The processes talk to a moto server that shares the in-process moto backend of the `stack` fixture.
@pytest.fixture
def webhook_environments(stack: Stack, tmp_path: Path):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server._server.port}",
        "PYTHONPATH": os.pathsep.join([str(REPO / "lambdas"), str(REPO)]),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    pool = WebhookEnvironments(WEBHOOK_ENVIRONMENTS, environment, tmp_path)
    try:
        yield pool
    finally:
        pool.close()
        server.stop()


Answer = tuple[int, dict[str, Any]]


def deliver_concurrently(environments: WebhookEnvironments, bodies: list[dict[str, Any]]) -> list[Answer]:
    """POST every body at once (all calls in flight together), as Alertmanager's retries would."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    events = [api_gateway_event("POST", "/alerts", headers, json.dumps(body).encode()) for body in bodies]
    barrier = threading.Barrier(len(events))

    def call(event: dict[str, Any]) -> Answer:
        barrier.wait()
        result = environments.invoke(event)
        return int(result["statusCode"]), json.loads(result.get("body") or "{}")

    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        return list(pool.map(call, events))


def assert_every_call_answered(
    answers: list[Answer], bodies: list[dict[str, Any]]
) -> tuple[Counter[str], int]:
    """What Alertmanager got back. Returns how often each rollback id was accepted, and how many
    alerts were skipped as duplicates within a call."""
    assert Counter(status for status, _ in answers) == {202: CALLS}
    assert sum(len(a["accepted"]) + len(a["skipped"]) for _, a in answers) == 1000
    skipped_reasons = Counter(s["reason"] for _, a in answers for s in a["skipped"])
    assert set(skipped_reasons) <= {"duplicate alert in the same body"}
    for (_, answer), body in zip(answers, bodies, strict=True):  # each call answered about its own body
        assert {a["fingerprint"] for a in answer["accepted"]} <= {a["fingerprint"] for a in body["alerts"]}
    accepted_ids = Counter(item["rollback_id"] for _, a in answers for item in a["accepted"])
    assert len(accepted_ids) == PROMPTS * len(ALERTNAMES)  # each distinct alert accepted at least once
    return accepted_ids, sum(skipped_reasons.values())


def assert_one_rollback_per_prompt(stack: Stack) -> list[dict[str, Any]]:
    """Each prompt moved once, v3 -> v2; every other decision about it skipped. Returns them all."""
    assert stack.label_moves() == PROMPTS
    decisions: list[dict[str, Any]] = []
    for index in range(PROMPTS):
        name = prompt_name(index)
        assert stack.production(name) == 2
        records = stack.audit(name)
        assert verify_chain(records) == []
        mine = [r for r in records if r["kind"] == "decision"]
        assert [d["outcome"] for d in mine].count("rolled_back") == 1, name
        rolled_back = next(d for d in mine if d["outcome"] == "rolled_back")
        assert (rolled_back["from_version"], rolled_back["to_version"]) == (3, 2)
        for other in mine:
            if other is not rolled_back:
                assert other["outcome"] == "skipped" and other["reason"].startswith("already moved"), other
        decisions.extend(mine)
    return decisions


# Every distinct rollback id the webhook accepted has exactly one decision in the ledger; every other
# accepted alert is an exact duplicate of one (same fingerprint and startsAt, hence the same id),
# absorbed by SQS de-duplication or by that decision; no decision exists for an id never accepted.
def assert_every_alert_accounted_for(
    stack: Stack, accepted_ids: Counter[str], decisions: list[dict[str, Any]]
) -> None:
    decided_ids = Counter(d["request_id"] for d in decisions)
    assert max(decided_ids.values()) == 1  # exactly one decision per request id
    assert set(decided_ids) == set(accepted_ids)  # every accepted id decided, nothing decided unasked
    assert Counter(d["outcome"] for d in decisions) == {
        "rolled_back": PROMPTS,
        "skipped": PROMPTS * (len(ALERTNAMES) - 1),
    }
    assert len(stack.slack.messages) == PROMPTS  # "already moved" is audited, not announced
    assert stack.queue_depth(stack.resources.queue_url) == 0
    assert stack.queue_depth(stack.resources.dlq_url) == 0


@pytest.mark.timeout(300)
def test_1000_alerts_50_prompts_200_concurrent_calls_give_50_rollbacks_and_account_for_every_alert(
    stack: Stack, webhook_environments: WebhookEnvironments
):
    for index in range(PROMPTS):
        for version in (1, 2, 3):
            stack.langfuse.store.create(prompt_name(index), f"v{version}", labels=["production"])
    bodies = webhook_bodies()
    started = time.perf_counter()
    answers = deliver_concurrently(webhook_environments, bodies)
    webhook_seconds = time.perf_counter() - started
    queued = stack.queue_depth(stack.resources.queue_url)
    accepted_ids, skipped_in_a_call = assert_every_call_answered(answers, bodies)

    started = time.perf_counter()
    stack.drain(max_batches=1000)
    worker_seconds = time.perf_counter() - started
    decisions = assert_one_rollback_per_prompt(stack)
    assert_every_alert_accounted_for(stack, accepted_ids, decisions)

    accepted = sum(accepted_ids.values())
    print(
        f"\nload: {CALLS} concurrent calls ({WEBHOOK_ENVIRONMENTS} webhook environments) answered in "
        f"{webhook_seconds:.2f}s; {accepted} alerts accepted, "
        f"{skipped_in_a_call} skipped as duplicates within a call, {queued} messages queued "
        f"(SQS de-duplication absorbed {accepted - queued}); worker drained them in "
        f"{worker_seconds:.2f}s: {PROMPTS} rollbacks, {len(decisions) - PROMPTS} skipped, "
        f"{accepted - len(decisions)} duplicate deliveries absorbed in all"
    )
