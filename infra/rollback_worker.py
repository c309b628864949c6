"""The rollback queue (SQS FIFO + dead-letter queue), the idempotency table and the worker function."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bedrock_access import bedrock_rollback_statements
from infra.functions import AppFunction, FunctionSpec
from infra.permissions import decrypt_secrets, use_idempotency_records
from infra.platform import Platform, RollbackQueue

WORKER_TIMEOUT_SECONDS = 60
# A batch must fit one invocation (prompt_rollback/deadline.py): a record whose Langfuse is slow
# (Retry-After, timeouts) ends by its deadline, RECORD_SECONDS = 30 s, and its last attempt's
# audit and Slack notice take at most FAILURE_RESERVE_SECONDS = 10 s; a healthy record about
# HEALTHY_RECORD_SECONDS = 2 s. One slow record and four healthy ones: 30 + 10 + 4 x 2 = 48 s,
# inside the 60 s timeout; a batch of 10 would need 58 s, no margin. A record there is no time
# left for is not started and reported as a batch item failure: SQS delivers it again.
SQS_BATCH_SIZE = 5

WORKER = FunctionSpec(
    handler="prompt_rollback.worker.handler.lambda_handler",
    description="prompt-rollback worker: rolls a prompt back, notifies Slack, appends to the audit ledger",
    timeout=Duration.seconds(WORKER_TIMEOUT_SECONDS),
    memory_size=512,
)
# Six times the function timeout: AWS's guidance for SQS event sources, so a batch that is
# still being retried inside Lambda is not handed to a second invocation meanwhile.
QUEUE_VISIBILITY_TIMEOUT = Duration.seconds(6 * WORKER_TIMEOUT_SECONDS)
# Passed to the worker as MAX_RECEIVE_COUNT: its last attempt audits the request as failed.
MAX_RECEIVE_COUNT = 5


class RollbackWorker(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, platform: Platform) -> None:
        super().__init__(scope, construct_id)
        key = platform.app_key
        self.dead_letter_queue = self._fifo_queue(
            "DeadLetterQueue", key, content_based_deduplication=False, retention_period=Duration.days(14)
        )
        self.queue = self._fifo_queue(
            "Queue",
            key,
            # The webhook sends an explicit MessageDeduplicationId (one per alert and version),
            # which takes precedence; EventBridge Scheduler (recovery checks) can send none, and
            # a FIFO target of Scheduler must have content-based deduplication.
            content_based_deduplication=True,
            visibility_timeout=QUEUE_VISIBILITY_TIMEOUT,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=MAX_RECEIVE_COUNT, queue=self.dead_letter_queue
            ),
        )
        self.rollback_queue = RollbackQueue(queue=self.queue, key=key)
        self.idempotency_table = dynamodb.Table(
            self,
            "IdempotencyTable",
            # Powertools idempotency defaults.
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Short-lived de-duplication records, rebuilt by use: nothing to keep.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.function = self._worker(platform)

    def admit_only(self, senders: Sequence[iam.IRole], redrive_role_arns: Sequence[str]) -> None:
        """Deny sqs:SendMessage on the queue to every principal but the producers' roles (and the
        roles named to redrive the DLQ): an IAM grant elsewhere in the account, even an
        administrator's, cannot put a forged click or request on it."""
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyProducersSend",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["sqs:SendMessage"],  # SendMessageBatch is authorized as SendMessage
                resources=[self.queue.queue_arn],
                conditions={
                    "ArnNotEquals": {
                        "aws:PrincipalArn": [role.role_arn for role in senders] + list(redrive_role_arns)
                    }
                },
            )
        )

    def _fifo_queue(
        self,
        construct_id: str,
        key: kms.IKey,
        *,
        content_based_deduplication: bool,
        retention_period: Duration,
        visibility_timeout: Duration | None = None,
        dead_letter_queue: sqs.DeadLetterQueue | None = None,
    ) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            fifo=True,
            content_based_deduplication=content_based_deduplication,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            retention_period=retention_period,
            dead_letter_queue=dead_letter_queue,
        )

    def _worker(self, platform: Platform) -> AppFunction:
        config, ledger, secrets = platform.config, platform.ledger, platform.secrets
        worker = platform.functions.create(
            self,
            "Worker",
            WORKER,
            environment={
                "SLACK_CHANNEL": config.slack_channel,
                "AUDIT_TABLE_NAME": ledger.table.table_name,
                "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
                "LANGFUSE_SECRET_NAME": secrets.langfuse.name,
                "SLACK_WEBHOOK_SECRET_NAME": secrets.slack_webhook_url.name,
                "ROLLBACK_POLICY": config.rollback_policy_json(),
                "ROLLOUT_PLANS": config.rollout_plans_json(),
                "MAX_RECEIVE_COUNT": str(MAX_RECEIVE_COUNT),
            },
        )
        worker.allow(
            *ledger.append_only_statements(),
            use_idempotency_records(self.idempotency_table),
            *bedrock_rollback_statements(self, config),
            secrets.langfuse.read_statement("ReadLangfuseKeys"),
            secrets.slack_webhook_url.read_statement("ReadSlackWebhookUrl"),
            secrets.slack_bot_token.read_statement("ReadSlackBotToken"),
            secrets.pagerduty_routing_key.read_statement("ReadPagerDutyRoutingKey"),
        )
        worker.function.add_environment("SLACK_BOT_TOKEN_SECRET_NAME", secrets.slack_bot_token.name)
        worker.function.add_environment(
            "PAGERDUTY_ROUTING_KEY_SECRET_NAME", secrets.pagerduty_routing_key.name
        )
        worker.allow(decrypt_secrets(platform.app_key))
        # Adds sqs:ReceiveMessage/DeleteMessage/ChangeMessageVisibility/GetQueueAttributes on this
        # queue and kms:Decrypt on its key to the role.
        worker.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=SQS_BATCH_SIZE,
                report_batch_item_failures=True,
                # Caps the pollers instead of reserving concurrency, which would be taken
                # from the account's pool even while the queue is empty.
                max_concurrency=config.worker_max_concurrency,
            )
        )
        return worker
