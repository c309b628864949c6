"""The rollback queue's message kinds: what every producer writes parses back as its kind, bodies
already queued by the deployed version still parse, and a body that fits no kind is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prompt_rollback.domain.interactions import (
    Click,
    RecoveryCheck,
    SlackAction,
)
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.domain.resolutions import ResolutionSignal, ResolvedAlert
from prompt_rollback.worker.messages import parse_queue_message
from pydantic import ValidationError

NOW = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)

# A rollback request exactly as the deployed webhook queues it: no message_type.
QUEUED_BY_THE_DEPLOYED_VERSION = (
    '{"request_id":"rb-0123456789abcdef01234567","provider":"langfuse","prompt_name":"support-answer",'
    '"alerted_version":7,"rollback_to":null,"environment":"prod","actor":"alertmanager",'
    '"reason":"answers got worse","forced":false,"allow_forward":false,"dry_run":null,"trigger":null,'
    '"received_at":"2026-12-01T22:00:00Z","provider_target":{},"slack_channel":"","slack_ts":""}'
)


def test_a_request_queued_by_the_deployed_version_parses_as_a_rollback_request():
    message = parse_queue_message(QUEUED_BY_THE_DEPLOYED_VERSION)
    assert isinstance(message, RollbackRequest)
    assert (message.request_id, message.prompt_name, message.alerted_version) == (
        "rb-0123456789abcdef01234567",
        "support-answer",
        7,
    )
    assert message.received_at == NOW and message.environment == "prod"


def test_a_request_is_still_queued_untagged_so_the_deployed_workers_read_it():
    request = RollbackRequest(request_id="rb-1", prompt_name="support-answer", received_at=NOW)
    assert "message_type" not in request.model_dump_json()
    assert parse_queue_message(request.model_dump_json()) == request


def test_a_tagged_request_parses_too():
    tagged = QUEUED_BY_THE_DEPLOYED_VERSION.replace("{", '{"message_type":"rollback_request",', 1)
    assert parse_queue_message(tagged) == parse_queue_message(QUEUED_BY_THE_DEPLOYED_VERSION)


@pytest.mark.parametrize(
    "message",
    [
        SlackAction(
            action_id="act-1",
            click=Click.APPROVE,
            rollback_id="rb-1",
            provider="langfuse",
            prompt_name="support-answer",
            user_id="U0ALICE",
            clicked_at=NOW,
        ),
        ResolutionSignal(
            provider="langfuse",
            prompt_name="support-answer",
            alerts=[ResolvedAlert(rollback_id="rb-1", fingerprint="f", starts_at=NOW, resolved_at=NOW)],
        ),
        RecoveryCheck(rollback_id="rb-1", provider="bedrock", prompt_name="support-answer"),
    ],
    ids=["slack click", "resolution", "recovery check"],
)
def test_every_queued_kind_parses_back_as_itself(message):
    assert parse_queue_message(message.model_dump_json()) == message


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        '"a string"',
        '{"message_type": "rollout_tick"}',  # a kind this version does not know yet
        '{"message_type": 3}',
        '{"message_type": "slack_action", "rollback_id": "rb-1"}',  # a click without who clicked
        '{"message_type": "recovery_check", "rollback_id": "rb-1", "provider": "langfuse",'
        ' "prompt_name": "support-answer", "request_id": "rb-1"}',  # two kinds mixed up
    ],
)
def test_a_body_that_fits_no_kind_is_refused(body):
    with pytest.raises(ValidationError):
        parse_queue_message(body)
