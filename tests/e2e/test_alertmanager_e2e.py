"""The real Alertmanager drives local mode: one firing alert, one rollback, however often it is sent.
Alertmanager delivers at least once (again at every repeat_interval, once more on resolve); across them all
there must be one label move, one Slack message and one audit decision (processes: conftest.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import DEAD_LETTER_QUEUE, EndToEnd
from tests.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

PROMPT = "support-answer"
LABELS = {
    "alertname": "PromptRegression",
    "prompt_name": PROMPT,
    "prompt_version": "7",
    "severity": "critical",
    "env": "prod",
}
SUMMARY = "Faithfulness dropped below 0.80 for support-answer v7 (e2e)"
REPEATS = 2  # re-sends at repeat_interval to sit through after the rollback


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _alert(starts_at: datetime, ends_at: datetime | None = None) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": LABELS,
        "annotations": {"summary": SUMMARY},
        "startsAt": _timestamp(starts_at),
        "generatorURL": "http://prometheus.e2e.invalid/graph?g0.expr=prompt_eval_score",
    }
    if ends_at is not None:
        alert["endsAt"] = _timestamp(ends_at)
    return alert


def _assert_exactly_one_rollback(
    e2e: EndToEnd, audit_after_rollback: list[dict[str, Any]], when: str
) -> None:
    context = f"{when}\n{e2e.diagnostics()}"
    assert e2e.production() == 6, context
    assert len(e2e.label_moves()) == 1, context
    assert len(e2e.slack_messages()) == 1, context
    assert e2e.audit_records() == audit_after_rollback, context
    assert e2e.chain_problems() == [], context
    worker_lines = [line for line in e2e.console() if line.startswith("[worker] ")]
    assert len(worker_lines) == 1, context
    assert worker_lines[0].startswith(f"[worker] rolled_back: {PROMPT} v7 -> v6 "), context


def _drained(e2e: EndToEnd) -> bool:
    return e2e.queue_depth() == 0


@dataclass
class Phases:
    """Seconds spent in each phase, for the report printed at the end."""

    seconds: dict[str, float]
    since: float = field(default_factory=time.monotonic)

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = now - self.since
        self.since = now


@dataclass(frozen=True)
class Rollback:
    """What the first notification left behind, which every later delivery must leave alone."""

    request_id: str
    fingerprint: str
    audit: list[dict[str, Any]]


def _first_notification_rolls_back(e2e: EndToEnd, phases: Phases) -> Rollback:
    wait_for(
        "the rollback: production v6, a Slack message and an audit decision",
        lambda: e2e.production() == 6 and e2e.slack_messages() and e2e.decisions(),
        timeout=20,
        watched=e2e,
    )
    wait_for("the request queue to drain", lambda: _drained(e2e), timeout=15, watched=e2e)
    phases.done("alert to rollback")

    (decision,) = e2e.decisions()
    assert decision["outcome"] == "rolled_back"
    assert (decision["from_version"], decision["to_version"]) == (7, 6)
    assert decision["actor"] == "alertmanager"
    assert decision["mode"] == "automatic"
    assert decision["environment"] == "prod"
    assert decision["slack"]["status"] == "sent"
    assert decision["trigger"]["alertname"] == "PromptRegression"
    assert decision["trigger"]["labels"] == LABELS
    assert decision["trigger"]["summary"] == SUMMARY
    # Grouped by the shipped route's group_by (the part before ":" names the route, it may change).
    assert decision["trigger"]["group_key"].endswith(
        f':{{alertname="PromptRegression", prompt_name="{PROMPT}"}}'
    )
    (label_move,) = e2e.label_moves()
    assert label_move == f"/api/public/v2/prompts/{PROMPT}/versions/6"
    (message,) = e2e.slack_messages()
    assert PROMPT in str(message)
    return Rollback(decision["request_id"], decision["trigger"]["fingerprint"], e2e.audit_records())


def _repeats_roll_nothing_back(e2e: EndToEnd, rollback: Rollback, phases: Phases) -> list[str]:
    first_deliveries = len(e2e.firing_deliveries())
    wait_for(
        f"{REPEATS} more firing deliveries (repeat_interval re-sends)",
        lambda: len(e2e.firing_deliveries()) >= first_deliveries + REPEATS,
        timeout=20,
        watched=e2e,
    )
    wait_for("the request queue to drain", lambda: _drained(e2e), timeout=15, watched=e2e)
    phases.done("repeat re-sends")
    _assert_exactly_one_rollback(e2e, rollback.audit, "after the repeat_interval re-sends")
    firing = e2e.firing_deliveries()
    assert len(firing) >= 1 + REPEATS
    # Every delivery maps to the same rollback request: that id is what deduplicates them.
    first, *repeats = firing
    assert first == f"[webhook] 202 queued rollback {rollback.request_id} for {PROMPT} v7", firing
    assert all(
        line.startswith(f"[webhook] 202 {PROMPT} v7 again, as {rollback.request_id}:") for line in repeats
    )
    return firing


def _resolved_notification_records_recovery(
    e2e: EndToEnd, rollback: Rollback, starts_at: datetime, phases: Phases
) -> None:
    e2e.post_alerts([_alert(starts_at, ends_at=datetime.now(UTC))])
    (resolved,) = wait_for("the resolved notification", e2e.resolved_deliveries, timeout=15, watched=e2e)
    wait_for("the request queue to drain", lambda: _drained(e2e), timeout=15, watched=e2e)
    wait_for(
        "the recovered record",
        lambda: len(e2e.audit_records()) == len(rollback.audit) + 1,
        timeout=15,
        watched=e2e,
    )
    phases.done("resolved notification")
    assert resolved.startswith(f"[webhook] 202 skipped alert {rollback.fingerprint}: resolved"), resolved
    context = e2e.diagnostics()
    *before, recovered = e2e.audit_records()
    assert before == rollback.audit, context
    assert (recovered["kind"], recovered["outcome"], recovered["rollback_id"]) == (
        "followup",
        "recovered",
        rollback.request_id,
    ), context
    assert recovered["recovery_seconds"] >= 0
    assert e2e.production() == 6 and len(e2e.label_moves()) == 1, context
    assert len(e2e.slack_messages()) == 1, context  # the incoming webhook has no thread to reply in
    assert e2e.chain_problems() == [], context


def _every_delivery_was_accepted(e2e: EndToEnd) -> None:
    """Every delivery was a 202 for Alertmanager, and nothing was parked in the DLQ."""
    deliveries = e2e.webhook_lines()
    assert all(line.startswith("[webhook] 202 ") for line in deliveries), deliveries
    assert e2e.alertmanager_metric("alertmanager_notifications_failed_total") == 0, e2e.diagnostics()
    # Alertmanager's own count of webhook notifications matches what local mode printed.
    wait_for(
        f"Alertmanager to count {len(deliveries)} webhook notifications",
        lambda: e2e.alertmanager_metric("alertmanager_notifications_total") == len(deliveries),
        timeout=5,
        watched=e2e,
    )
    assert e2e.queue_depth(DEAD_LETTER_QUEUE) == 0


def test_alertmanager_repeats_and_resolve_cause_exactly_one_rollback_then_recovered(e2e: EndToEnd) -> None:
    phases = Phases(dict(e2e.timings))
    starts_at = datetime.now(UTC)
    e2e.post_alerts([_alert(starts_at)])
    # 1. The first notification (after group_wait) rolls production back from v7 to v6.
    rollback = _first_notification_rolls_back(e2e, phases)
    # 2. While the alert keeps firing, Alertmanager re-sends the group at each repeat_interval.
    firing = _repeats_roll_nothing_back(e2e, rollback, phases)
    # 3. The resolved notification rolls nothing back: it ends the rollback's recovery window,
    #    recorded as `recovered`, linked to the rollback.
    _resolved_notification_records_recovery(e2e, rollback, starts_at, phases)
    _every_delivery_was_accepted(e2e)

    print(f"deliveries: {len(firing)} firing, {len(e2e.resolved_deliveries())} resolved")
    print("phases: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in phases.seconds.items()))
