"""What the registry is asked before a decision: nothing more than the ledger cannot tell, and
production itself after the intent when the alert and the ledger agree on it (confirm)."""

from __future__ import annotations

from dataclasses import replace

from prompt_rollback.domain.guard_summary import GuardSummary
from prompt_rollback.domain.policy import (
    Ask,
    RegistryState,
    assumed_production,
    needs_version_list,
    recorded_before,
)
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.ports import ListsVersions, PromptRef
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.records import prompt_ref


def ask_of(request: RollbackRequest) -> Ask:
    return Ask(
        prompt_name=request.prompt_name,
        alerted_version=request.alerted_version,
        rollback_to=request.rollback_to,
        forced=request.forced,
        dry_run=request.dry_run,
        allow_forward=request.allow_forward,
    )


def read_for(journal: Journal, request: RollbackRequest, ask: Ask, guards: GuardSummary) -> RegistryState:
    """The registry's state for deciding `ask`. A registry that refuses a move to a missing version
    (Langfuse; Bedrock keeps its own history and is read in full) is asked only what the ledger
    cannot tell: the versions when the ledger names no target, and production unless the alert
    and the ledger agree on it (then it stays unconfirmed until `confirm`)."""
    registry, ref = journal.registry(request), prompt_ref(request)
    if not isinstance(registry, ListsVersions):
        return registry.read_state(ref)
    assumed = assumed_production(ask, production_on_record(guards))
    if assumed is None:
        return _after_production(registry, ref, ask, guards, registry.read_production(ref))
    if needs_version_list(ask, assumed, guards.history(), guards.changes):
        return RegistryState(assumed, registry.list_versions(ref), confirmed=False)
    return RegistryState.production_only(
        assumed, recorded_before(assumed, guards.history(), guards.changes), confirmed=False
    )


def confirm(
    journal: Journal, request: RollbackRequest, guards: GuardSummary, state: RegistryState
) -> RegistryState:
    """`state` with production as the registry says it is now."""
    production = journal.registry(request).read_production(prompt_ref(request))
    return with_production(journal, request, guards, state, production)


def with_production(
    journal: Journal,
    request: RollbackRequest,
    guards: GuardSummary,
    state: RegistryState,
    production: int | None,
) -> RegistryState:
    """`state` with production as read: the versions it listed are kept, else those the ledger names."""
    registry = journal.registry(request)
    if state.listed or not isinstance(registry, ListsVersions):
        return replace(state, production_version=production, confirmed=True)
    return _after_production(registry, prompt_ref(request), ask_of(request), guards, production)


def _after_production(
    registry: ListsVersions, ref: PromptRef, ask: Ask, guards: GuardSummary, production: int | None
) -> RegistryState:
    history, changes = guards.history(), guards.changes
    if production is None or needs_version_list(ask, production, history, changes):
        return RegistryState(production, registry.list_versions(ref))
    return RegistryState.production_only(production, recorded_before(production, history, changes))


def production_on_record(guards: GuardSummary) -> int | None:
    """The version the ledger last saw holding production (None: none, or nothing on record)."""
    timeline = guards.timeline()
    return timeline[-1].version if timeline else None
