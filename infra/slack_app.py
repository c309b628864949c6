"""Slack app mode: POST /slack/actions and its function, and the recovery checks' scheduler.

Two parts, each with only the access it needs:
- the Slack actions function (the webhook's small asset: powertools, pydantic, slack_sdk)
  verifies Slack's signature, remembers signatures for replays (idempotency table), finds a
  rollback id's prompt through the ledger's keys-only index, and queues the click;
- a schedule group and the role EventBridge Scheduler uses to put a RecoveryCheck on the queue
  when a rollback's recovery window ends. The worker creates one one-shot schedule per rollback
  (adapters/recovery_scheduler.py says why that and not a periodic sweep).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.audit_ledger import AuditLedger
from infra.config import DeploymentConfig
from infra.functions import AppFunction, decrypt_secrets, send_to_encrypted_queue
from infra.nag import acknowledge
from infra.secrets import AppSecret

SLACK_ACTIONS_HANDLER = "prompt_rollback.slack.handler.lambda_handler"
SLACK_ACTIONS_PATH = ("slack", "actions")
# Slack waits 3 seconds for the answer; a cold start plus one query and one send fit in that.
SLACK_ACTIONS_TIMEOUT = Duration.seconds(3)
SLACK_ACTIONS_MEMORY_MB = 512  # more memory is more CPU: a shorter cold start

SIGNATURE_REASON = (
    "Authorization is in the handler: Slack signs each request with the app's signing secret "
    "(HMAC-SHA256 over timestamp and body), which the function verifies with slack_sdk's "
    "SignatureVerifier before reading the body, refusing stale timestamps and replays. Slack "
    "cannot present IAM, Cognito or a Bearer token."
)


class SlackActions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        code: lambda_.Code,
        api: apigateway.RestApi,
        queue: sqs.IQueue,
        queue_key: kms.IKey,
        ledger: AuditLedger,
        idempotency_table: dynamodb.ITable,
        signing_secret: AppSecret,
        secrets_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = AppFunction(
            self,
            "Function",
            description="prompt-rollback Slack actions: verifies a button click and queues it for the worker",
            handler=SLACK_ACTIONS_HANDLER,
            code=code,
            timeout=SLACK_ACTIONS_TIMEOUT,
            memory_size=SLACK_ACTIONS_MEMORY_MB,
            log_retention=config.log_retention,
            environment={
                "STAGE": config.stage,
                "SLACK_SIGNING_SECRET_NAME": signing_secret.name,
                "ROLLBACK_QUEUE_URL": queue.queue_url,
                "AUDIT_TABLE_NAME": ledger.table.table_name,
                "IDEMPOTENCY_TABLE_NAME": idempotency_table.table_name,
            },
        )
        self.function.allow(signing_secret.read_statement("ReadSlackSigningSecret"))
        self.function.allow(decrypt_secrets(secrets_key))
        for statement in send_to_encrypted_queue(queue, queue_key):
            self.function.allow(statement)
        for statement in ledger.rollback_lookup_statements():
            self.function.allow(statement)
        self.function.allow(
            iam.PolicyStatement(
                sid="RememberSignaturesAgainstReplays",
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                resources=[idempotency_table.table_arn],
            )
        )
        resource = api.root
        for part in SLACK_ACTIONS_PATH:
            resource = resource.add_resource(part)
        self.method = resource.add_method(
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
        acknowledge(self.method, "AwsSolutions-APIG4", SIGNATURE_REASON)
        acknowledge(self.method, "AwsSolutions-COG4", SIGNATURE_REASON)


class RecoveryChecks(Construct):
    """Where the worker's one-shot schedules live and the role they send with."""

    def __init__(
        self, scope: Construct, construct_id: str, *, queue: sqs.IQueue, queue_key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        self.group = scheduler.CfnScheduleGroup(self, "Group")
        self.group_name = self.group.ref
        self.role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
            description="EventBridge Scheduler: put a recovery check on the rollback queue",
            inline_policies={
                "SendRecoveryChecks": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]),
                        iam.PolicyStatement(
                            actions=["kms:GenerateDataKey", "kms:Decrypt"],
                            resources=[queue_key.key_arn],
                            conditions={
                                "StringEquals": {"kms:ViaService": f"sqs.{Aws.REGION}.amazonaws.com"}
                            },
                        ),
                    ]
                )
            },
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
