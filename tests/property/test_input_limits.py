"""The input limits as properties: long text, huge numbers and big labels never make the
webhook answer a 5xx or refuse a well-formed body, every alert is accepted or skipped with a
reason, what is queued is cut to fit, and no rollback_to moves production forward by itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import event, given
from hypothesis import strategies as st
from prompt_rollback.adapters.rollback_queue import SQS_BATCH_BYTES
from prompt_rollback.domain.alertmanager import AlertmanagerWebhook
from prompt_rollback.domain.intake import SkipKind, triage
from prompt_rollback.domain.policy import Ask, Outcome, PastDecision, RegistryState, decide
from prompt_rollback.domain.policy_config import PolicyConfig
from prompt_rollback.domain.requests import (
    MAX_LABELS_CHARS,
    MAX_NAME_LENGTH,
    MAX_REASON_LENGTH,
    MAX_URL_LENGTH,
    MAX_VERSION,
)

from tests.conftest import load_fixture
from tests.integration.conftest import Stack
from tests.property.conftest import bounded
from tests.property.strategies import big_bodies, huge_numbers

WEBHOOK_BODY_LIMIT = 1_048_576
RECEIVED = datetime(2026, 4, 17, 14, 0, tzinfo=UTC)
FIRING_BODY = load_fixture("firing")


@bounded(80)
@given(body=big_bodies)
def test_long_text_huge_numbers_and_big_labels_never_make_a_5xx(stack: Stack, body):
    raw = json.dumps(body, ensure_ascii=False).encode()
    status, answer = stack.post(None, raw=raw)
    if len(raw) > WEBHOOK_BODY_LIMIT:
        event("over 1 MiB: 413")
        assert status == 413, (status, answer)
        return
    event(f"HTTP {status}, {min(len(answer.get('accepted', [])), 2)}+ accepted")
    assert status == 202, (status, answer)  # a well-formed body is never refused, never a 5xx
    assert len(answer["accepted"]) + len(answer["skipped"]) == len(body["alerts"])
    assert all(skipped["reason"] for skipped in answer["skipped"])
    assert all(1 <= accepted["prompt_version"] <= MAX_VERSION for accepted in answer["accepted"])
    assert answer["truncatedAlerts"] >= 0


@bounded(150, shared_stack=False)
@given(body=big_bodies)
def test_every_request_built_from_any_body_is_cut_to_fit(body):
    intake = triage(AlertmanagerWebhook.model_validate(body), RECEIVED)
    assert len(intake.accepted) + len(intake.skipped) == len(body["alerts"])
    for skipped in intake.skipped:
        assert skipped.reason
        assert len(skipped.alertname) <= MAX_NAME_LENGTH
        if skipped.kind is SkipKind.NOTHING_TO_DO:
            assert skipped.reason.startswith(("resolved", "duplicate"))
    for request in intake.accepted:
        trigger = request.trigger
        assert trigger is not None
        assert len(request.reason) <= MAX_REASON_LENGTH and len(trigger.summary) <= MAX_REASON_LENGTH
        assert len(request.environment) <= MAX_NAME_LENGTH and len(trigger.alertname) <= MAX_NAME_LENGTH
        for url in (trigger.generator_url, trigger.runbook_url, trigger.external_url, trigger.group_key):
            assert len(url) <= MAX_URL_LENGTH
        assert sum(len(k) + len(v) for k, v in trigger.labels.items()) <= MAX_LABELS_CHARS
        # One message always fits one SQS batch (and the default 256 KiB message size).
        assert len(request.model_dump_json().encode()) <= SQS_BATCH_BYTES


@st.composite
def registry_states(draw: st.DrawFn) -> RegistryState:
    versions = draw(st.frozensets(st.integers(min_value=1, max_value=12), min_size=1, max_size=12))
    # Mostly a prompt with a production version: the interesting decisions start there.
    production = draw(st.sampled_from(sorted(versions))) if draw(st.integers(0, 9)) != 9 else None
    previous = draw(st.lists(st.integers(min_value=1, max_value=14), max_size=4))
    return RegistryState(production, versions, tuple(previous))


past_decisions = st.lists(
    st.builds(
        PastDecision,
        outcome=st.sampled_from(list(Outcome)),
        recorded_at=st.integers(min_value=1, max_value=60 * 24 * 30).map(
            lambda minutes: RECEIVED - timedelta(minutes=minutes)
        ),
        from_version=st.none() | st.integers(min_value=1, max_value=14),
        to_version=st.none() | st.integers(min_value=1, max_value=14),
        observed_production=st.none() | st.integers(min_value=1, max_value=14),
    ),
    max_size=5,
).map(lambda history: sorted(history, key=lambda d: d.recorded_at, reverse=True))


@bounded(400, shared_stack=False)
@given(
    state=registry_states(),
    history=past_decisions,
    rollback_to=st.none() | st.integers(min_value=1, max_value=14),
    forced=st.booleans(),
    allow_forward=st.booleans(),
    dry_run=st.none() | st.booleans(),
)
def test_no_rollback_moves_forward_or_to_a_missing_version_unless_forced_to(
    state, history, rollback_to, forced, allow_forward, dry_run
):
    current = state.production_version
    ask = Ask("support-answer", None if forced else current, rollback_to, forced, dry_run, allow_forward)
    decision = decide(
        ask, state, history, PolicyConfig(cooldown_minutes=0, max_rollbacks_per_day=1000), RECEIVED
    )
    assert decision.reason
    if decision.outcome in (Outcome.SKIPPED, Outcome.FAILED):
        event(f"skipped: {decision.reason.split(':')[0][:30]}")
        assert decision.to_version is None
        return
    event(f"{decision.outcome.value}: {decision.basis.split(';')[0][:40]}")
    assert current is not None and decision.to_version is not None
    assert decision.to_version in state.versions
    assert decision.to_version != current
    if decision.to_version > current:
        # Only an explicit, forced, allow_forward request to exactly that version moves forward.
        assert forced and allow_forward and rollback_to == decision.to_version
    if rollback_to is not None and decision.to_version != rollback_to:
        assert not forced  # a person's explicit target is honoured or refused, never swapped
        assert f"rollback_to v{rollback_to} ignored" in decision.basis


@bounded(300, shared_stack=False)
@given(prompt_version=huge_numbers, rollback_to=st.none() | huge_numbers)
def test_any_digit_string_is_a_bounded_version_or_a_skip_with_a_reason(prompt_version, rollback_to):
    firing_body = FIRING_BODY
    labels = {**firing_body["alerts"][0]["labels"], "prompt_version": prompt_version}
    annotations = {k: v for k, v in firing_body["alerts"][0]["annotations"].items() if k != "rollback_to"}
    if rollback_to is not None:
        labels["rollback_to"] = rollback_to
    body = {
        **firing_body,
        "alerts": [{**firing_body["alerts"][0], "labels": labels, "annotations": annotations}],
    }
    intake = triage(AlertmanagerWebhook.model_validate(body), RECEIVED)
    if intake.accepted:
        [request] = intake.accepted
        assert request.alerted_version is not None and 1 <= request.alerted_version <= MAX_VERSION
        assert request.rollback_to is None or 1 <= request.rollback_to <= MAX_VERSION
        event("accepted")
    else:
        [skipped] = intake.skipped
        assert "must be a positive integer" in skipped.reason and skipped.kind is SkipKind.MISCONFIGURED
        event("skipped")
