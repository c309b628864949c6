"""The AWS resources local mode needs, created on whatever endpoint boto3 points at, mirroring the CDK
stack (the ledger's key schema from prompt_rollback.domain.ledger_schema, the same FIFO queue with a DLQ)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError
from prompt_rollback.domain import ledger_schema


@dataclass(frozen=True)
class LocalResources:
    audit_table: str
    idempotency_table: str
    queue_url: str
    dlq_url: str
    webhook_token_secret: str
    # What SQS reports as SenderId for this process. Every local function runs with these same
    # credentials, so the worker takes this as the Slack actions function's role id.
    sender_id: str = ""

    def environment(self) -> dict[str, str]:
        return {
            "AUDIT_TABLE_NAME": self.audit_table,
            "IDEMPOTENCY_TABLE_NAME": self.idempotency_table,
            "ROLLBACK_QUEUE_URL": self.queue_url,
            "WEBHOOK_TOKEN_SECRET_NAME": self.webhook_token_secret,
            "SLACK_ACTIONS_ROLE_ID": self.sender_id.partition(":")[0],
        }


def _create_table(dynamodb: Any, name: str, **spec: Any) -> None:
    try:
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **spec)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(TableName=name)


def provision(
    prefix: str = "prompt-rollback-local",
    webhook_token: str = "local-dev-token",  # noqa: S107 - local mode's documented demo token
    max_receive_count: int = 5,
    visibility_timeout_seconds: int = 10,
) -> LocalResources:
    dynamodb = boto3.client("dynamodb")
    audit_table = f"{prefix}-audit"
    _create_audit_table(dynamodb, audit_table)
    idempotency_table = f"{prefix}-idempotency"
    _create_table(
        dynamodb,
        idempotency_table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    queue_url, dlq_url = _create_queues(prefix, max_receive_count, visibility_timeout_seconds)
    secret_name = f"{prefix}/webhook-token"
    _put_secret(secret_name, webhook_token)
    return LocalResources(
        audit_table, idempotency_table, queue_url, dlq_url, secret_name, _own_sender_id(prefix)
    )


def _index(name: str, partition_key: str, sort_key: str, projection: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": partition_key, "KeyType": "HASH"},
            {"AttributeName": sort_key, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": projection},
    }


def _create_audit_table(dynamodb: Any, table: str) -> None:
    """The ledger's table as the stack defines it (domain/ledger_schema.py)."""
    _create_table(
        dynamodb,
        table,
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": kind} for name, kind in ledger_schema.KEY_ATTRIBUTES
        ],
        KeySchema=[
            {"AttributeName": ledger_schema.PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": ledger_schema.SORT_KEY, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            _index(
                ledger_schema.BY_PROMPT_TIME_INDEX,
                ledger_schema.INDEX_PARTITION_KEY,
                ledger_schema.INDEX_SORT_KEY,
                "ALL",
            ),
            _index(
                ledger_schema.BY_REQUEST_ID_INDEX,
                ledger_schema.REQUEST_ID_KEY,
                ledger_schema.SORT_KEY,
                "KEYS_ONLY",
            ),
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": ledger_schema.STREAM_VIEW_TYPE},
    )


def _create_queues(prefix: str, max_receive_count: int, visibility_timeout_seconds: int) -> tuple[str, str]:
    """The FIFO rollback queue and its dead-letter queue, as deployed: (queue URL, DLQ URL)."""
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(
        QueueName=f"{prefix}-dlq.fifo", Attributes={"FifoQueue": "true", "MessageRetentionPeriod": "1209600"}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-requests.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",  # as deployed (EventBridge Scheduler's checks)
            "VisibilityTimeout": str(visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
            ),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def _own_sender_id(prefix: str) -> str:
    """The SenderId SQS gives this process's messages, read from one sent to a throwaway queue."""
    sqs = boto3.client("sqs")
    probe_url = sqs.create_queue(QueueName=f"{prefix}-sender-probe")["QueueUrl"]
    try:
        sqs.send_message(QueueUrl=probe_url, MessageBody="sender probe")
        messages = sqs.receive_message(
            QueueUrl=probe_url, MessageSystemAttributeNames=["SenderId"], WaitTimeSeconds=1
        ).get("Messages", [])
        return str(messages[0]["Attributes"]["SenderId"]) if messages else ""
    finally:
        sqs.delete_queue(QueueUrl=probe_url)


def _put_secret(name: str, value: str) -> None:
    secrets = boto3.client("secretsmanager")
    try:
        secrets.create_secret(Name=name, SecretString=value)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceExistsException":
            raise
        secrets.put_secret_value(SecretId=name, SecretString=value)
