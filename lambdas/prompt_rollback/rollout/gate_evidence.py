"""Writes a regression gate's verdict to the prompt's chain (`prompt-gate … --record`), where a plan
with `require_gate: true` looks for it before a rollout starts. Needs AUDIT_TABLE_NAME."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prompt_rollback import wiring
from prompt_rollback.domain.gate_evidence import gate_record
from prompt_rollback.domain.rollout_record import RolloutRecord
from prompt_rollback.errors import LedgerConflict
from prompt_rollback.ports import APPEND_ATTEMPTS


def record_gate_verdict(
    provider: str, prompt_name: str, version: int, verdict: str, actor: str, detail: dict[str, Any]
) -> RolloutRecord:
    """Append the verdict after the chain's head; re-read and append again when others wrote first."""
    ledger = wiring.audit_ledger()
    record = gate_record(provider, prompt_name, version, verdict, actor, datetime.now(UTC), detail)
    for _ in range(APPEND_ATTEMPTS):
        head = ledger.recent(record.prompt_key, 1)
        try:
            return ledger.append(record, head[0] if head else None)
        except LedgerConflict:
            continue
    raise LedgerConflict(f"{record.prompt_key}: the chain kept changing while recording the gate")
