"""Alarms that page someone (SNS topic, optional email) and the dashboard of the rollback flow."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import DeploymentConfig
from infra.functions import METRICS_NAMESPACE, SERVICE_NAME

FIVE_MINUTES = Duration.minutes(5)


def app_metric(name: str, *, statistic: str = "Sum", label: str | None = None) -> cloudwatch.Metric:
    """A Powertools metric of the handlers (namespace PromptRollback, dimension service)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME},
        statistic=statistic,
        period=FIVE_MINUTES,
        label=label,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        key: kms.Key,
        api: apigateway.RestApi,
        webhook: lambda_.IFunction,
        worker: lambda_.IFunction,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"prompt-rollback {config.stage} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # CloudWatch publishes alarm notifications itself; an encrypted topic needs its key to let it.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))

        notify = cloudwatch_actions.SnsAction(self.topic)
        # Each fires on the first occurrence: any of these means a rollback may not have happened.
        alarm_on_any: dict[str, tuple[str, cloudwatch.IMetric]] = {
            "DeadLetterQueueNotEmpty": (
                "A rollback request failed every attempt and is parked in the dead-letter queue "
                "(its last attempt is audited as failed). Inspect it, then redrive or delete it.",
                dead_letter_queue.metric_approximate_number_of_messages_visible(
                    statistic="Maximum", period=Duration.minutes(1)
                ),
            ),
            "WorkerErrors": (
                "The rollback worker raised (a whole batch failed, or a bug).",
                worker.metric_errors(statistic="Sum", period=FIVE_MINUTES),
            ),
            "WebhookErrors": (
                "The webhook raised: Alertmanager retries, but alerts may be delayed or lost.",
                webhook.metric_errors(statistic="Sum", period=FIVE_MINUTES),
            ),
            "RollbacksFailed": (
                "A rollback was attempted and failed: the bad prompt version may still be live.",
                app_metric("RollbacksFailed"),
            ),
            "RecoveryOverdue": (
                "A rollback's alert did not resolve within its recovery window: production may still "
                "be bad after the rollback. The incident's Slack thread says which.",
                app_metric("RecoveryOverdue"),
            ),
            "RecoveryCheckNotScheduled": (
                "A rollback's recovery check could not be scheduled: nobody will be told if it does "
                "not recover.",
                app_metric("RecoveryCheckNotScheduled"),
            ),
            "SlackFailures": (
                "A decision was not announced in Slack: Slack failed after the retries, or the webhook "
                "URL secret still holds its placeholder (audited as not_configured). The rollback "
                "itself is audited; set the secret (docs/deploy.md) or check Slack.",
                app_metric("SlackFailures"),
            ),
            # A skip at the webhook otherwise leaves only a log line: a rule that never carries
            # prompt_version (or names no valid prompt, provider or target) would go unnoticed.
            "AlertsMisconfigured": (
                "An alert reached the webhook with labels that cannot name a rollback (missing or "
                "invalid prompt_name, prompt_version, provider, target labels or rollback_to): it "
                "was skipped and its rule will never roll anything back until fixed. The webhook's "
                "'alerts triaged' log line names the alert and the reason.",
                app_metric("AlertsMisconfigured"),
            ),
            "AlertsTruncated": (
                "Alertmanager left alerts out of a notification (the receiver's max_alerts): they "
                "were never sent, so never rolled back. Set max_alerts: 0 (docs/deploy.md).",
                app_metric("AlertsTruncated"),
            ),
        }
        self.alarms: list[cloudwatch.Alarm] = [
            cloudwatch.Alarm(
                self,
                alarm_id,
                alarm_description=description,
                metric=metric,
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            for alarm_id, (description, metric) in alarm_on_any.items()
        ]
        for alarm in self.alarms:
            alarm.add_alarm_action(notify)
            alarm.add_ok_action(notify)

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"prompt-rollback-{config.stage}",
            default_interval=Duration.days(1),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Alerts (webhook)",
                left=[
                    app_metric(name)
                    for name in (
                        "AlertsReceived",
                        "AlertsAccepted",
                        "AlertsSkipped",
                        "AlertsMisconfigured",
                        "AlertsTruncated",
                    )
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Rollbacks (worker)",
                left=[
                    app_metric(name)
                    for name in ("RollbacksDone", "RollbacksSkipped", "RollbacksFailed", "RollbacksDryRun")
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Alert to rollback (seconds)",
                left=[
                    app_metric("AlertToRollbackSeconds", statistic="p50", label="p50"),
                    app_metric("AlertToRollbackSeconds", statistic="p99", label="p99"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Worker duration (ms)",
                left=[
                    worker.metric_duration(statistic="p50", period=FIVE_MINUTES, label="p50"),
                    worker.metric_duration(statistic="p99", period=FIVE_MINUTES, label="p99"),
                    worker.metric_duration(statistic="Maximum", period=FIVE_MINUTES, label="max"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Queues",
                left=[
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        statistic="Maximum", period=Duration.minutes(1), label="dead-letter queue depth"
                    ),
                    queue.metric_approximate_number_of_messages_visible(
                        statistic="Maximum", period=Duration.minutes(1), label="queue depth"
                    ),
                ],
                right=[
                    queue.metric_approximate_age_of_oldest_message(
                        statistic="Maximum", period=Duration.minutes(1), label="oldest message age (s)"
                    )
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API /alerts",
                left=[
                    api.metric_count(statistic="Sum", period=FIVE_MINUTES, label="requests"),
                    api.metric_client_error(statistic="Sum", period=FIVE_MINUTES, label="4xx"),
                    api.metric_server_error(statistic="Sum", period=FIVE_MINUTES, label="5xx"),
                ],
                right=[api.metric_latency(statistic="p99", period=FIVE_MINUTES, label="latency p99 (ms)")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Errors",
                left=[
                    worker.metric_errors(statistic="Sum", period=FIVE_MINUTES, label="worker errors"),
                    webhook.metric_errors(statistic="Sum", period=FIVE_MINUTES, label="webhook errors"),
                    app_metric("SlackFailures"),
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24),
        )
