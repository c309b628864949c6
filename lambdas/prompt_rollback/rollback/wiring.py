"""Composition of the rollback feature: the service over the adapters in force, and manual rollbacks
answered once per request_id."""

from __future__ import annotations

from functools import cache
from typing import Any

from prompt_rollback import wiring
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.http_api.idempotency import AnsweredOnce, answered_once
from prompt_rollback.rollback.attempts import MANUAL, run_attempt
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.service import RollbackService

# What a manual request must repeat to reuse its request_id: anything else is a different
# rollback, and Powertools refuses it (IdempotencyValidationError) instead of replaying.
MANUAL_PAYLOAD_FIELDS = (
    "[provider, prompt_name, alerted_version, rollback_to, actor, reason, dry_run, provider_target]"
)


def rollback_service() -> RollbackService:
    """The service over the adapters in force now (cheap: every part is built once and reused)."""
    config = wiring.settings()
    return RollbackService(
        Journal(
            registries=wiring.registry_for,  # looked up per build: tests serve a provider themselves
            ledger=wiring.audit_ledger(),
            notifier=wiring.notifier(),
            policy=config.rollback_policy,
            stage=config.stage,
            pager=wiring.pager(),
        )
    )


def _manual_rollback(request: RollbackRequest) -> dict[str, Any]:
    return run_attempt(rollback_service(), request, MANUAL).as_dict()


@cache
def manual_rollbacks() -> AnsweredOnce[RollbackRequest]:
    """Manual invocations: a reused request_id replays its first answer, and a reused request_id
    with other parameters is refused."""
    config = wiring.settings()
    return answered_once(
        _manual_rollback,
        name="manual-rollback",
        key="request_id",
        payload_validation=MANUAL_PAYLOAD_FIELDS,
        expires_after_seconds=config.idempotency_expiry_seconds,
    )


wiring.on_reset(manual_rollbacks.cache_clear)
