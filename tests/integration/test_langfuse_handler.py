"""POST /langfuse/events end to end: signed Langfuse webhooks -> change records in the ledger (moto)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from prompt_rollback.changes import langfuse_handler as langfuse_events
from prompt_rollback.domain.audit import verify_chain
from prompt_rollback.domain.production_order import past_moves

from local_mode.lambda_runtime import LocalLambdaContext, api_gateway_event
from tests.integration.conftest import Stack, reset_wiring
from tests.langfuse_webhooks import SECRET, prompt_event, serialize, sign

ALICE = {"name": "Alice Ops", "email": "alice@example.com"}


@pytest.fixture
def events_stack(stack: Stack) -> Stack:
    stack.monkeypatch.setenv("LANGFUSE_WEBHOOK_SECRET", SECRET)
    reset_wiring()
    return stack


def deliver(
    body: bytes, signature: str | None, content_type: str = "application/json"
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type, "User-Agent": "Langfuse/1.0"}
    if signature is not None:
        headers["x-langfuse-signature"] = signature
    result = langfuse_events.lambda_handler(
        api_gateway_event("POST", "/langfuse/events", headers, body), LocalLambdaContext("langfuse-events")
    )
    return int(result["statusCode"]), json.loads(result.get("body") or "{}")


def send(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    body = serialize(event)
    return deliver(body, sign(body))


def changes(stack: Stack) -> list[dict[str, Any]]:
    return [r for r in stack.audit() if r["kind"] == "change"]


def person_moves_production(stack: Stack, to_version: int, ids: tuple[str, str]) -> tuple[dict, dict]:
    """What Langfuse sends when someone moves production in its UI: two events."""
    before = stack.production()
    stack.langfuse.store.set_labels("support-answer", to_version, ["production"])
    gainer = prompt_event(ids[0], "support-answer", to_version, ["production"], user=ALICE)
    loser = prompt_event(ids[1], "support-answer", before or 1, [], user=ALICE)
    return gainer, loser


@pytest.mark.parametrize("gainer_first", [True, False])
def test_a_move_by_hand_is_recorded_once_in_either_order_with_retries(
    events_stack: Stack, gainer_first: bool
):
    stack = events_stack
    for e in person_moves_production(stack, 5, ("evt_g1", "evt_l1")):
        assert send(e)[0] == 200
    gainer, loser = person_moves_production(stack, 6, ("evt_g2", "evt_l2"))
    first, second = (gainer, loser) if gainer_first else (loser, gainer)
    statuses = [send(e)[0] for e in (first, first, second, first, second, second)]
    assert statuses == [200] * 6
    # The first change the ledger hears of learns its `from` (the demo's v7, never on record) from
    # the losing version's event, which came second: on record as that move's `left` half.
    assert [(c["change"], c["from_version"], c["to_version"], c["actor"]) for c in changes(stack)] == [
        ("moved", None, 5, "alice@example.com"),
        ("left", 7, 5, "alice@example.com"),
        ("moved", 5, 6, "alice@example.com"),
    ]
    newest_first = list(reversed(stack.audit()))
    assert [(m.from_version, m.to_version) for m in past_moves(newest_first)] == [(5, 6), (7, 5)]
    assert verify_chain(stack.audit()) == []


def test_forged_expired_unsigned_and_tampered_requests_are_401_and_change_nothing(events_stack: Stack):
    body = serialize(prompt_event("evt_x", "support-answer", 3, ["production"]))
    assert deliver(body, None)[0] == 401
    assert deliver(body, sign(body, secret="lf-whsec_forged"))[0] == 401
    assert deliver(body, sign(body, timestamp=int(time.time()) - 301))[0] == 401
    assert deliver(body.replace(b'"version":3', b'"version":4'), sign(body))[0] == 401
    # Verified before parsing: garbage with a bad signature is 401, not 400.
    assert deliver(b"{not json", "t=1,v1=00")[0] == 401
    assert changes(events_stack) == []


def test_a_replayed_request_is_answered_from_memory_and_records_nothing_more(events_stack: Stack):
    body = serialize(prompt_event("evt_r", "support-answer", 3, ["production"], user=ALICE))
    header = sign(body)
    status, first = deliver(body, header)
    assert (status, first["status"]) == (200, "recorded")
    status, again = deliver(body, header)
    assert status == 200 and again["replayed"] is True and again["seq"] == first["seq"]
    assert len(changes(events_stack)) == 1


def test_malformed_bodies_with_valid_signatures_are_400_415_and_422(events_stack: Stack):
    garbage = b'{"id": "evt", '
    assert deliver(garbage, sign(garbage))[0] == 400
    wrong_type = serialize({**prompt_event("evt_t", "support-answer", 3, []), "type": "trace"})
    status, body = deliver(wrong_type, sign(wrong_type))
    assert status == 422 and "type" in {d["loc"] for d in body["details"]}
    ok = serialize(prompt_event("evt_c", "support-answer", 3, []))
    assert deliver(ok, sign(ok), content_type="text/plain")[0] == 415
    assert changes(events_stack) == []


def test_our_own_rollback_is_not_recorded_twice(events_stack: Stack, firing_body):
    stack = events_stack
    stack.set_policy(dry_run=False, allowed_prompts=["*"])
    stack.monkeypatch.setenv("LANGFUSE_WEBHOOK_SECRET", SECRET)
    assert stack.post(firing_body)[0] == 202
    stack.drain()
    [decision] = stack.decisions()
    assert decision["outcome"] == "rolled_back"
    to, frm = decision["to_version"], decision["from_version"]
    # Langfuse announces our own label move as two API-key events (no user).
    assert send(prompt_event("evt_o1", "support-answer", to, ["production"]))[1]["status"] == "ignored"
    assert send(prompt_event("evt_o2", "support-answer", frm, []))[1]["status"] == "ignored"
    assert changes(stack) == []
    assert verify_chain(stack.audit()) == []


class PersonMovesRightAfterOurIntent:
    """The ledger, with a person moving production in Langfuse the moment our intent is written,
    and Langfuse's two webhooks for that move arriving before our worker moves the label."""

    def __init__(self, ledger: Any, stack: Stack, to_version: int) -> None:
        self._ledger = ledger
        self._stack = stack
        self._to_version = to_version
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    def append(self, record: Any, after: Any) -> Any:
        sealed = self._ledger.append(record, after)
        if record.kind == "intent" and not self.fired:
            self.fired = True
            for event in person_moves_production(self._stack, self._to_version, ("evt_p1", "evt_p2")):
                assert send(event)[0] == 200
        return sealed


class PersonMovesUnheardRightAfterOurIntent(PersonMovesRightAfterOurIntent):
    """The same move, with Langfuse's webhooks for it still on their way (they are asynchronous)."""

    def append(self, record: Any, after: Any) -> Any:
        sealed = self._ledger.append(record, after)
        if record.kind == "intent" and not self.fired:
            self.fired = True
            self._stack.langfuse.store.set_labels("support-answer", self._to_version, ["production"])
        return sealed


def _roll_back_while_a_person_moves(
    stack: Stack, firing_body: dict[str, Any], racing_ledger: type[PersonMovesRightAfterOurIntent]
) -> None:
    from functools import cache

    from prompt_rollback import wiring

    stack.set_policy(dry_run=False, allowed_prompts=["*"])
    racing = racing_ledger(wiring.audit_ledger(), stack, to_version=4)
    stack.monkeypatch.setattr(wiring, "audit_ledger", cache(lambda: racing))
    reset_wiring()
    assert stack.post(firing_body)[0] == 202
    stack.drain()
    assert racing.fired


def test_a_persons_move_made_as_our_intent_is_written_stands_before_its_webhook_arrives(
    events_stack: Stack, firing_body
):
    stack = events_stack
    _roll_back_while_a_person_moves(stack, firing_body, PersonMovesUnheardRightAfterOurIntent)
    assert stack.production() == 4  # production is read after the intent: nothing overrides it
    assert stack.label_moves() == 0
    kinds = [(r["kind"], r.get("from_version"), r.get("to_version")) for r in stack.audit()]
    assert kinds == [("intent", 7, 6), ("decision", 4, None)]
    [decision] = stack.decisions()
    assert decision["outcome"] == "skipped"
    assert decision["reason"] == "already moved: production is v4, the alert was about v7"
    assert verify_chain(stack.audit()) == []


def test_a_persons_move_racing_our_rollback_stops_it_and_slack_says_who(events_stack: Stack, firing_body):
    stack = events_stack
    _roll_back_while_a_person_moves(stack, firing_body, PersonMovesRightAfterOurIntent)
    assert stack.production() == 4  # the person's choice stands
    assert stack.label_moves() == 0  # we never PATCHed: the PATCH in the store was the person's
    kinds = [(r["kind"], r.get("from_version"), r.get("to_version")) for r in stack.audit()]
    assert kinds == [("intent", 7, 6), ("change", 7, 4), ("decision", 7, None)]
    assert stack.decisions()[-1]["outcome"] == "skipped"
    decision = stack.decisions()[-1]
    assert "moved to v4 by alice@example.com" in decision["reason"]
    [message] = stack.slack.messages
    assert "alice@example.com" in json.dumps(message)
    assert verify_chain(stack.audit()) == []
