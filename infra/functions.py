"""Every Lambda function the way this project wants it (own role, own log group, traced), built by
one factory that adds what all functions share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import TargetPlatform
from infra.config import DeploymentConfig
from infra.nag import XRAY_WILDCARD_FINDING, XRAY_WILDCARD_REASON, acknowledge
from infra.permissions import use_key_through

# Newest Python runtime aws-cdk-lib 2.275 knows (cdk-nag L1 checks for exactly that).
LAMBDA_TARGET = TargetPlatform(runtime=lambda_.Runtime.PYTHON_3_14, architecture=lambda_.Architecture.ARM_64)
SERVICE_NAME = "prompt-rollback"
METRICS_NAMESPACE = "PromptRollback"
# EventBridge's retries of a failed invocation of a rule target, before its dead-letter queue.
EVENT_RETRY_ATTEMPTS = 8
# cfn-lint findings accepted on each function, with why (tests/infra/test_cfn_lint.py lints the rest).
CFN_LINT_IGNORED = {
    # CDK makes the function DependsOn its role and the role's policy, so the function is only
    # created once it may write its logs; the role's part repeats the order its GetAtt gives.
    "W3005": "DependsOn the role, which Role: !GetAtt already orders: emitted by CDK, harmless",
}


class Asset(Enum):
    """Which of the stack's two Lambda assets a handler needs."""

    WORKER = "worker"
    # requirements-webhook.txt: no Langfuse client or httpx, for a shorter cold start.
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class FunctionSpec:
    """What sets one function apart from the others, apart from its environment and permissions."""

    handler: str
    description: str
    timeout: Duration
    memory_size: int = 256
    # The full package unless the handler is one of the light, latency-bound ones.
    asset: Asset = Asset.WORKER


class AppFunction(Construct):
    """A function of the project's package with a role that starts empty: no managed policies.

    The role gets only log writing to its own group here, and X-Ray's two actions in a policy of
    their own; each caller adds what its handler needs, statement by statement.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: FunctionSpec,
        code: lambda_.Code,
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=log_retention,
            # Operational logs; the evidence lives in the audit table and CloudTrail, both retained.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{spec.description} (Lambda execution role)",
        )
        self.allow(
            iam.PolicyStatement(
                sid="WriteOwnLogGroup",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                # The log group's Arn attribute ends in ":*", which covers its log streams.
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=spec.description,
            runtime=LAMBDA_TARGET.runtime,
            architecture=LAMBDA_TARGET.architecture,
            handler=spec.handler,
            code=code,
            role=self.role,
            timeout=spec.timeout,
            memory_size=spec.memory_size,
            log_group=self.log_group,
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                **environment,
            },
        )
        function_resource = self.function.node.default_child
        assert isinstance(function_resource, lambda_.CfnFunction)
        self._trace_actively(function_resource)
        function_resource.add_metadata("cfn-lint", {"config": {"ignore_checks": list(CFN_LINT_IGNORED)}})

    def _trace_actively(self, function_resource: lambda_.CfnFunction) -> None:
        """Active X-Ray tracing, its two Resource-"*" actions in a policy of their own: CDK's
        `tracing=ACTIVE` would put them in the role's default policy, and acknowledging the
        wildcard there would hide any other wildcard added to the role later."""
        function_resource.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        tracing = iam.Policy(
            self,
            "XRayTracing",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
                )
            ],
        )
        self.function.node.add_dependency(tracing)
        acknowledge(tracing, XRAY_WILDCARD_FINDING, XRAY_WILDCARD_REASON)

    def park_failed_events(
        self,
        dead_letter_queue: sqs.IQueue,
        *,
        retry_attempts: int,
        max_event_age: Duration,
        scope: Construct | None = None,
    ) -> None:
        """Asynchronous invocations that still fail after Lambda's retries, or grow too old, go to
        `dead_letter_queue` (an on-failure destination) instead of being dropped. `scope`: the
        construct the invoke configuration is created in (this function's when not given)."""
        # The L1 resource: CDK's SqsDestination would also grant GetQueueAttributes and GetQueueUrl.
        lambda_.CfnEventInvokeConfig(
            scope or self,
            "AsyncInvokeConfig",
            function_name=self.function.function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=retry_attempts,
            maximum_event_age_in_seconds=int(max_event_age.to_seconds()),
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(
                    destination=dead_letter_queue.queue_arn
                )
            ),
        )
        self.allow_parking_in(dead_letter_queue)

    def allow_parking_in(self, dead_letter_queue: sqs.IQueue) -> None:
        """Lambda sends to an on-failure destination with the function's role: SendMessage, and the
        data key SQS asks for on its behalf when the queue has a key of its own."""
        self.allow(
            iam.PolicyStatement(
                sid="ParkFailedEvents", actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn]
            )
        )
        if dead_letter_queue.encryption_master_key is not None:
            self.allow(
                use_key_through(
                    "sqs",
                    dead_letter_queue.encryption_master_key,
                    ["kms:GenerateDataKey", "kms:Decrypt"],
                    sid="EncryptParkedEventsThroughSqs",
                )
            )

    def allow(self, *statements: iam.PolicyStatement) -> None:
        for statement in statements:
            self.role.add_to_principal_policy(statement)

    def event_target(
        self, *, dead_letter_queue: sqs.IQueue, max_event_age: Duration
    ) -> targets.LambdaFunction:
        """This function as an EventBridge rule's target: retried while the event is younger than
        `max_event_age`, then parked in `dead_letter_queue`."""
        return targets.LambdaFunction(
            self.function,
            dead_letter_queue=dead_letter_queue,
            retry_attempts=EVENT_RETRY_ATTEMPTS,
            max_event_age=max_event_age,
        )


@dataclass(frozen=True)
class FunctionFactory:
    """Builds every function of the stack with what they all share: the stage, the log retention
    and the two assets. A caller names only what differs."""

    config: DeploymentConfig
    assets: Mapping[Asset, lambda_.Code]

    def create(
        self, scope: Construct, construct_id: str, spec: FunctionSpec, environment: Mapping[str, str]
    ) -> AppFunction:
        return AppFunction(
            scope,
            construct_id,
            spec=spec,
            code=self.assets[spec.asset],
            environment={"STAGE": self.config.stage, **environment},
            log_retention=self.config.log_retention,
        )
