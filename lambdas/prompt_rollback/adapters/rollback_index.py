"""Which prompt a rollback id belongs to: the audit table's `by_request_id` index.

A Slack button carries only the rollback id; the message group of the prompt's FIFO queue and
the approvers depend on the prompt, which we look up in our own ledger, never take from the
click. The index projects the table's keys only (prompt_key, seq): enough to route.
"""

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
