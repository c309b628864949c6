"""Whatever reaches POST /alerts, the webhook answers 202 or a 4xx (never a 5xx, which
Alertmanager would retry forever, and never a crash), and a 202 accounts for every alert."""

from __future__ import annotations

import json
import re
import unicodedata

from hypothesis import event, given
from hypothesis import strategies as st

from tests.integration.conftest import Stack
from tests.property.conftest import bounded
from tests.property.strategies import bodies, json_values

ANSWERS = {202, 400, 413, 415, 422}
# What may be in a prompt name we act on: no control, format (bidi, zero-width), separator or
# unassigned characters.
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def check_answer(status: int, answer: dict, sent: object) -> None:
    assert status in ANSWERS, (status, answer)
    event(f"HTTP {status}" + (f", {min(len(answer['accepted']), 3)}+ accepted" if status == 202 else ""))
    if status != 202:
        assert set(answer) <= {"error", "details"}
        return
    assert isinstance(sent, dict)
    assert len(answer["accepted"]) + len(answer["skipped"]) == len(sent["alerts"])
    for accepted in answer["accepted"]:
        name = accepted["prompt_name"]
        assert ".." not in name.split("/") and "." not in name.split("/"), name
        assert not any(unicodedata.category(ch) in _INVISIBLE for ch in name), name
        assert name == name.strip()
        assert isinstance(accepted["prompt_version"], int) and accepted["prompt_version"] >= 1
        assert re.fullmatch(r"rb-[0-9a-f]{24}", accepted["rollback_id"])
    for skipped in answer["skipped"]:
        assert skipped["reason"]


@bounded(200)
@given(body=bodies)
def test_alertmanager_shaped_bodies_are_answered_and_every_alert_accounted_for(stack: Stack, body):
    status, answer = stack.post(body)
    check_answer(status, answer, body)


@bounded(150)
@given(value=json_values)
def test_any_json_is_answered_with_a_4xx_never_a_crash(stack: Stack, value):
    status, answer = stack.post(value)
    check_answer(status, answer, value)


@bounded(100)
@given(raw=st.one_of(st.binary(max_size=200), bodies.map(lambda b: json.dumps(b).encode()[:-3])))
def test_undecodable_or_truncated_bytes_are_a_400_never_a_crash(stack: Stack, raw):
    status, answer = stack.post(None, raw=raw)
    assert status in {400, 422}, (status, answer)
