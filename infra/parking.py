"""Where events no one could deliver or process are parked, instead of dropped: a standard SQS queue
that keeps them 14 days, takes TLS only, and has an alarm wherever it is used."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge


def parking_queue(scope: Construct, construct_id: str, *, key: kms.IKey | None, nag_reason: str) -> sqs.Queue:
    """Encrypted with `key`, or SQS-managed without one. `nag_reason` answers cdk-nag's SQS3 (a queue
    without a dead-letter queue) by saying whose dead-letter queue this one is."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS if key is not None else sqs.QueueEncryption.SQS_MANAGED,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(queue, "AwsSolutions-SQS3", nag_reason)
    return queue
