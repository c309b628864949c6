"""The anchors function: consumes the audit ledger's stream under its own role, writes each new chain
head to the Object Lock bucket, and pages on a failed anchor write or any rewrite of the ledger."""

from __future__ import annotations

import jsii
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import Asset, FunctionSpec
from infra.monitoring import app_metric, page_on, queue_depth
from infra.nag import acknowledge
from infra.parking import parking_queue
from infra.platform import Platform

ANCHORS = FunctionSpec(
    handler="prompt_rollback.anchors.handler.lambda_handler",
    description="prompt-rollback anchors: writes each new audit chain head to the Object Lock bucket",
    timeout=Duration.seconds(30),
    asset=Asset.WEBHOOK,  # boto3 and Powertools are all it needs
)
# The stream keeps records 24 hours; a batch that still fails after these is parked.
STREAM_RETRY_ATTEMPTS = 10
STREAM_BATCH_SIZE = 100
ANCHORS_BEHIND = Duration.hours(1)  # the stream's iterator age that pages, well before 24 hours


@jsii.implements(lambda_.IEventSourceDlq)
class _ParkIn:
    """The event source's on-failure queue, without CDK's SqsDlq grant (which adds
    kms:ReEncrypt* and GenerateDataKey* on the key); the role gets AppFunction.allow_parking_in."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(
        self, _target: lambda_.IEventSourceMapping, _handler: lambda_.IFunction
    ) -> lambda_.DlqDestinationConfig:
        return lambda_.DlqDestinationConfig(destination=self._queue.queue_arn)


class LedgerAnchors(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, platform: Platform) -> None:
        super().__init__(scope, construct_id)
        ledger = platform.ledger
        self.function = platform.functions.create(self, "Function", ANCHORS, {})
        self.dead_letter_queue = parking_queue(
            self,
            "DeadLetterQueue",
            key=platform.app_key,
            nag_reason=(
                "This queue is the on-failure destination of the ledger stream's event source mapping, "
                "which cdk-nag does not recognise because it only looks for SQS redrive policies."
            ),
        )
        # Adds stream reading (and kms:Decrypt on the table's key) to the role; no item access at all.
        self.function.function.add_event_source(
            event_sources.DynamoEventSource(
                ledger.table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=STREAM_BATCH_SIZE,
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                retry_attempts=STREAM_RETRY_ATTEMPTS,
                on_failure=_ParkIn(self.dead_letter_queue),
            )
        )
        self.function.allow_parking_in(self.dead_letter_queue)
        acknowledge(
            self.function.role,
            "AwsSolutions-IAM5[Resource::*]",
            "dynamodb:ListStreams, which Lambda's stream event source needs, supports no resource-level "
            "permissions: AWS requires Resource '*'. The rest of this role names its resources.",
        )

    def alarm_on(self, topic: sns.ITopic) -> list[cloudwatch.Alarm]:
        failed_writes = (
            "AnchorWriteFailures",
            "A chain head could not be anchored in the Object Lock bucket (the stream record is retried; "
            "after its retries the batch is parked). Until it is, `verify` reports the records as "
            "unanchored. The anchors function's log says why.",
        )
        rewrites = (
            "LedgerRewrites",
            "An audit ledger item was modified or removed: the application only ever appends, so "
            "someone with table rights rewrote the evidence. The anchors function's log names the "
            "item; CloudTrail's data events name who; `prompt-rollback verify --all` shows the damage.",
        )
        return [
            *(
                page_on(self, name, description=text, metric=app_metric(name), topic=topic)
                for name, text in (failed_writes, rewrites)
            ),
            page_on(
                self,
                "ParkedBatches",
                description=(
                    "A batch of the ledger stream failed every retry and is parked (its shard and sequence "
                    "numbers) in the anchors dead-letter queue: those records have no anchor."
                ),
                metric=queue_depth(self.dead_letter_queue),
                topic=topic,
            ),
            self._behind_alarm(topic),
            page_on(
                self,
                "AnchorsErrors",
                description="The anchors function raised: the stream batch is retried, halved, then parked.",
                metric=self.function.function.metric_errors(statistic="Sum", period=Duration.minutes(5)),
                topic=topic,
            ),
        ]

    def _behind_alarm(self, topic: sns.ITopic) -> cloudwatch.Alarm:
        """The stream keeps records 24 hours: a consumer stuck that long loses them unanchored."""
        return page_on(
            self,
            "AnchorsBehind",
            description=(
                f"The anchors function is {ANCHORS_BEHIND.to_minutes():g} minutes or more behind the "
                "ledger stream, which keeps records 24 hours: records older than that are never anchored. "
                "The function's errors and throttles say why; `prompt-rollback verify` lists what is "
                "unanchored meanwhile."
            ),
            metric=self.function.function.metric(
                "IteratorAge", statistic="Maximum", period=Duration.minutes(5)
            ),
            topic=topic,
            threshold=ANCHORS_BEHIND.to_milliseconds(),
        )
