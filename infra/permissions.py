"""IAM statements that several functions need in the same words: one definition each."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs


def send_to_encrypted_queue(
    queue: sqs.IQueue, queue_key: kms.IKey, *, with_sids: bool = True
) -> list[iam.PolicyStatement]:
    """What a principal needs to put messages on the rollback queue: SendMessage on it, and the
    data key SQS asks for on its behalf to encrypt each message with the queue's key."""
    return [
        iam.PolicyStatement(
            sid="QueueRollbackRequests" if with_sids else None,
            actions=["sqs:SendMessage"],
            resources=[queue.queue_arn],
        ),
        use_key_through(
            "sqs",
            queue_key,
            ["kms:GenerateDataKey", "kms:Decrypt"],
            sid="EncryptQueuedMessagesThroughSqs" if with_sids else None,
        ),
    ]


def use_key_through(
    service: str, key: kms.IKey, actions: list[str], *, sid: str | None
) -> iam.PolicyStatement:
    """`actions` on `key`, only when `service` (its endpoint prefix: sqs, s3, dynamodb, ...) asks on
    the principal's behalf: the key does nothing for a direct call."""
    return iam.PolicyStatement(
        sid=sid,
        actions=actions,
        resources=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"{service}.{Aws.REGION}.amazonaws.com"}},
    )


def decrypt_secrets(secrets_key: kms.IKey) -> iam.PolicyStatement:
    """kms:Decrypt on the secrets' key, only when Secrets Manager asks on the function's behalf
    (GetSecretValue of a secret encrypted with that key)."""
    return use_key_through(
        "secretsmanager", secrets_key, ["kms:Decrypt"], sid="DecryptSecretsThroughSecretsManager"
    )


def use_idempotency_records(
    table: dynamodb.ITable, sid: str = "UseIdempotencyRecords"
) -> iam.PolicyStatement:
    """The item calls of Powertools idempotency on the shared idempotency table."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
        resources=[table.table_arn],
    )
