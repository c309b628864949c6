"""Production changes made outside the worker, on the record: two small functions append `change`
records to the audit ledger, with the worker's append-only permissions: one for Langfuse webhooks,
one for the CloudTrail events that move a configured Bedrock or SSM pointer."""

from __future__ import annotations

from dataclasses import replace

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import DeploymentConfig
from infra.encryption import let_service_use_key
from infra.functions import AppFunction, FunctionSpec
from infra.monitoring import page_on
from infra.parking import parking_queue
from infra.permissions import decrypt_secrets, use_idempotency_records
from infra.platform import Platform
from infra.rollback_worker import RollbackWorker

LANGFUSE_EVENTS = FunctionSpec(
    handler="prompt_rollback.changes.langfuse_handler.lambda_handler",
    description="prompt-rollback: records Langfuse prompt-version webhooks as production changes",
    timeout=Duration.seconds(15),
)
CLOUDTRAIL_CHANGES = replace(
    LANGFUSE_EVENTS,
    handler="prompt_rollback.changes.cloudtrail_handler.lambda_handler",
    description="prompt-rollback: records Bedrock pointer changes seen by CloudTrail",
)


def _alias_update(
    event_name: str, owner_key: str, alias_key: str, references: list[str]
) -> dict[str, object]:
    """The CloudTrail call `event_name` on any of `references` (OWNERID/ALIASID, agent or flow)."""
    owners_and_aliases = [reference.split("/") for reference in references]
    return {
        "eventSource": ["bedrock.amazonaws.com"],
        "eventName": [event_name],
        "requestParameters": {
            alias_key: sorted({alias for _, alias in owners_and_aliases}),
            owner_key: sorted({owner for owner, _ in owners_and_aliases}),
        },
    }


def pointer_change_pattern(config: DeploymentConfig) -> events.EventPattern | None:
    """CloudTrail calls that move one of the configured pointers; None when none is configured."""
    calls: list[dict[str, object]] = []
    if config.bedrock_agent_aliases:
        calls.append(
            _alias_update("UpdateAgentAlias", "agentId", "agentAliasId", config.bedrock_agent_aliases)
        )
    if config.bedrock_flow_aliases:
        calls.append(
            _alias_update("UpdateFlowAlias", "flowIdentifier", "aliasIdentifier", config.bedrock_flow_aliases)
        )
    if config.prompt_parameters:
        calls.append(
            {
                "eventSource": ["ssm.amazonaws.com"],
                "eventName": ["PutParameter"],
                "requestParameters": {"name": sorted(config.prompt_parameters)},
            }
        )
    if not calls:
        return None
    # Agent ids and alias ids are matched separately, so AGENT_A/ALIAS_B matches when both are
    # configured in other pairs; the function records only what it was sent, and such a call
    # still moved a pointer of ours.
    detail: dict[str, object] = {"$or": calls} if len(calls) > 1 else calls[0]
    return events.EventPattern(
        source=events.Match.any_of("aws.bedrock", "aws.ssm"),
        detail_type=["AWS API Call via CloudTrail"],
        detail=detail,
    )


class ChangeRecording(Construct):
    """LangfuseEvents, behind POST /langfuse/events (the route is on the ingest API), verifies
    Langfuse's signature and records prompt-version events; Langfuse monitor alerts it turns into
    rollback requests on the worker's queue.

    CloudTrailChanges is the target of an EventBridge rule on the CloudTrail management events that
    move a configured pointer (UpdateAgentAlias, UpdateFlowAlias, PutParameter). EventBridge only
    sees these where a trail records management events: an organisation trail, or this stack's own
    with `trail_management_events` (infra/audit_trail.py).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, platform: Platform, worker: RollbackWorker
    ) -> None:
        super().__init__(scope, construct_id)
        rollback_queue, idempotency_table = worker.rollback_queue, worker.idempotency_table
        config, key, ledger, secrets = platform.config, platform.app_key, platform.ledger, platform.secrets
        webhook_secret = secrets.langfuse_webhook
        self.langfuse_events = platform.functions.create(
            self,
            "LangfuseEvents",
            LANGFUSE_EVENTS,
            {
                "AUDIT_TABLE_NAME": ledger.table.table_name,
                "IDEMPOTENCY_TABLE_NAME": idempotency_table.table_name,
                "LANGFUSE_WEBHOOK_SECRET_NAME": webhook_secret.name,
                "LANGFUSE_SECRET_NAME": secrets.langfuse.name,
                # Which prompts start a rollout when a person adds the canary label (the worker's plans).
                "ROLLOUT_PLANS": config.rollout_plans_json(),
                **rollback_queue.environment,
            },
        )
        self.langfuse_events.allow(
            *ledger.append_only_statements(),
            # Langfuse monitor alerts go to the same FIFO queue as Alertmanager's.
            *rollback_queue.send_statements(),
            use_idempotency_records(idempotency_table),
            webhook_secret.read_statement("ReadLangfuseWebhookSecret"),
            # Asks Langfuse where production went when only the losing version's event arrived.
            secrets.langfuse.read_statement("ReadLangfuseKeys"),
            decrypt_secrets(key),
        )
        self.cloudtrail_changes = self._cloudtrail_changes(platform, own_roles=[worker.function.role])
        self.dead_letter_queue = parking_queue(
            self,
            "CloudTrailChangesDeadLetterQueue",
            key=key,
            nag_reason=(
                "This queue is a dead-letter queue: of the EventBridge rule's Lambda target (a target DLQ) "
                "and the function's on-failure destination, which cdk-nag does not recognise because it "
                "only looks for SQS redrive policies."
            ),
        )
        # EventBridge's DLQ only takes events it could not deliver; an event the function fails
        # on after Lambda's own retries is parked here too.
        self.cloudtrail_changes.park_failed_events(
            self.dead_letter_queue, retry_attempts=2, max_event_age=Duration.hours(6)
        )
        self.rule = self._pointer_change_rule(config, key)

    def _cloudtrail_changes(self, platform: Platform, own_roles: list[iam.IRole]) -> AppFunction:
        ledger = platform.ledger
        function = platform.functions.create(
            self,
            "CloudTrailChanges",
            CLOUDTRAIL_CHANGES,
            {
                "AUDIT_TABLE_NAME": ledger.table.table_name,
                "OWN_ROLE_ARNS": ",".join(role.role_arn for role in own_roles),
            },
        )
        function.allow(*ledger.append_only_statements())
        if prompt_parameters := platform.config.prompt_parameters:
            # CloudTrail does not log a parameter's value: the function reads the version it names.
            function.allow(
                iam.PolicyStatement(
                    sid="ReadPromptPointerParameters",
                    actions=["ssm:GetParameter"],
                    resources=[
                        f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter/{name.lstrip('/')}"
                        for name in prompt_parameters
                    ],
                )
            )
        return function

    def _pointer_change_rule(self, config: DeploymentConfig, key: kms.IKey) -> events.Rule | None:
        pattern = pointer_change_pattern(config)
        if pattern is None:
            return None
        rule_name = f"prompt-rollback-{config.stage}-pointer-changes"
        rule = events.Rule(
            self,
            "PointerChanges",
            rule_name=rule_name,
            description="Bedrock alias and SSM pointer changes -> the change recorder",
            event_pattern=pattern,
            targets=[
                self.cloudtrail_changes.event_target(
                    dead_letter_queue=self.dead_letter_queue, max_event_age=Duration.hours(24)
                )
            ],
        )
        # EventBridge writes to the KMS-encrypted DLQ itself, so the key must let it, for this rule
        # only. The ARN is built from the name: taking it from the rule would be a cycle.
        rule_arn = f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{rule_name}"
        let_service_use_key(
            key,
            sid="EventBridgeParksUnrecordedPointerChanges",
            service="events.amazonaws.com",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            conditions={"ArnEquals": {"aws:SourceArn": rule_arn}},
        )
        return rule

    def alarm_on(self, topic: sns.ITopic) -> list[cloudwatch.Alarm]:
        """A pointer change that could not be recorded is parked in the DLQ: someone must look.
        A failing recorder means a person's change may be missing from the ledger."""
        return [
            page_on(
                self,
                "UnrecordedPointerChanges",
                description="A Bedrock pointer change could not be recorded in the audit ledger (DLQ)",
                metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5)
                ),
                topic=topic,
                notify_ok=False,
            ),
            page_on(
                self,
                "CloudTrailChangesErrors",
                description="The CloudTrail change recorder raised: the event is retried, then parked.",
                metric=self.cloudtrail_changes.function.metric_errors(
                    statistic="Sum", period=Duration.minutes(5)
                ),
                topic=topic,
            ),
            page_on(
                self,
                "LangfuseEventsErrors",
                description=(
                    "The Langfuse events function raised (POST /langfuse/events answered 5xx): Langfuse "
                    "retries the webhook, but a change or a monitor alert may be late or lost."
                ),
                metric=self.langfuse_events.function.metric_errors(
                    statistic="Sum", period=Duration.minutes(5)
                ),
                topic=topic,
            ),
        ]
