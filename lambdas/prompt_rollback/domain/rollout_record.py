"""A rollout's ledger records, one per state change, on the prompt's hash chain beside the rollbacks'.
Their kind is the event (`rollout_started`, `step`, `analysis`, `approved`, …); numbers in `detail`
are stored as text, since DynamoDB takes no floats and the hash must cover what is stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from prompt_rollback.domain.requests import cut

RolloutEvent = Literal[
    "rollout_started",
    "step",
    "analysis",
    "approval_requested",
    "approved",
    "rejected",
    "paused",
    "resumed",
    "aborted",
    "promoted",
    "baked",
    "gate",  # a regression gate's verdict on a candidate (domain/gate_evidence.py), before any rollout
]
ROLLOUT_KINDS: frozenset[str] = frozenset(get_args(RolloutEvent))
TEXT_LIMIT = 2048
SHORT_LIMIT = 200


def _stored(value: Any) -> Any:
    """`detail` as stored: floats as their repr (exact when read back), containers recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): _stored(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_stored(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class RolloutRecord:
    prompt_key: str
    prompt_name: str
    provider: str
    kind: RolloutEvent
    rollout_id: str
    step: int  # index into the plan's steps
    share: int  # the candidate's share after this record, 0..100
    candidate: int
    stable: int
    actor: str
    reason: str
    recorded_at: str
    # Where production points after this record, when this record moved it (promotion, a bake rollback).
    production: int | None = None
    # The tick this record scheduled (the only tick that may act next); None: no tick follows.
    next_tick: int | None = None
    tick_key: str = ""  # analysis only: rollout id, step and tick, recorded once
    detail: Mapping[str, Any] = field(default_factory=dict)
    provider_target: Mapping[str, str] = field(default_factory=dict)
    # The rollout's one Slack message (app mode), kept on every record so each update finds it.
    slack_channel: str = ""
    slack_ts: str = ""
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""

    @property
    def is_decision(self) -> bool:
        return False

    @property
    def passed_gate(self) -> bool:
        """A gate record whose verdict passed (domain/gate_evidence.py)."""
        return self.kind == "gate" and self.detail.get("passed") is True

    @property
    def request_id(self) -> str:
        """The id the ledger's request index keys on: the rollout's."""
        return self.rollout_id

    def bounded(self) -> RolloutRecord:
        return replace(
            self,
            actor=cut(self.actor, SHORT_LIMIT),
            reason=cut(self.reason, TEXT_LIMIT),
            provider_target={cut(k, 100): cut(v, 2048) for k, v in list(self.provider_target.items())[:8]},
        )

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "prompt_key": self.prompt_key,
            "prompt_name": self.prompt_name,
            "provider": self.provider,
            "kind": self.kind,
            "request_id": self.rollout_id,
            "rollout_id": self.rollout_id,
            "step": self.step,
            "share": self.share,
            "from_version": self.stable,
            "to_version": self.candidate,
            "actor": self.actor,
            "reason": self.reason,
            "recorded_at": self.recorded_at,
            "production": self.production,
            "next_tick": self.next_tick,
            "detail": _stored(self.detail),
            "provider_target": dict(self.provider_target),
        }
        if self.tick_key:
            item["tick_key"] = self.tick_key
        if self.slack_ts:
            item["slack"] = {"channel": self.slack_channel, "ts": self.slack_ts}
        if self.seq:
            item.update(seq=self.seq, prev_hash=self.prev_hash, hash=self.hash)
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> RolloutRecord:
        kind = str(item["kind"])
        if kind not in ROLLOUT_KINDS:
            raise ValueError(f"not a rollout record: {kind}")
        production, next_tick = item.get("production"), item.get("next_tick")
        stored_slack = item.get("slack")
        slack: Mapping[str, Any] = stored_slack if isinstance(stored_slack, Mapping) else {}
        return cls(
            prompt_key=str(item["prompt_key"]),
            prompt_name=str(item.get("prompt_name", "")),
            provider=str(item.get("provider", "")),
            kind=kind,  # type: ignore[arg-type]  # checked against ROLLOUT_KINDS above
            rollout_id=str(item.get("rollout_id", "")),
            step=int(item.get("step", 0)),
            share=int(item.get("share", 0)),
            candidate=int(item["to_version"]),
            stable=int(item["from_version"]),
            actor=str(item.get("actor", "")),
            reason=str(item.get("reason", "")),
            recorded_at=str(item.get("recorded_at", "")),
            production=None if production is None else int(production),
            next_tick=None if next_tick is None else int(next_tick),
            tick_key=str(item.get("tick_key", "") or ""),
            detail=dict(item.get("detail") or {}),
            provider_target={str(k): str(v) for k, v in (item.get("provider_target") or {}).items()},
            slack_channel=str(slack.get("channel", "")),
            slack_ts=str(slack.get("ts", "")),
            seq=int(item.get("seq", 0) or 0),
            prev_hash=str(item.get("prev_hash", "")),
            hash=str(item.get("hash", "")),
        )
