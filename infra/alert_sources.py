"""Alert sources besides Alertmanager: AMP through SNS and CloudWatch alarms through EventBridge,
triaged by one alert-events function onto the worker's queue; and the Grafana HMAC secret of
POST /alerts (docs/sources.md)."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import DeploymentConfig
from infra.encryption import let_service_use_key, rotating_key
from infra.functions import AppFunction, Asset, FunctionFactory, FunctionSpec
from infra.monitoring import page_on, queue_depth
from infra.parking import parking_queue
from infra.platform import Platform, RollbackQueue
from infra.secrets import generated_secret, random_text

ALERT_EVENTS = FunctionSpec(
    handler="prompt_rollback.sources.events_handler.lambda_handler",
    description="prompt-rollback alert events: AMP (SNS) and CloudWatch alarms (EventBridge)",
    timeout=Duration.seconds(30),
    asset=Asset.WEBHOOK,
)
AMP_PRINCIPAL = "aps.amazonaws.com"
# Lambda's own retries of a failed asynchronous invocation (its maximum), before the DLQ.
ASYNC_RETRY_ATTEMPTS = 2


def alarm_state_change_pattern(config: DeploymentConfig) -> events.EventPattern:
    """CloudWatch's alarm state change events of alarms named with the configured prefix whose
    metric names a prompt (the PromptName dimension; domain/sources/cloudwatch_alarm.py). The
    prefix keeps other teams' alarms that happen to carry the dimension from rolling anything back."""
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=["CloudWatch Alarm State Change"],
        detail={
            "alarmName": [{"prefix": config.cloudwatch_alarm_name_prefix}],
            "configuration": {
                "metrics": {"metricStat": {"metric": {"dimensions": {"PromptName": [{"exists": True}]}}}}
            },
        },
    )


def amp_topic_name(config: DeploymentConfig) -> str:
    """Fixed, so deploy/amp/alertmanager.yaml can name the topic before the first deploy."""
    return f"prompt-rollback-{config.stage}-amp-alerts"


class AlertSources(Construct):
    """SNS and EventBridge invoke the alert-events function asynchronously: Lambda retries a failed
    event twice, then parks it in the dead-letter queue, as do SNS and EventBridge for deliveries
    they could not make at all. The queue has an alarm on the alarm topic."""

    def __init__(
        self, scope: Construct, construct_id: str, *, platform: Platform, rollback_queue: RollbackQueue
    ) -> None:
        super().__init__(scope, construct_id)
        self._platform = platform
        self.dead_letter_queue = parking_queue(
            self,
            "DeadLetterQueue",
            # SQS-managed encryption: SNS and EventBridge can write to it without a key policy for
            # them, and it holds alert payloads, not secrets.
            key=None,
            nag_reason=(
                "This queue is itself the dead-letter queue of the alert-events function, its SNS "
                "subscription and its EventBridge target; cdk-nag only recognises SQS redrive policies."
            ),
        )
        self.function = self._alert_events(platform.functions, rollback_queue)
        self._amp_topic(platform.config)
        self.alarm_rule = events.Rule(
            self,
            "AlarmStateChangeRule",
            description=(
                f"State changes of CloudWatch alarms named {platform.config.cloudwatch_alarm_name_prefix}* "
                "on a metric with a PromptName dimension"
            ),
            event_pattern=alarm_state_change_pattern(platform.config),
            targets=[
                self.function.event_target(
                    dead_letter_queue=self.dead_letter_queue, max_event_age=Duration.hours(6)
                )
            ],
        )

    def _alert_events(self, functions: FunctionFactory, rollback_queue: RollbackQueue) -> AppFunction:
        function = functions.create(self, "AlertEvents", ALERT_EVENTS, rollback_queue.environment)
        function.allow(*rollback_queue.send_statements())
        function.park_failed_events(
            self.dead_letter_queue,
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=Duration.hours(6),
            scope=self,
        )
        return function

    def _amp_topic(self, config: DeploymentConfig) -> None:
        # Its own key: the AMP service principal may use it, and nothing else of the app's.
        self.amp_key = rotating_key(
            self,
            "AmpTopicKey",
            f"prompt-rollback {config.stage}: AMP alert topic",
            removal_policy=RemovalPolicy.DESTROY,
        )
        scope = self._amp_conditions(config)
        let_service_use_key(
            self.amp_key,
            sid="AmpPublishesToEncryptedTopic",
            service=AMP_PRINCIPAL,
            actions=["kms:GenerateDataKey*", "kms:Decrypt"],
            conditions=scope,
        )
        self.amp_topic = sns.Topic(
            self,
            "AmpAlertTopic",
            topic_name=amp_topic_name(config),
            display_name=f"prompt-rollback {config.stage} AMP alerts",
            master_key=self.amp_key,
            enforce_ssl=True,
        )
        self.amp_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AmpAlertManagerPublishes",
                principals=[iam.ServicePrincipal(AMP_PRINCIPAL)],
                actions=["sns:Publish", "sns:GetTopicAttributes"],
                resources=[self.amp_topic.topic_arn],
                conditions=scope,
            )
        )
        self.amp_topic.add_subscription(
            subscriptions.LambdaSubscription(self.function.function, dead_letter_queue=self.dead_letter_queue)
        )

    @staticmethod
    def _amp_conditions(config: DeploymentConfig) -> dict[str, dict[str, str]]:
        conditions = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
        if config.amp_workspace_arn:
            return {**conditions, "ArnEquals": {"aws:SourceArn": config.amp_workspace_arn}}
        return conditions

    def verify_grafana_signatures(self, webhook: AppFunction) -> secretsmanager.ISecret | None:
        """With `grafana_hmac`, the secret Grafana signs POST /alerts with, and the webhook reads."""
        config = self._platform.config
        if not config.grafana_hmac:
            return None
        secret = generated_secret(
            self,
            "GrafanaHmacSecret",
            name=f"prompt-rollback/{config.stage}/grafana-hmac",
            description="HMAC secret of Grafana's webhook contact point (generated; copy it to Grafana).",
            generator=random_text(64),
            key=self._platform.app_key,
            what="the secret is pasted into Grafana",
        )
        webhook.allow(secret.read_statement("ReadGrafanaHmacSecret"))
        webhook.function.add_environment("GRAFANA_HMAC_SECRET_NAME", secret.name)
        webhook.function.add_environment("GRAFANA_SIGNATURE_HEADER", config.grafana_signature_header)
        webhook.function.add_environment("GRAFANA_TIMESTAMP_HEADER", config.grafana_timestamp_header)
        return secret.secret

    def alarm_on(self, alarm_topic: sns.ITopic) -> list[cloudwatch.Alarm]:
        """Parked events and a failing function: both mean an alert was not acted on."""
        return [
            page_on(
                self,
                "DeadLetterQueueNotEmpty",
                description=(
                    "An AMP notification or a CloudWatch alarm event could not be queued after every "
                    "retry and is parked in the alert-events dead-letter queue. Inspect it, then "
                    "replay it (docs/sources.md#replaying-an-event)."
                ),
                metric=queue_depth(self.dead_letter_queue),
                topic=alarm_topic,
            ),
            page_on(
                self,
                "AlertEventsErrors",
                description="The alert-events function raised: the event is retried, then parked.",
                metric=self.function.function.metric_errors(statistic="Sum", period=Duration.minutes(5)),
                topic=alarm_topic,
            ),
        ]
