"""Gate evidence: a regression gate's verdict on a candidate version, a `gate` record on the prompt's
chain (`prompt-gate --record`), and whether a plan that requires it may start (checkpoint 2)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from prompt_rollback.domain.audit import iso_utc
from prompt_rollback.domain.rollout_record import RolloutRecord

PASSING_VERDICT = "APPROVE"


def gate_request_id(version: int) -> str:
    """Every gate record of one version shares this id, so a start finds them by key, not by scanning."""
    return f"gate-v{version}"


def gate_record(
    provider: str,
    prompt_name: str,
    version: int,
    verdict: str,
    actor: str,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
) -> RolloutRecord:
    """The gate's verdict on `version`; only APPROVE passes (INCONCLUSIVE is not evidence)."""
    prompt_key = f"{provider}#{prompt_name}"
    passed = verdict == PASSING_VERDICT
    return RolloutRecord(
        prompt_key=prompt_key,
        prompt_name=prompt_name,
        provider=provider,
        kind="gate",
        rollout_id=gate_request_id(version),
        step=0,
        share=0,
        candidate=version,
        stable=0,  # the gate compares with a baseline run, not a version the ledger knows
        actor=actor,
        reason=f"regression gate: {verdict} for v{version}",
        recorded_at=iso_utc(now),
        detail={**(detail or {}), "verdict": verdict, "passed": passed},
    )


def latest_gate(records_newest_first: Iterable[object], version: int) -> RolloutRecord | None:
    """The newest gate record of `version`: a later failing gate overrides an earlier pass."""
    for record in records_newest_first:
        if isinstance(record, RolloutRecord) and record.kind == "gate" and record.candidate == version:
            return record
    return None


def gate_problem(latest: RolloutRecord | None, prompt_name: str, version: int) -> str:
    """Why a plan with `require_gate` may not start `version` (its newest gate record is `latest`)."""
    found = f" (the newest says {latest.detail.get('verdict')})" if latest is not None else ""
    return (
        f"the plan requires the regression gate, and there is no passing gate record for v{version} "
        f"of {prompt_name}{found}: run `prompt-gate … --record --prompt {prompt_name} --version {version}`"
    )


def gate_reference(record: RolloutRecord) -> dict[str, Any]:
    """What a rollout_started record keeps of the gate record that let it start."""
    return {"seq": record.seq, "hash": record.hash, "recorded_at": record.recorded_at}
