"""Whatever reaches POST /slack/actions, signed or not, it is answered 200, 401 or a 4xx, never a
5xx or a crash, and it queues at most one well-formed click (nothing for an unsigned body)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import boto3
from hypothesis import event, given
from hypothesis import strategies as st

from tests.integration.slack_app_stack import AppStack
from tests.property.conftest import bounded
from tests.property.strategies import json_values

ANSWERS = {200, 400, 401, 413, 415}

text = st.text(max_size=40)
payloads = st.fixed_dictionaries(
    {
        "type": st.one_of(st.just("block_actions"), text),
        "user": st.one_of(st.fixed_dictionaries({"id": st.one_of(st.just("U0ALICE"), text)}), json_values),
        "actions": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "action_id": st.one_of(st.sampled_from(["undo", "approve", "reject"]), text),
                        "value": st.one_of(st.just("rb-unknown"), text),
                        "action_ts": text,
                    }
                ),
                max_size=2,
            ),
            json_values,
        ),
    },
    optional={"channel": json_values, "team": json_values},
)


def _queued(app: AppStack) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=app.stack.resources.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


@bounded(150)
@given(payload=st.one_of(payloads, json_values), signed=st.booleans())
def test_any_payload_is_answered_without_a_5xx_and_unsigned_ones_change_nothing(
    app_stack: AppStack, payload, signed
):
    body = urlencode({"payload": json.dumps(payload)})
    before = _queued(app_stack)
    if signed:
        status, _, _ = app_stack.click("x", "undo", body=body)
    else:
        status = app_stack.send({"Content-Type": "application/x-www-form-urlencoded"}, body)
    event(f"{'signed' if signed else 'unsigned'} HTTP {status}")
    assert status in ANSWERS
    assert signed or status == 401
    assert _queued(app_stack) == before  # no rollback id of ours: nothing to queue


@bounded(100)
@given(raw=st.one_of(st.text(max_size=300), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_any_signed_form_body_is_a_4xx_or_200_never_a_crash(app_stack: AppStack, raw):
    status, _, _ = app_stack.click("x", "undo", body=raw)
    assert status in ANSWERS
