"""The audit ledger in DynamoDB: append-only, one hash chain per prompt. Only conditional PutItem
and reads: the functions' role has no UpdateItem or DeleteItem, and CloudTrail logs every call."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from prompt_rollback.domain.audit import GENESIS_HASH, iso_utc, seal
from prompt_rollback.domain.audit_record import LedgerRecord, SameLedgerRecord, record_from_item
from prompt_rollback.domain.guard_summary import GUARDS_FIELD, GuardSummary, advance, summarize
from prompt_rollback.domain.ledger_schema import (
    BY_PROMPT_TIME_INDEX,
    BY_REQUEST_ID_INDEX,
    INDEX_PARTITION_KEY,
    INDEX_SORT_KEY,
    PARTITION_KEY,
    REQUEST_ID_KEY,
    SORT_KEY,
)
from prompt_rollback.errors import LedgerConflict, LedgerRejected, LedgerUnavailable
from prompt_rollback.ports import LedgerHead

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# Refusals a retry cannot change: a record that does not fit or does not match the table.
_REJECTED_CODES = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})


def _plain(value: Any) -> Any:
    """DynamoDB hands numbers back as Decimal; the hash chain was computed over plain ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _ledger_error(what: str, error: ClientError | BotoCoreError) -> LedgerRejected | LedgerUnavailable:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "") or "")
        if code in _REJECTED_CODES:
            return LedgerRejected(f"audit ledger {what}: {code}")
        return LedgerUnavailable(f"audit ledger {what}: {code or 'error'}")
    return LedgerUnavailable(f"audit ledger {what}: {type(error).__name__}")


# Summaries of heads this process read or wrote: the next append follows one of them.
_REMEMBERED_HEADS = 256


class DynamoDBAuditLedger:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._guards: dict[tuple[str, int], GuardSummary] = {}

    def _query(self, **kwargs: Any) -> dict[str, Any]:
        try:
            return dict(self._table.query(**kwargs))
        except (ClientError, BotoCoreError) as error:
            raise _ledger_error("Query", error) from error

    def recent(self, prompt_key: str, limit: int) -> list[LedgerRecord]:
        response = self._query(
            KeyConditionExpression=Key(PARTITION_KEY).eq(prompt_key),
            ScanIndexForward=False,
            Limit=limit,
            ConsistentRead=True,
        )
        items = [_plain(item) for item in response.get("Items", [])]
        for item in items:
            if GUARDS_FIELD in item:
                self._remember(item)
        return [record_from_item(item) for item in items]

    def head(self, prompt_key: str) -> LedgerHead:
        items = self._query(
            KeyConditionExpression=Key(PARTITION_KEY).eq(prompt_key),
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        ).get("Items", [])
        if not items:
            return LedgerHead(None, GuardSummary())
        item = _plain(items[0])
        return LedgerHead(record_from_item(item), self._remember(item))

    def of_request(self, prompt_key: str, request_id: str) -> list[LedgerRecord]:
        # The index holds keys only and is eventually consistent: each hit is read from the table.
        keys = self._query(
            IndexName=BY_REQUEST_ID_INDEX,
            KeyConditionExpression=Key(REQUEST_ID_KEY).eq(request_id),
            ScanIndexForward=False,
        ).get("Items", [])
        seqs = sorted((int(k[SORT_KEY]) for k in keys if k.get(PARTITION_KEY) == prompt_key), reverse=True)
        items = (self._get(prompt_key, seq) for seq in seqs)
        return [record_from_item(item) for item in items if item is not None]

    def read(self, prompt_key: str, seq: int) -> LedgerRecord | None:
        item = self._get(prompt_key, seq)
        return record_from_item(item) if item is not None else None

    def since(self, prompt_key: str, seq: int) -> list[LedgerRecord]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key(PARTITION_KEY).eq(prompt_key) & Key(SORT_KEY).gte(seq),
            "ConsistentRead": True,
        }
        records: list[LedgerRecord] = []
        while True:
            response = self._query(**kwargs)
            records += (record_from_item(_plain(item)) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return records
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _get(self, prompt_key: str, seq: int) -> dict[str, Any] | None:
        try:
            response = self._table.get_item(
                Key={PARTITION_KEY: prompt_key, SORT_KEY: seq}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            raise _ledger_error("GetItem", error) from error
        item = response.get("Item")
        return _plain(item) if item is not None else None

    def _remember(self, item: Mapping[str, Any]) -> GuardSummary:
        """The guard summary as of `item`; a chain written before summaries is summarized once."""
        stored = item.get(GUARDS_FIELD)
        if isinstance(stored, Mapping):
            summary = GuardSummary.from_item(stored)
        else:
            seq = int(item["seq"])
            summary = summarize(i for i in self.chain(str(item[PARTITION_KEY])) if int(i["seq"]) <= seq)
        if len(self._guards) >= _REMEMBERED_HEADS:
            self._guards.clear()
        self._guards[(str(item[PARTITION_KEY]), int(item["seq"]))] = summary
        return summary

    def _guards_after(self, after: LedgerRecord | None) -> GuardSummary:
        if after is None:
            return GuardSummary()
        known = self._guards.get((after.prompt_key, after.seq))
        if known is not None:
            return known
        item = self._get(after.prompt_key, after.seq)
        return self._remember(item) if item is not None else GuardSummary()

    def append(self, record: SameLedgerRecord, after: LedgerRecord | None) -> SameLedgerRecord:
        seq = after.seq + 1 if after else 1
        prev_hash = after.hash if after else GENESIS_HASH
        item = {**record.bounded().to_item(), "seq": seq}
        guards = advance(self._guards_after(after), item)
        item = seal({**item, GUARDS_FIELD: guards.to_item()}, prev_hash)
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(seq)")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise LedgerConflict(f"{record.prompt_key} seq {seq} already written") from error
            raise _ledger_error("PutItem", error) from error
        except BotoCoreError as error:
            raise _ledger_error("PutItem", error) from error
        self._guards[(record.prompt_key, seq)] = guards
        # Read back as the same kind of record it was (the sealed, bounded item).
        return type(record).from_item(item)

    def chain(self, prompt_key: str) -> Iterator[Mapping[str, Any]]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key(PARTITION_KEY).eq(prompt_key),
            "ConsistentRead": True,
        }
        while True:
            response = self._query(**kwargs)
            yield from (_plain(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def prompt_keys(self) -> Iterator[str]:
        """Every chain in the table (a Scan of the keys only: for `verify --all`, not the hot path)."""
        kwargs: dict[str, Any] = {"ProjectionExpression": PARTITION_KEY, "ConsistentRead": True}
        seen: set[str] = set()
        while True:
            try:
                response: dict[str, Any] = dict(self._table.scan(**kwargs))
            except (ClientError, BotoCoreError) as error:
                raise _ledger_error("Scan", error) from error
            items: list[dict[str, Any]] = response.get("Items", [])
            for item in items:
                if (key := str(item[PARTITION_KEY])) not in seen:
                    seen.add(key)
                    yield key
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def between(self, prompt_name: str, start: datetime, end: datetime) -> Iterator[LedgerRecord]:
        kwargs: dict[str, Any] = {
            "IndexName": BY_PROMPT_TIME_INDEX,
            "KeyConditionExpression": Key(INDEX_PARTITION_KEY).eq(prompt_name)
            & Key(INDEX_SORT_KEY).between(iso_utc(start), iso_utc(end)),
        }
        while True:
            response = self._query(**kwargs)
            items: list[dict[str, Any]] = response.get("Items", [])
            for item in items:
                record = record_from_item(_plain(item))
                if record.recorded_at < iso_utc(end):
                    yield record
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
