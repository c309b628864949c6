"""The watcher's `for:` states in DynamoDB: one item per prompt, version, trigger and env.
Each item carries a revision that every put or delete states, so the run that loses a race with
an overlapping run gets StateConflict for that key and acts on nothing for it (docs/watcher.md)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from prompt_rollback.domain.watch import Phase, Signal, SignalKind, WatchKey, WatchState
from prompt_rollback.ports import StateConflict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

PARTITION_KEY = "id"


def _signal_to_json(signal: Signal) -> dict[str, Any]:
    return {
        "kind": signal.kind.value,
        "fired_at": signal.fired_at.isoformat(),
        "value": signal.value,
        "summary": signal.summary,
        "resolved_at": signal.resolved_at.isoformat() if signal.resolved_at else None,
    }


def _signal_from_json(key: WatchKey, data: dict[str, Any]) -> Signal:
    return Signal(
        kind=SignalKind(data["kind"]),
        key=key,
        fired_at=datetime.fromisoformat(data["fired_at"]),
        value=data.get("value"),
        summary=data.get("summary", ""),
        resolved_at=datetime.fromisoformat(data["resolved_at"]) if data.get("resolved_at") else None,
    )


def to_item(state: WatchState, revision: int) -> dict[str, Any]:
    key = state.key
    item: dict[str, Any] = {
        PARTITION_KEY: key.item_id,
        "prompt_name": key.prompt_name,
        "prompt_version": key.prompt_version,
        "trigger": key.trigger,
        "env": key.environment,
        "phase": state.phase.value,
        "active_since": state.active_since.isoformat(),
        "summary": state.summary,
        # JSON text: a list of maps with optional floats is awkward as DynamoDB attributes.
        "outbox": json.dumps([_signal_to_json(s) for s in state.outbox]),
        "revision": revision,
    }
    if state.fired_at is not None:
        item["fired_at"] = state.fired_at.isoformat()
    if state.value is not None:
        item["value"] = Decimal(repr(state.value))
    return item


def from_item(item: dict[str, Any]) -> WatchState:
    key = WatchKey(
        prompt_name=str(item["prompt_name"]),
        prompt_version=int(item["prompt_version"]),
        trigger=str(item["trigger"]),
        environment=str(item.get("env", "")),
    )
    return WatchState(
        key=key,
        phase=Phase(item["phase"]),
        active_since=datetime.fromisoformat(str(item["active_since"])),
        fired_at=datetime.fromisoformat(str(item["fired_at"])) if item.get("fired_at") else None,
        value=float(item["value"]) if item.get("value") is not None else None,
        summary=str(item.get("summary", "")),
        outbox=tuple(_signal_from_json(key, s) for s in json.loads(str(item.get("outbox") or "[]"))),
        revision=int(item["revision"]),
    )


def _is_conflict(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoDBWatchStateStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def load_all(self) -> list[WatchState]:
        """Every stored state: only prompts with a trigger pending, firing or owing a signal are
        stored, so this is one page of a consistent scan in practice."""
        states: list[WatchState] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = self._table.scan(**kwargs)
            states.extend(from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return states
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save(self, state: WatchState, expected_revision: int) -> WatchState:
        revision = expected_revision + 1
        condition = (
            {
                "ConditionExpression": "attribute_not_exists(#id)",
                "ExpressionAttributeNames": {"#id": PARTITION_KEY},
            }
            if expected_revision == 0
            else {
                "ConditionExpression": "#revision = :expected",
                "ExpressionAttributeNames": {"#revision": "revision"},
                "ExpressionAttributeValues": {":expected": expected_revision},
            }
        )
        try:
            self._table.put_item(Item=to_item(state, revision), **condition)  # type: ignore[arg-type]
        except ClientError as error:
            if _is_conflict(error):
                raise StateConflict(f"{state.key} changed since revision {expected_revision}") from error
            raise
        return replace(state, revision=revision)

    def delete(self, state: WatchState) -> None:
        try:
            self._table.delete_item(
                Key={PARTITION_KEY: state.key.item_id},
                ConditionExpression="#revision = :expected",
                ExpressionAttributeNames={"#revision": "revision"},
                ExpressionAttributeValues={":expected": state.revision},
            )
        except ClientError as error:
            if _is_conflict(error):
                raise StateConflict(f"{state.key} changed since revision {state.revision}") from error
            raise
