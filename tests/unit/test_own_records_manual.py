"""A request without an alert (a manual rollback, whose id a caller may choose and use again at any
time) is always looked up through the request-id index: the list's bound says nothing about it."""

from __future__ import annotations

from datetime import timedelta

from prompt_rollback.domain.request_index import KEEP_LISTED
from prompt_rollback.rollback.attempts import run_attempt

from tests.unit.test_rollback_service import FIRST, request


def test_a_manual_request_used_again_after_the_list_rolled_past_it_gets_its_decision_back(
    service, registry, clock
):
    first = run_attempt(service, request("ops-drill-1", rollback_to=6, forced=True), FIRST)
    assert first.outcome == "rolled_back" and registry.moves == [6]
    for index in range(KEEP_LISTED):
        clock.now += timedelta(minutes=1)
        run_attempt(service, request(f"rb-echo-{index}"), FIRST)
    # Days later, the same id again (a script run again): answered from the ledger, nothing moves.
    clock.now += timedelta(days=3)
    again = request("ops-drill-1", rollback_to=6, forced=True).model_copy(update={"received_at": clock.now})
    replayed = run_attempt(service, again, FIRST)
    assert replayed.replayed and (replayed.outcome, replayed.seq) == ("rolled_back", first.seq)
    assert registry.moves == [6]
