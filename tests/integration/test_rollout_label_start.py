"""Adding the label `canary` to a version in the Langfuse UI starts the prompt's default plan, for
prompts opted in with `rollout_on_canary_label`: a signed webhook to POST /langfuse/events queues a
rollout start on the prompt's FIFO group, once per event id; the worker starts it."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import Stack, reset_wiring
from tests.integration.test_langfuse_handler import deliver, send
from tests.integration.test_rollout_controller import PROMPT, small_plan
from tests.langfuse_webhooks import SECRET, prompt_event, serialize, sign

ALICE = {"name": "Alice Ops", "email": "alice@example.com"}


@pytest.fixture
def label_stack(stack: Stack) -> Stack:
    stack.monkeypatch.setenv("LANGFUSE_WEBHOOK_SECRET", SECRET)
    plans = {
        "defaults": [{"pattern": "support-*", "plan": small_plan()}],
        "rollout_on_canary_label": ["support-*"],
    }
    stack.monkeypatch.setenv("ROLLOUT_PLANS", json.dumps(plans))
    reset_wiring()
    return stack


def add_canary(stack: Stack, name: str = PROMPT, event_id: str = "evt_canary_1") -> tuple[int, dict]:
    """What Langfuse sends when someone adds `canary` to a new version in its UI."""
    version = int(stack.langfuse.store.create(name, "Be brief. {{question}}")["version"])
    stack.langfuse.store.set_labels(name, version, ["canary"])
    return version, prompt_event(event_id, name, version, ["canary"], user=ALICE)


def rollout_records(stack: Stack, name: str = PROMPT) -> list[dict]:
    return [r for r in stack.audit(name) if r.get("rollout_id") and r["kind"] != "gate"]


def test_adding_canary_in_the_ui_starts_the_default_plan(label_stack: Stack):
    version, event = add_canary(label_stack)
    status, body = send(event)
    assert status == 200 and body["rollout"] == "queued", body
    label_stack.drain()

    [started] = rollout_records(label_stack)
    assert started["kind"] == "rollout_started" and started["to_version"] == version
    assert started["share"] == 5 and started["from_version"] == 7
    assert "alice@example.com" in started["actor"]
    labels = label_stack.langfuse.store.get(PROMPT, version=version)["labels"]
    assert {"canary", "canary-5"} <= set(labels)


def test_the_same_event_delivered_again_starts_nothing_more(label_stack: Stack):
    _, event = add_canary(label_stack)
    assert send(event)[0] == 200
    assert send(event)[0] == 200  # a Langfuse retry: the same event id
    label_stack.drain()
    assert [r["kind"] for r in rollout_records(label_stack)] == ["rollout_started"]


def test_a_prompt_not_opted_in_is_left_alone(label_stack: Stack):
    label_stack.langfuse.store.create("billing-answer", "v1", labels=["production"])
    _, event = add_canary(label_stack, name="billing-answer")
    status, body = send(event)
    assert status == 200 and "not opted in" in body["rollout"]
    assert label_stack.queue_depth(label_stack.resources.queue_url) == 0


@pytest.mark.parametrize(
    ("labels", "action", "why"),
    [
        (["canary", "production"], "updated", "production"),
        (["staging"], "updated", "no canary"),
        (["canary"], "created", "updated"),
    ],
)
def test_only_an_update_that_puts_canary_on_a_version_outside_production_starts(
    label_stack: Stack, labels, action, why
):
    event = prompt_event("evt_other", PROMPT, 7, labels, action=action, user=ALICE)
    status, body = send(event)
    assert status == 200 and why in body["rollout"], body
    assert label_stack.queue_depth(label_stack.resources.queue_url) == 0


def test_a_forged_webhook_starts_nothing(label_stack: Stack):
    _, event = add_canary(label_stack)
    body = serialize(event)
    status, _ = deliver(body, sign(body, secret="lf-whsec_not-the-real-one"))
    assert status == 401
    assert label_stack.queue_depth(label_stack.resources.queue_url) == 0
    assert rollout_records(label_stack) == []


def test_a_label_gone_by_the_time_the_worker_looks_starts_nothing(label_stack: Stack):
    version, event = add_canary(label_stack)
    assert send(event)[0] == 200
    label_stack.langfuse.store.set_labels(PROMPT, 7, ["canary"])  # moved back onto stable meanwhile
    label_stack.drain()
    assert rollout_records(label_stack) == []
    assert "canary-5" not in label_stack.langfuse.store.get(PROMPT, version=version)["labels"]


def test_a_second_canary_while_one_rolls_out_is_refused_and_changes_nothing(label_stack: Stack):
    _, event = add_canary(label_stack)
    send(event)
    label_stack.drain()
    before = label_stack.audit(PROMPT)
    other, second = add_canary(label_stack, event_id="evt_canary_2")
    send(second)
    label_stack.drain()
    assert label_stack.audit(PROMPT) == before
    assert "canary-5" not in label_stack.langfuse.store.get(PROMPT, version=other)["labels"]
