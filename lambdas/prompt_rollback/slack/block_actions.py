"""The parts of Slack's block_actions payload that POST /slack/actions reads (the rest is ignored)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _User(BaseModel):
    id: str
    username: str = ""
    name: str = ""


class _Team(BaseModel):
    id: str = ""


class _Channel(BaseModel):
    id: str = ""


class _Action(BaseModel):
    action_id: str
    value: str = ""
    action_ts: str = ""


class BlockActionsPayload(BaseModel):
    """One button click; nothing in it is trusted beyond who clicked what on which rollback id."""

    model_config = ConfigDict(extra="ignore")

    type: str
    user: _User
    team: _Team = Field(default_factory=_Team)
    channel: _Channel = Field(default_factory=_Channel)
    actions: list[_Action] = Field(min_length=1, max_length=1)
