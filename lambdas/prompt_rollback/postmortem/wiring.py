"""The postmortem service over the shared ledger, rollback index and registries."""

from __future__ import annotations

from prompt_rollback import wiring
from prompt_rollback.ports import VersionRecords
from prompt_rollback.postmortem.service import PostmortemService


def version_records(provider: str) -> VersionRecords | None:
    """Langfuse keeps a commit message and a config per version; Bedrock's pointers keep neither."""
    if provider != "langfuse":
        return None
    from prompt_rollback.adapters.langfuse_registry import LangfuseRegistry

    registry = wiring.registry_for(provider)
    return registry if isinstance(registry, LangfuseRegistry) else None


def service() -> PostmortemService:
    return PostmortemService(wiring.audit_ledger(), wiring.rollback_index(), version_records)
