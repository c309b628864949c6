"""The postmortem draft of one rollback: its prompt found by the rollback id, the prompt's whole chain
read, the bad version's own record asked of the registry (a registry that cannot say is noted, not fatal)."""

from __future__ import annotations

from collections.abc import Callable

from prompt_rollback.domain import postmortem
from prompt_rollback.domain.postmortem import NotInLedger, Postmortem, VersionRecord
from prompt_rollback.errors import ConfigurationError, NotFound, RegistryError
from prompt_rollback.ports import AuditLedger, PromptRef, RollbackIndex, VersionRecords


class PostmortemService:
    def __init__(
        self,
        ledger: AuditLedger,
        index: RollbackIndex,
        versions: Callable[[str], VersionRecords | None],
    ) -> None:
        self._ledger = ledger
        self._index = index
        self._versions = versions  # provider -> its registry's version records, None: it keeps none

    def draft(self, rollback_id: str) -> Postmortem:
        prompt_key = self._index.prompt_key_of(rollback_id)
        if prompt_key is None:
            raise NotInLedger(f"no record with rollback id {rollback_id!r} in the audit ledger")
        items = list(self._ledger.chain(prompt_key))
        decision = postmortem.decision_of(items, rollback_id)
        record, note = self._version_record(decision.provider, decision.prompt_name, decision.from_version)
        return postmortem.build(rollback_id, items, record, note)

    def _version_record(
        self, provider: str, prompt_name: str, version: int | None
    ) -> tuple[VersionRecord | None, str]:
        if version is None:
            return None, "the rollback does not name the version it was about"
        try:
            registry = self._versions(provider)
        except ConfigurationError as error:  # an auditor may read the ledger without registry keys
            return None, f"the registry was not read ({error.variable} is not set here)"
        if registry is None:
            return None, f"the {provider} registry keeps no commit message or gate verdict per version"
        try:
            return registry.read_version(PromptRef(prompt_name), version), ""
        except NotFound:
            return None, f"the registry no longer has v{version}"
        except RegistryError as error:
            return None, f"the registry did not answer: {error}"
