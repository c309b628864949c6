"""What the registry is asked before a decision: production alone when the ledger names the
version that held it before (domain policy.needs_version_list), else the full read as always."""

from __future__ import annotations

from prompt_rollback.domain.guard_summary import GuardSummary
from prompt_rollback.domain.policy import Ask, RegistryState, needs_version_list, recorded_before
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.ports import ListsVersions
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
    """The registry's state for deciding `ask`: read in full (versions, then production) unless
    the registry refuses a move to a missing version (Langfuse; Bedrock keeps its own history)
    and the ledger names a target before the production it records. Then production alone is
    read, and the versions only if production is not what the ledger said and names no target."""
    registry, ref = journal.registry(request), prompt_ref(request)
    history, changes = guards.history(), guards.changes
    if not isinstance(registry, ListsVersions) or needs_version_list(
        ask, production_on_record(guards), history, changes
    ):
        return registry.read_state(ref)
    production = registry.read_production(ref)
    if production is None or needs_version_list(ask, production, history, changes):
        return RegistryState(production, registry.list_versions(ref))
    return RegistryState.production_only(production, recorded_before(production, history, changes))


def production_on_record(guards: GuardSummary) -> int | None:
    """The version the ledger last saw holding production (None: none, or nothing on record)."""
    timeline = guards.timeline()
    return timeline[-1].version if timeline else None
