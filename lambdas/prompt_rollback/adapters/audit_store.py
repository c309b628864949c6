"""The audit ledger in DynamoDB: append-only, one hash chain per prompt.

Only PutItem with `attribute_not_exists` and reads are used: the Lambdas' IAM role has no
UpdateItem or DeleteItem on this table, and CloudTrail records every data event on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from prompt_rollback.domain.audit import GENESIS_HASH, iso_utc, seal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

BY_PROMPT_TIME_INDEX = "by_prompt_time"
AuditRecord = dict[str, Any]


class LedgerConflict(Exception):
    """Someone else appended to this prompt's ledger first: re-read and decide again."""


class AuditLedger(Protocol):
    def recent(self, prompt_key: str, limit: int = 100) -> list[AuditRecord]: ...

    def append(self, fields: AuditRecord, after: AuditRecord | None) -> AuditRecord: ...


def _plain(value: Any) -> Any:
    """DynamoDB hands numbers back as Decimal; the hash chain was computed over plain ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class DynamoDBAuditLedger:
    def __init__(self, table: Table) -> None:
        self._table = table

    def recent(self, prompt_key: str, limit: int = 100) -> list[AuditRecord]:
        """The newest records of one prompt, newest first."""
        response = self._table.query(
            KeyConditionExpression=Key("prompt_key").eq(prompt_key),
            ScanIndexForward=False,
            Limit=limit,
            ConsistentRead=True,
        )
        return [_plain(item) for item in response.get("Items", [])]

    def append(self, fields: AuditRecord, after: AuditRecord | None) -> AuditRecord:
        """Append `fields` right after `after` (the head the caller decided on), or fail."""
        seq = int(after["seq"]) + 1 if after else 1
        prev_hash = str(after["hash"]) if after else GENESIS_HASH
        record = seal({**fields, "seq": seq}, prev_hash)
        try:
            self._table.put_item(Item=record, ConditionExpression="attribute_not_exists(seq)")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise LedgerConflict(f"{fields['prompt_key']} seq {seq} already written") from error
            raise
        return record

    def chain(self, prompt_key: str) -> Iterator[AuditRecord]:
        """Every record of one prompt, oldest first (for verification)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("prompt_key").eq(prompt_key),
            "ConsistentRead": True,
        }
        while True:
            response = self._table.query(**kwargs)
            yield from (_plain(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def between(self, prompt_name: str, start: datetime, end: datetime) -> Iterator[AuditRecord]:
        """Every record about `prompt_name` (any provider) with start <= recorded_at < end."""
        kwargs: dict[str, Any] = {
            "IndexName": BY_PROMPT_TIME_INDEX,
            "KeyConditionExpression": Key("prompt_name").eq(prompt_name)
            & Key("recorded_at").between(iso_utc(start), iso_utc(end)),
        }
        while True:
            response = self._table.query(**kwargs)
            for item in response.get("Items", []):
                record = _plain(item)
                if record["recorded_at"] < iso_utc(end):
                    yield record
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
