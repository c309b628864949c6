"""Langfuse's webhook signature, checked against bodies signed the way the server signs them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from prompt_rollback.domain.langfuse_signature import SignatureRejected, signature_header, verify

from tests.langfuse_webhooks import SECRET, prompt_event, serialize, sign

BODY = serialize(prompt_event("evt_1", "support-answer", 7, ["production", "latest"]))


def now() -> datetime:
    return datetime.now(UTC)


def test_a_body_signed_like_the_server_verifies():
    timestamp = int(time.time())
    assert verify(sign(BODY, timestamp=timestamp), BODY, [SECRET], now()) == timestamp


def test_our_own_header_is_what_the_server_writes():
    timestamp = int(time.time())
    assert signature_header(BODY, timestamp, SECRET) == sign(BODY, timestamp=timestamp)


def test_header_parsed_by_key_in_any_order_and_with_spaces():
    t, v1 = (part.split("=", 1)[1] for part in sign(BODY).split(","))
    assert verify(f"v1={v1}, t={t}", BODY, [SECRET], now())
    assert verify(f"t={t},v0=deadbeef,v1={v1}", BODY, [SECRET], now())


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", "t=abc,v1=00", "v1=00", f"t={int(time.time())}", "t=1,t=2,v1=00"],
)
def test_missing_or_malformed_header_is_rejected(header):
    with pytest.raises(SignatureRejected):
        verify(header, BODY, [SECRET], now())


def test_forged_signature_wrong_secret_and_tampered_body_are_rejected():
    with pytest.raises(SignatureRejected, match="does not match"):
        verify(sign(BODY, secret="lf-whsec_attacker"), BODY, [SECRET], now())
    # The secret without its lf-whsec_ prefix is a different key: the server keys with the whole string.
    with pytest.raises(SignatureRejected, match="does not match"):
        verify(sign(BODY, secret=SECRET.removeprefix("lf-whsec_")), BODY, [SECRET], now())
    with pytest.raises(SignatureRejected, match="does not match"):
        verify(sign(BODY), BODY.replace(b'"version":7', b'"version":3'), [SECRET], now())


def test_expired_and_future_timestamps_are_rejected_at_five_minutes():
    old = int((now() - timedelta(minutes=5, seconds=5)).timestamp())
    with pytest.raises(SignatureRejected, match="away from now"):
        verify(sign(BODY, timestamp=old), BODY, [SECRET], now())
    future = int((now() + timedelta(minutes=6)).timestamp())
    with pytest.raises(SignatureRejected, match="away from now"):
        verify(sign(BODY, timestamp=future), BODY, [SECRET], now())
    recent = int((now() - timedelta(minutes=4)).timestamp())
    assert verify(sign(BODY, timestamp=recent), BODY, [SECRET], now()) == recent


def test_previous_secret_still_verifies_during_a_rotation_and_no_secret_verifies_nothing():
    assert verify(sign(BODY, secret="lf-whsec_old"), BODY, [SECRET, "lf-whsec_old"], now())
    with pytest.raises(SignatureRejected):
        verify(sign(BODY, secret=""), BODY, [""], now())
