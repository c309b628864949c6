"""Whatever signed body reaches POST /langfuse/events, the answer is 200 or a 4xx (never a 5xx,
which Langfuse would retry and count towards disabling the automation), and an unsigned one is
always 401 whatever it contains."""

from __future__ import annotations

from hypothesis import event, given
from hypothesis import strategies as st

from tests.integration.conftest import Stack, reset_wiring
from tests.integration.test_langfuse_handler import deliver
from tests.langfuse_webhooks import SECRET, prompt_event, serialize, sign
from tests.property.conftest import bounded
from tests.property.strategies import json_values

text = st.text(max_size=300)
events = st.builds(
    prompt_event,
    event_id=st.text(min_size=1, max_size=250),
    name=text,
    version=st.integers(min_value=-3, max_value=2**40),
    labels=st.lists(st.one_of(st.just("production"), text), max_size=5),
    action=st.sampled_from(["created", "updated", "deleted", "renamed"]),
    user=st.one_of(st.none(), st.fixed_dictionaries({"name": text, "email": st.one_of(st.none(), text)})),
    commit_message=st.one_of(st.none(), st.text(max_size=5000)),
)


def signed_up(stack: Stack) -> None:
    stack.monkeypatch.setenv("LANGFUSE_WEBHOOK_SECRET", SECRET)
    reset_wiring()


@bounded(120)
@given(body=events)
def test_signed_event_shaped_bodies_are_answered_200_or_4xx(stack: Stack, body):
    signed_up(stack)
    raw = serialize(body)
    status, answer = deliver(raw, sign(raw))
    event(f"HTTP {status}")
    assert status in {200, 400, 422}, (status, answer)


@bounded(80)
@given(value=json_values)
def test_any_signed_json_is_answered_never_a_crash(stack: Stack, value):
    signed_up(stack)
    raw = serialize(value) if not isinstance(value, bytes) else value
    status, answer = deliver(raw, sign(raw))
    assert status in {200, 400, 422}, (status, answer)


@bounded(80)
@given(raw=st.binary(max_size=300), header=st.one_of(st.none(), st.text(max_size=200)))
def test_unsigned_or_badly_signed_bytes_are_always_401(stack: Stack, raw, header):
    signed_up(stack)
    assert deliver(raw, header)[0] == 401
