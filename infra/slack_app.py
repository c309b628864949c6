"""Slack app mode: POST /slack/actions and its function, and the schedule group and role with which
the worker schedules its recovery checks; each part has only the access it needs."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.functions import Asset, FunctionSpec
from infra.monitoring import page_on, queue_depth
from infra.nag import acknowledge_handler_authorization
from infra.parking import parking_queue
from infra.permissions import decrypt_secrets, send_to_encrypted_queue, use_idempotency_records
from infra.platform import Platform, RollbackQueue
from infra.rollback_worker import RollbackWorker

SLACK_ACTIONS = FunctionSpec(
    handler="prompt_rollback.slack.handler.lambda_handler",
    description="prompt-rollback Slack actions: verifies a button click and queues it for the worker",
    # Slack waits 3 seconds for the answer; a cold start plus one query and one send fit in that.
    timeout=Duration.seconds(3),
    memory_size=512,  # more memory is more CPU: a shorter cold start
    asset=Asset.WEBHOOK,
)
SLACK_ACTIONS_PATH = ("slack", "actions")

SIGNATURE_REASON = (
    "Authorization is in the handler: Slack signs each request with the app's signing secret "
    "(HMAC-SHA256 over timestamp and body), which the function verifies with slack_sdk's "
    "SignatureVerifier before reading the body, refusing stale timestamps and replays. Slack "
    "cannot present IAM, Cognito or a Bearer token."
)


class SlackActions(Construct):
    """Verifies Slack's signature, remembers signatures against replays (idempotency table), finds a
    rollback id's prompt through the ledger's keys-only index, and queues the click."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: Platform,
        api: apigateway.RestApi,
        worker: RollbackWorker,
    ) -> None:
        super().__init__(scope, construct_id)
        rollback_queue, idempotency_table = worker.rollback_queue, worker.idempotency_table
        signing_secret, ledger = platform.secrets.slack_signing_secret, platform.ledger
        self.function = platform.functions.create(
            self,
            "Function",
            SLACK_ACTIONS,
            {
                "SLACK_SIGNING_SECRET_NAME": signing_secret.name,
                **rollback_queue.environment,
                "AUDIT_TABLE_NAME": ledger.table.table_name,
                "IDEMPOTENCY_TABLE_NAME": idempotency_table.table_name,
            },
        )
        self.function.allow(
            signing_secret.read_statement("ReadSlackSigningSecret"),
            decrypt_secrets(platform.app_key),
            *rollback_queue.send_statements(),
            *ledger.rollback_lookup_statements(),
            use_idempotency_records(idempotency_table, sid="RememberSignaturesAgainstReplays"),
        )
        self.method = self._route(api)

    def alarm_on(self, topic: sns.ITopic) -> cloudwatch.Alarm:
        """A failing Slack actions function means a click was answered with an error, not queued."""
        return page_on(
            self,
            "SlackActionsErrors",
            description="The Slack actions function raised: a person's click may not have been acted on.",
            metric=self.function.function.metric_errors(statistic="Sum", period=Duration.minutes(5)),
            topic=topic,
        )

    def _route(self, api: apigateway.RestApi) -> apigateway.Method:
        resource = api.root
        for part in SLACK_ACTIONS_PATH:
            resource = resource.add_resource(part)
        method = resource.add_method(
            "POST",
            apigateway.LambdaIntegration(self.function.function, allow_test_invoke=False),
            authorization_type=apigateway.AuthorizationType.NONE,
            request_parameters={
                "method.request.header.X-Slack-Signature": True,
                "method.request.header.X-Slack-Request-Timestamp": True,
            },
            request_validator=apigateway.RequestValidator(
                self, "HeaderValidator", rest_api=api, validate_request_parameters=True
            ),
        )
        acknowledge_handler_authorization(method, SIGNATURE_REASON)
        return method


class RecoveryChecks(Construct):
    """Where the worker's one-shot schedules live and the role they send with: a RecoveryCheck goes on
    the queue when a rollback's recovery window ends (adapters/recovery_scheduler.py says why one
    schedule per rollback and not a periodic sweep)."""

    def __init__(self, scope: Construct, construct_id: str, *, rollback_queue: RollbackQueue) -> None:
        super().__init__(scope, construct_id)
        self.group = scheduler.CfnScheduleGroup(self, "Group")
        self.group_name = self.group.ref
        # Scheduler parks a check it could not deliver after its retries here (the schedule's
        # DeadLetterConfig), instead of dropping it: nobody would be told the rollback did not recover.
        self.dead_letter_queue = parking_queue(
            self,
            "DeadLetterQueue",
            key=rollback_queue.key,
            nag_reason=(
                "This queue is the dead-letter queue of the recovery-check schedules (their "
                "DeadLetterConfig), which cdk-nag does not recognise because it only looks for SQS "
                "redrive policies."
            ),
        )
        self.role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
            description="EventBridge Scheduler: put a recovery check on the rollback queue",
            inline_policies={
                # The policy's name says what its statements are for: they carry no Sid of their own.
                "SendRecoveryChecks": iam.PolicyDocument(
                    statements=rollback_queue.send_statements(with_sids=False)
                ),
                "ParkUndeliveredChecks": iam.PolicyDocument(
                    statements=send_to_encrypted_queue(
                        self.dead_letter_queue, rollback_queue.key, with_sids=False
                    )
                ),
            },
        )

    def alarm_on(self, topic: sns.ITopic) -> cloudwatch.Alarm:
        return page_on(
            self,
            "UndeliveredChecks",
            description=(
                "A recovery check, an approval's expiry or a rollout tick could not be put on the "
                "rollback queue and is parked in the schedules' dead-letter queue: a rollback's recovery "
                "is unchecked, or a rollout waits. Send its body to the rollback queue again (on the "
                "prompt's message group), or check by hand."
            ),
            metric=queue_depth(self.dead_letter_queue),
            topic=topic,
        )

    def worker_statements(self) -> list[iam.PolicyStatement]:
        """Create schedules in this group only, and hand them this role only."""
        return [
            iam.PolicyStatement(
                sid="ScheduleRecoveryChecks",
                actions=["scheduler:CreateSchedule"],
                resources=[
                    f"arn:{Aws.PARTITION}:scheduler:{Aws.REGION}:{Aws.ACCOUNT_ID}:schedule/{self.group_name}/*"
                ],
            ),
            iam.PolicyStatement(
                sid="PassRoleToScheduler",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            ),
        ]
