"""Which prompt a rollback id belongs to, from the audit table's `by_request_id` index: a Slack
button carries only the rollback id, and the prompt is looked up in our ledger, never taken from
the click."""

from __future__ import annotations

from typing import TYPE_CHECKING

from boto3.dynamodb.conditions import Key

from prompt_rollback.domain import ledger_schema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


class DynamoDBRollbackIndex:
    def __init__(self, table: Table) -> None:
        self._table = table

    def prompt_key_of(self, rollback_id: str) -> str | None:
        response = self._table.query(
            IndexName=ledger_schema.BY_REQUEST_ID_INDEX,
            KeyConditionExpression=Key(ledger_schema.REQUEST_ID_KEY).eq(rollback_id),
            Limit=1,
        )
        items = response.get("Items", [])
        return str(items[0][ledger_schema.PARTITION_KEY]) if items else None
