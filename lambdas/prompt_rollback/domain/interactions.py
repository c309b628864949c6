"""People in the loop, as pure functions: who may click, what Approve, Reject and Undo do,
recovery and cascades. A click carries only a rollback id and who clicked; everything else is
what our own ledger says about that id."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from prompt_rollback.domain.policy_config import Oversight
from prompt_rollback.domain.times import WireTime

MAX_REQUEST_ID_LENGTH = 128
ROLLBACK_ID = re.compile(r"[A-Za-z0-9_\-:.]{1,128}")  # as RollbackRequest.request_id


class FollowupOutcome(StrEnum):
    """What a followup record says happened to a rollback after its decision."""

    REFUSED = "refused"  # the clicker is not an approver
    REJECTED = "rejected"
    EXPIRED = "expired"
    STALE = "stale"  # production moved since: nothing changed
    ALREADY_DECIDED = "already_decided"
    NOTHING_TO_UNDO = "nothing_to_undo"
    NOT_A_PROPOSAL = "not_a_proposal"
    NOT_UNDONE = "not_undone"  # the undo's own rollback request did not move
    ALREADY_UNDONE = "already_undone"  # undone before; production came back since: nothing changed
    NOT_APPROVED = "not_approved"  # the approval's own rollback request did not move
    RECOVERED = "recovered"
    RECOVERY_OVERDUE = "recovery_overdue"


class Click(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    UNDO = "undo"


class SlackClicker(BaseModel):
    """Who clicked a button on one of our Slack messages, as POST /slack/actions verified it."""

    # defer_build: a function imports many more models than it validates; each is built when first used.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    action_id: str = Field(pattern=r"^[A-Za-z0-9_\-:.]{1,128}$")
    user_id: str = Field(pattern=r"^[UW][A-Z0-9]{2,20}$")
    user_name: str = Field(default="", max_length=200)
    channel_id: str = Field(default="", max_length=40)

    @property
    def actor(self) -> str:
        """As the record shows it; the approvers list is compared with the user id."""
        return f"slack:{self.user_id}" + (f" ({self.user_name})" if self.user_name else "")


class SlackAction(SlackClicker):
    """A button click, as queued by POST /slack/actions on the prompt's FIFO message group.

    `prompt_key` is not from the client: the handler looked the rollback id up in the ledger.
    """

    message_type: Literal["slack_action"] = "slack_action"
    click: Click
    rollback_id: str = Field(pattern=r"^[A-Za-z0-9_\-:.]{1,128}$")
    provider: str = Field(min_length=1, max_length=40)
    prompt_name: str = Field(min_length=1, max_length=400)
    clicked_at: WireTime

    @property
    def slack_user(self) -> str:
        return self.user_id

    @property
    def where(self) -> str:
        """Where the person acted, as the audit reason and Slack say it."""
        return "in Slack"

    @property
    def approver_id(self) -> str:
        return self.user_id

    @property
    def mention(self) -> str:
        return f"<@{self.user_id}>"  # a validated user id: safe mrkdwn

    @property
    def prompt_key(self) -> str:
        return f"{self.provider}#{self.prompt_name}"


class CliAction(BaseModel):
    """Approve, Reject or Undo from the CLI (people outside Slack). Two gates: IAM lets the caller
    invoke the worker, and `actor` must be an approver of the prompt (a Slack user id in the
    policy's approvers, or in one of its user groups), as for a click."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    click: Click
    rollback_id: str = Field(pattern=r"^[A-Za-z0-9_\-:.]{1,128}$")
    prompt: str = Field(min_length=1, max_length=400)
    provider: Literal["langfuse", "bedrock"] = "langfuse"
    actor_name: str = Field(min_length=1, max_length=180, alias="actor")
    clicked_at: WireTime

    @property
    def actor(self) -> str:
        return f"cli:{self.actor_name}"

    @property
    def action_id(self) -> str:
        return action_id(
            "cli", self.actor_name, self.clicked_at.isoformat(), self.click.value, self.rollback_id
        )

    @property
    def slack_user(self) -> str:
        return ""

    @property
    def where(self) -> str:
        return "from the CLI"

    @property
    def approver_id(self) -> str:
        return self.actor_name

    @property
    def channel_id(self) -> str:
        return ""

    @property
    def mention(self) -> str:
        return self.actor  # escaped where it is shown

    @property
    def prompt_name(self) -> str:
        return self.prompt

    @property
    def prompt_key(self) -> str:
        return f"{self.provider}#{self.prompt}"


def action_id(team_id: str, user_id: str, action_ts: str, click: str, rollback_id: str) -> str:
    """One id per click: Slack's `action_ts` differs between two clicks, a re-sent one keeps it."""
    material = "\x1f".join((team_id, user_id, action_ts, click, rollback_id))
    return "act-" + hashlib.sha256(material.encode()).hexdigest()[:24]


def derived_request_id(click: Click, rollback_id: str) -> str:
    """The id of the move a click asks for: the same for every click on the same button, so two
    clicks (double, concurrent, by two people) are one request and move production once."""
    candidate = f"{click.value}-{rollback_id}"
    if len(candidate) <= MAX_REQUEST_ID_LENGTH:
        return candidate
    return f"{click.value}-h-" + hashlib.sha256(rollback_id.encode()).hexdigest()[:40]


def may_click(user_id: str, oversight: Oversight, group_members: Mapping[str, frozenset[str]]) -> bool:
    """Whether `user_id` is an approver of this prompt: listed, or in a listed user group."""
    if user_id in oversight.approver_users:
        return True
    return any(user_id in group_members.get(group, frozenset()) for group in oversight.approver_groups)


@dataclass(frozen=True)
class Proposal:
    """An approval-mode decision waiting for a person: production from → to."""

    rollback_id: str
    from_version: int
    to_version: int
    proposed_at: datetime


@dataclass(frozen=True)
class Move:
    """A rollback that moved production (automatic, approved, or an undo): from → to."""

    rollback_id: str
    from_version: int
    to_version: int
    moved_at: datetime


@dataclass(frozen=True)
class Verdict:
    """What a click does: `moves` says whether production is to be moved from → to."""

    outcome: str  # approved | undo | rejected | expired | stale | already_decided
    reason: str
    moves: bool = False
    from_version: int | None = None
    to_version: int | None = None


def judge_approval(
    proposal: Proposal, settled: str, production: int | None, now: datetime, expiry: timedelta
) -> Verdict:
    """Approve: move only a proposal that is still open, still fresh and still true."""
    if settled:
        return Verdict("already_decided", f"this proposal was already {settled}")
    if now - proposal.proposed_at >= expiry:
        minutes = int(expiry.total_seconds() // 60)
        return Verdict("expired", f"the proposal expired: it was valid for {minutes} min")
    if production != proposal.from_version:
        return Verdict(
            "stale",
            f"production moved since the proposal: it is v{production}, the proposal was "
            f"v{proposal.from_version} → v{proposal.to_version}; nothing changed",
        )
    return Verdict("approved", "approved", True, proposal.from_version, proposal.to_version)


def judge_rejection(proposal: Proposal, settled: str, now: datetime, expiry: timedelta) -> Verdict:
    if settled:
        return Verdict("already_decided", f"this proposal was already {settled}")
    if now - proposal.proposed_at >= expiry:
        return Verdict("expired", "the proposal had expired already")
    return Verdict("rejected", "rejected: production stays where it is")


def judge_undo(move: Move, production: int | None) -> Verdict:
    """Undo = compare-and-swap from the version we moved to back to the one we moved from."""
    if production != move.to_version:
        return Verdict(
            "stale",
            f"production is v{production}, not v{move.to_version} where this rollback left it; "
            "nothing changed",
        )
    return Verdict("undo", "undo", True, move.to_version, move.from_version)


def proposal_expired(proposal: Proposal, settled: str, now: datetime, expiry: timedelta) -> bool:
    """For the scheduled check: an open proposal past its time is audited as expired."""
    return not settled and now - proposal.proposed_at >= expiry


def recovery_time(move: Move, resolved_at: datetime) -> timedelta:
    """How long production took to recover after the rollback (never negative)."""
    return max(resolved_at - move.moved_at, timedelta(0))


def recovery_overdue(move: Move, recovered: bool, now: datetime, window: timedelta) -> bool:
    return not recovered and now - move.moved_at >= window


def steps_in_window(moves_newest_first: Sequence[Move], now: datetime, window: timedelta) -> int:
    """Automatic steps back taken in a chain ending at production, inside one recovery window."""
    steps = 0
    expected_to: int | None = None
    for move in moves_newest_first:
        if now - move.moved_at >= window:
            break
        if expected_to is not None and move.to_version != expected_to:
            break
        steps += 1
        expected_to = move.from_version
    return steps


def needs_a_person(
    alerted_version: int | None,
    moves_newest_first: Sequence[Move],
    now: datetime,
    window: timedelta,
    max_steps: int,
) -> str:
    """No cascade: when the version we rolled back *to* is itself alerted inside the recovery
    window, another automatic step needs the policy's explicit allowance (`max_rollback_steps`).
    Returns why a person must decide, or "" when the automatic rollback may go on."""
    if not moves_newest_first or alerted_version is None:
        return ""
    latest = moves_newest_first[0]
    if latest.to_version != alerted_version or now - latest.moved_at >= window:
        return ""
    steps = steps_in_window(moves_newest_first, now, window)
    if steps < max_steps:
        return ""
    minutes = int((now - latest.moved_at).total_seconds() // 60)
    return (
        f"v{alerted_version}, the version we rolled back to {minutes} min ago, is alerting too: "
        f"{steps} automatic step(s) back in the recovery window, the policy allows {max_steps}; "
        "a person has to decide"
    )


class RecoveryCheck(BaseModel):
    """Sent by a one-shot EventBridge schedule when a rollback's recovery window (or a
    proposal's approval time) is over: check whether it recovered (or was approved)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    message_type: Literal["recovery_check"] = "recovery_check"
    rollback_id: str = Field(pattern=r"^[A-Za-z0-9_\-:.]{1,128}$")
    provider: str = Field(min_length=1, max_length=40)
    prompt_name: str = Field(min_length=1, max_length=400)

    @property
    def prompt_key(self) -> str:
        return f"{self.provider}#{self.prompt_name}"
