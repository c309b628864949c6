"""The watcher end to end, with a controlled clock: the local Langfuse-compatible store's metrics
endpoint through the real `langfuse` SDK, its states in (moto) DynamoDB, its requests on the real
FIFO queue, and the real worker moving the label."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from prompt_rollback import wiring
from prompt_rollback.domain.watch import Phase, WatchState
from prompt_rollback.watcher import handler as watcher
from prompt_rollback.watcher import wiring as watch_wiring
from prompt_rollback.watcher.service import RunReport, run_once

from local_mode.lambda_runtime import LocalLambdaContext
from local_mode.langfuse_metrics import VersionTraffic, seed_version_traffic
from local_mode.watcher import provision_state_table
from tests.integration.conftest import Stack

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RUN = timedelta(minutes=5)
METRICS_PATH = "/api/public/v2/metrics"


@dataclass
class Watch:
    stack: Stack
    table: str

    def run(self, now: datetime) -> RunReport:
        return run_once(
            now,
            observer=watch_wiring.observer(),
            store=watch_wiring.state_store(),
            sender=watch_wiring.signal_sender(),
        )

    def states(self) -> dict[tuple[str, int, str], WatchState]:
        return {
            (s.key.prompt_name, s.key.prompt_version, s.key.trigger): s
            for s in watch_wiring.state_store().load_all()
        }

    def queued(self) -> list[dict[str, Any]]:
        """The requests now waiting on the rollback queue (left there: received, not deleted)."""
        sqs = boto3.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=self.stack.resources.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def watch(stack: Stack) -> Iterator[Watch]:
    table = provision_state_table(f"{stack.resources.audit_table}-watch")
    stack.monkeypatch.setenv("WATCH_STATE_TABLE_NAME", table)
    stack.monkeypatch.delenv("WATCHER_CONFIG", raising=False)
    watch_wiring.reset()
    yield Watch(stack, table)
    watch_wiring.reset()


def seed(
    stack: Stack,
    version: int,
    start: datetime,
    end: datetime,
    prompt: str = "support-answer",
    **traffic: Any,
) -> None:
    minutes = (end - start).total_seconds() / 60
    generations = int(traffic.pop("per_minute", 10) * minutes)
    seed_version_traffic(
        stack.langfuse.metrics,
        VersionTraffic(version=version, generations=generations, **traffic),
        start,
        end,
        prompt,
    )


def good_history(stack: Stack, prompt: str = "support-answer", version: int = 6) -> None:
    """A week of the version before, well above every limit."""
    seed(
        stack,
        version,
        T0 - timedelta(days=7),
        T0 - timedelta(hours=1),
        prompt,
        per_minute=0.1,
        exact_match_rate=0.92,
    )


def test_regressing_version_goes_pending_then_firing_then_one_rollback_then_resolved(watch: Watch):
    stack = watch.stack
    good_history(stack)
    assert stack.production() == 7
    seed(stack, 7, T0 - timedelta(minutes=30), T0 + timedelta(minutes=40), exact_match_rate=0.55)

    first = watch.run(T0)
    assert first.no_data_reason is None and first.langfuse_calls == 7
    (state,) = watch.states().values()
    assert (state.key.trigger, state.phase, state.active_since) == ("exact_match", Phase.PENDING, T0)

    for n in (1, 2):
        report = watch.run(T0 + n * RUN)
        assert report.fired == [] and report.pending == 1
    assert watch.queued() == []

    fired = watch.run(T0 + 3 * RUN)  # exact_match's `for:` is 15 minutes
    assert [s.key.trigger for s in fired.fired] == ["exact_match"]
    (request,) = watch.queued()
    assert request["prompt_name"] == "support-answer" and request["alerted_version"] == 7
    assert request["actor"] == "watcher"
    assert request["trigger"]["labels"]["trigger"] == "exact_match"
    assert request["trigger"]["starts_at"].startswith("2026-06-01T12:15:00")
    assert "exact-match accuracy" in request["reason"]

    still = watch.run(T0 + 3 * RUN + timedelta(minutes=1))  # an overlapping or repeated run
    assert still.queued_request_ids == [] and still.firing == 1

    stack.drain()
    assert stack.production() == 6
    (decision,) = stack.decisions()
    assert decision["outcome"] == "rolled_back" and decision["request_id"] == request["request_id"]

    # v7 left production: its trigger resolves, as the rule's series would vanish.
    resolved = watch.run(T0 + 4 * RUN)
    assert [s.key.prompt_version for s in resolved.resolved] == [7]
    assert watch.states() == {}
    # The resolved signal went through the webhook's intake, which never rolls back on one.
    assert [s.reason.split(":")[0] for s in resolved.skipped] == ["resolved"]
    assert len(stack.decisions()) == 1


def test_recovery_while_still_in_production_sends_resolved(watch: Watch):
    stack = watch.stack
    stack.set_policy(dry_run=True)  # the worker decides but leaves v7 in production
    good_history(stack)
    seed(stack, 7, T0 - timedelta(minutes=30), T0 + timedelta(minutes=20), exact_match_rate=0.55)
    seed(stack, 7, T0 + timedelta(minutes=20), T0 + timedelta(minutes=90), exact_match_rate=0.97)

    reports = [watch.run(T0 + n * RUN) for n in range(12)]
    fired_at = [n for n, r in enumerate(reports) if r.fired]
    resolved_at = [n for n, r in enumerate(reports) if r.resolved]
    assert fired_at == [3]
    assert len(resolved_at) == 1 and resolved_at[0] > 3
    firing, resolved = reports[3].fired[0], reports[resolved_at[0]].resolved[0]
    assert resolved.fingerprint == firing.fingerprint and resolved.fired_at == firing.fired_at
    assert stack.production() == 7
    assert watch.states() == {}


def test_langfuse_outage_and_429_neither_fire_nor_clear(watch: Watch, capsys):
    stack = watch.stack
    good_history(stack)
    seed(stack, 7, T0 - timedelta(minutes=30), T0 + timedelta(minutes=60), exact_match_rate=0.55)
    watch.run(T0)
    assert watch.states()[("support-answer", 7, "exact_match")].phase is Phase.PENDING

    stack.langfuse.app.fail_next(429, retry_after="30", count=1, path_prefix=METRICS_PATH)
    rate_limited = watch.run(T0 + RUN)
    assert rate_limited.no_data and "LangfuseRateLimited" in (rate_limited.no_data_reason or "")
    stack.langfuse.app.fail_next(503, count=1, path_prefix=METRICS_PATH)
    assert watch.run(T0 + 2 * RUN).no_data
    stack.langfuse.app.fail_next(503, count=1, path_prefix="/api/public/v2/prompts")
    down = watch.run(T0 + 3 * RUN)  # past `for:`, but no data: must not fire
    assert down.no_data and down.fired == []
    assert watch.states()[("support-answer", 7, "exact_match")].active_since == T0
    assert watch.queued() == []

    assert watch.run(T0 + 4 * RUN).fired  # data again: held since T0, fires
    assert len(watch.queued()) == 1

    # Firing, then silence: nothing resolves.
    stack.langfuse.app.fail_next(500, count=3, path_prefix=METRICS_PATH)
    capsys.readouterr()
    summary = watcher.lambda_handler({}, LocalLambdaContext("watcher"))
    assert summary["no_data"] and summary["resolved"] == []
    assert watch.states()[("support-answer", 7, "exact_match")].phase is Phase.FIRING
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [record.get("WatcherNoData") for record in emitted] == [[1.0]], emitted
    assert "WatcherFired" not in emitted[0], "zero counts are not published (no metric cost)"


def test_flapping_error_rate_never_fires(watch: Watch):
    stack = watch.stack
    stack.monkeypatch.setenv(
        "WATCHER_CONFIG",
        json.dumps({"observation_window_minutes": 5, "triggers": {"error_rate": {"for_minutes": 10}}}),
    )
    watch_wiring.reset()
    good_history(stack)
    for block in range(-1, 8):  # 5-minute blocks: bad, good, bad, good ...
        start = T0 + block * RUN
        seed(
            stack,
            7,
            start,
            start + RUN,
            per_minute=20,
            exact_match_rate=0.92,
            error_rate=0.3 if block % 2 == 0 else 0.0,
        )

    phases = []
    for n in range(8):
        report = watch.run(T0 + n * RUN - timedelta(seconds=10))
        assert report.fired == []
        phases.append(report.pending)
    assert phases == [0, 1, 0, 1, 0, 1, 0, 1]
    assert watch.queued() == []


def test_two_prompts_regressing_at_once_are_both_rolled_back(watch: Watch):
    stack = watch.stack
    stack.langfuse.store.create("billing-faq", "v1", labels=[])
    stack.langfuse.store.create("billing-faq", "v2", labels=[])
    stack.langfuse.store.create("billing-faq", "v3", labels=["production"])
    good_history(stack)
    good_history(stack, "billing-faq", version=2)
    seed(stack, 7, T0 - timedelta(minutes=30), T0 + timedelta(minutes=30), exact_match_rate=0.55)
    seed(
        stack,
        3,
        T0 - timedelta(minutes=30),
        T0 + timedelta(minutes=30),
        "billing-faq",
        exact_match_rate=0.92,
        error_rate=0.25,
    )

    reports = [watch.run(T0 + n * RUN) for n in range(4)]
    fired = sorted((s.key.prompt_name, s.key.trigger, n) for n, r in enumerate(reports) for s in r.fired)
    assert fired == [("billing-faq", "error_rate", 1), ("support-answer", "exact_match", 3)]
    assert all(r.langfuse_calls == 7 for r in reports), "the cost does not grow with the prompts"

    stack.drain()
    assert stack.production() == 6
    assert stack.production("billing-faq") == 2
    assert len(stack.decisions()) == 1 and len(stack.decisions("billing-faq")) == 1


def test_overlapping_runs_act_once(watch: Watch):
    """Run B read the states before run A wrote its firing: B's write loses, B sends nothing."""
    stack = watch.stack
    good_history(stack)
    seed(stack, 7, T0 - timedelta(minutes=30), T0 + timedelta(minutes=30), exact_match_rate=0.55)
    for n in range(3):
        watch.run(T0 + n * RUN)

    real = watch_wiring.state_store()
    snapshot = real.load_all()

    class ReadBeforeTheOtherRun:
        def load_all(self) -> list[WatchState]:
            return snapshot

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    first = watch.run(T0 + 3 * RUN)
    second = run_once(
        T0 + 3 * RUN + timedelta(seconds=20),
        observer=watch_wiring.observer(),
        store=ReadBeforeTheOtherRun(),  # type: ignore[arg-type]
        sender=watch_wiring.signal_sender(),
    )
    assert len(first.fired) == 1 and first.queued_request_ids
    assert second.fired == [] and second.queued_request_ids == [] and second.conflicts == 1
    assert len(watch.queued()) == 1


def test_a_request_the_queue_refused_is_sent_by_the_next_run(watch: Watch):
    """Nothing lost: the firing is written with its signal, and a failed send leaves it owed."""
    stack = watch.stack
    good_history(stack)
    seed(stack, 7, T0 - timedelta(minutes=30), T0 + timedelta(minutes=30), exact_match_rate=0.55)
    for n in range(3):
        watch.run(T0 + n * RUN)

    missing_queue = stack.resources.queue_url.replace("-requests.fifo", "-gone.fifo")
    stack.monkeypatch.setenv("ROLLBACK_QUEUE_URL", missing_queue)
    wiring.reset()
    watch_wiring.reset()
    refused = watch.run(T0 + 3 * RUN)
    assert len(refused.fired) == 1 and refused.send_failures == 1 and refused.queued_request_ids == []
    (owed,) = watch.states().values()
    assert owed.phase is Phase.FIRING and [s.kind.value for s in owed.outbox] == ["firing"]

    stack.monkeypatch.setenv("ROLLBACK_QUEUE_URL", stack.resources.queue_url)
    wiring.reset()
    watch_wiring.reset()
    stack.langfuse.app.fail_next(503, count=1, path_prefix=METRICS_PATH)
    retried = watch.run(T0 + 4 * RUN)  # no data from Langfuse, but the decision was already made
    assert retried.no_data and len(retried.queued_request_ids) == 1
    (request,) = watch.queued()
    assert request["trigger"]["starts_at"].startswith("2026-06-01T12:15:00")
    assert not watch.states()[("support-answer", 7, "exact_match")].outbox


def test_the_baseline_is_the_version_production_replaced_when_the_ledger_knows_it(watch: Watch):
    from prompt_rollback.changes.recorder import ChangeRecorder
    from prompt_rollback.domain.langfuse_events import PromptVersionEvent

    from tests.langfuse_webhooks import prompt_event

    stack = watch.stack
    good_history(stack, version=5)
    # v6 was as bad as v7 is now, and never held production: v7 replaced v5.
    seed(stack, 6, T0 - timedelta(days=7), T0 - timedelta(hours=1), per_minute=0.1, exact_match_rate=0.55)
    seed(stack, 7, T0 - timedelta(minutes=30), T0 + timedelta(minutes=40), exact_match_rate=0.55)
    moved_at = T0 - timedelta(hours=1)
    recorder = ChangeRecorder(wiring.audit_ledger(), clock=lambda: moved_at)
    for event in (
        prompt_event("evt_v7", "support-answer", 7, ["production"], changed_at=moved_at),
        prompt_event("evt_v5", "support-answer", 5, [], changed_at=moved_at),
    ):
        recorder.record_langfuse(PromptVersionEvent.model_validate(event))

    watch.run(T0)
    (state,) = watch.states().values()
    assert (state.key.trigger, state.phase) == ("exact_match", Phase.PENDING)
    assert state.summary.endswith("vs v5 (previous production on record)")


def test_the_baseline_is_found_however_many_records_came_after_the_move(watch: Watch):
    from prompt_rollback.changes.recorder import ChangeRecorder
    from prompt_rollback.domain.langfuse_events import PromptVersionEvent

    from tests.langfuse_webhooks import prompt_event

    stack = watch.stack
    good_history(stack, version=5)
    seed(stack, 6, T0 - timedelta(days=7), T0 - timedelta(hours=1), per_minute=0.1, exact_match_rate=0.55)
    seed(stack, 7, T0 - timedelta(minutes=30), T0 + timedelta(minutes=40), exact_match_rate=0.55)
    moved_at = T0 - timedelta(hours=1)
    recorder = ChangeRecorder(wiring.audit_ledger(), clock=lambda: moved_at)
    events = [
        prompt_event("evt_v7", "support-answer", 7, ["production"], changed_at=moved_at),
        prompt_event("evt_v5", "support-answer", 5, [], changed_at=moved_at),
    ]
    # Then a cleanup script deletes old drafts: each delete is a change record of its own.
    events += [
        prompt_event(f"evt_del{n}", "support-answer", 1, [], action="deleted", changed_at=moved_at)
        for n in range(101)
    ]
    for event in events:
        recorder.record_langfuse(PromptVersionEvent.model_validate(event))

    watch.run(T0)
    (state,) = watch.states().values()
    assert state.summary.endswith("vs v5 (previous production on record)")
