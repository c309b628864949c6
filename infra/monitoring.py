"""Alarms that page someone (SNS topic, optional email) and the dashboard of the rollback flow."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import DeploymentConfig
from infra.encryption import let_service_use_key
from infra.functions import METRICS_NAMESPACE, SERVICE_NAME
from infra.ingest_api import IngestApi
from infra.platform import Platform
from infra.rollback_worker import RollbackWorker

FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)
# A rollback request this old has failed at least two attempts (6-minute visibility timeout) or
# waits behind a stuck one in its FIFO group: production may still be bad.
OLDEST_REQUEST_AGE_ALARM = Duration.minutes(15)
# Powertools metrics that page on their first occurrence, by alarm id (which is the metric's name).
APP_METRIC_ALARMS = {
    "RollbacksFailed": "A rollback was attempted and failed: the bad prompt version may still be live.",
    "RecoveryOverdue": (
        "A rollback's alert did not resolve within its recovery window: production may still "
        "be bad after the rollback. The incident's Slack thread says which."
    ),
    "RecoveryCheckNotScheduled": (
        "A rollback's recovery check could not be scheduled: nobody will be told if it does not recover."
    ),
    "SlackFailures": (
        "A decision was not announced in Slack: Slack failed after the retries, or the webhook "
        "URL secret still holds its placeholder (audited as not_configured). The rollback "
        "itself is audited; set the secret (docs/deploy.md) or check Slack."
    ),
    "PagerDutyFailures": (
        "PagerDuty was not told of an incident, its resolution or a change of production: the "
        "Events API failed after the retries, or refused the routing key. The rollback itself "
        "went on and is audited (its record's pagerduty.status is failed); check the key "
        "(docs/deploy.md) and PagerDuty's status."
    ),
    # A skip at the webhook otherwise leaves only a log line: a rule that never carries
    # prompt_version (or names no valid prompt, provider or target) would go unnoticed.
    "AlertsMisconfigured": (
        "An alert reached the webhook with labels that cannot name a rollback (missing or "
        "invalid prompt_name, prompt_version, provider, target labels or rollback_to): it "
        "was skipped and its rule will never roll anything back until fixed. The webhook's "
        "'alerts triaged' log line names the alert and the reason."
    ),
    "AlertsTruncated": (
        "Alertmanager left alerts out of a notification (the receiver's max_alerts): they "
        "were never sent, so never rolled back. Set max_alerts: 0 (docs/deploy.md)."
    ),
}


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


def queue_depth(queue: sqs.IQueue, label: str | None = None) -> cloudwatch.Metric:
    return queue.metric_approximate_number_of_messages_visible(
        statistic="Maximum", period=ONE_MINUTE, label=label
    )


def page_on(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    metric: cloudwatch.IMetric,
    topic: sns.ITopic,
    runs_in_a_row: int | None = None,
    notify_ok: bool = True,
    threshold: float = 1,
) -> cloudwatch.Alarm:
    """An alarm on the alarm topic that fires when `metric` reaches `threshold` (one occurrence by
    default): at once, or in each of `runs_in_a_row` periods. Missing data is the absence of it."""
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=runs_in_a_row or 1,
        datapoints_to_alarm=runs_in_a_row,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    notify = cloudwatch_actions.SnsAction(topic)
    alarm.add_alarm_action(notify)
    if notify_ok:
        alarm.add_ok_action(notify)
    return alarm


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: Platform,
        ingest: IngestApi,
        rollback_worker: RollbackWorker,
    ) -> None:
        super().__init__(scope, construct_id)
        config = platform.config
        webhook, worker = ingest.function.function, rollback_worker.function.function
        self.topic = self._alarm_topic(config, platform.app_key)
        # Each fires on the first occurrence: any of these means a rollback may not have happened.
        self.alarms = [
            self._page_on(
                "DeadLetterQueueNotEmpty",
                "A rollback request failed every attempt and is parked in the dead-letter queue "
                "(its last attempt is audited as failed). Inspect it, then redrive or delete it.",
                queue_depth(rollback_worker.dead_letter_queue),
            ),
            self._page_on(
                "WorkerErrors",
                "The rollback worker raised (a whole batch failed, or a bug).",
                worker.metric_errors(statistic="Sum", period=FIVE_MINUTES),
            ),
            self._page_on(
                "WebhookErrors",
                "The webhook raised: Alertmanager retries, but alerts may be delayed or lost.",
                webhook.metric_errors(statistic="Sum", period=FIVE_MINUTES),
            ),
            self._page_on(
                "ApiServerErrors",
                "The API answered 5xx (a function failed, timed out or was throttled): Alertmanager "
                "retries, but Slack clicks and Langfuse events may be lost. The access log says which route.",
                ingest.api.metric_server_error(statistic="Sum", period=FIVE_MINUTES),
            ),
            self._oldest_request_alarm(rollback_worker),
            *(self._page_on(name, text, app_metric(name)) for name, text in APP_METRIC_ALARMS.items()),
        ]
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"prompt-rollback-{config.stage}",
            default_interval=Duration.days(1),
        )
        self.dashboard.add_widgets(*flow_widgets())
        self.dashboard.add_widgets(*latency_widgets(rollback_worker))
        self.dashboard.add_widgets(*incident_widgets())
        self.dashboard.add_widgets(
            *error_widgets(ingest, worker),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24),
        )

    def _alarm_topic(self, config: DeploymentConfig, key: kms.IKey) -> sns.Topic:
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"prompt-rollback {config.stage} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # CloudWatch publishes alarm notifications itself; an encrypted topic needs its key to let it.
        let_service_use_key(
            key,
            sid="CloudWatchAlarmsPublishToEncryptedTopic",
            service="cloudwatch.amazonaws.com",
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            # Alarms of this account only (confused-deputy guard).
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
        if config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        return topic

    def _oldest_request_alarm(self, rollback_worker: RollbackWorker) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            "RollbackRequestWaiting",
            alarm_description=(
                f"A rollback request has waited {OLDEST_REQUEST_AGE_ALARM.to_minutes():g} minutes in the "
                "queue: the worker keeps failing on it (its log says why), or a failing request holds "
                "up the others of its prompt."
            ),
            metric=rollback_worker.queue.metric_approximate_age_of_oldest_message(
                statistic="Maximum", period=ONE_MINUTE
            ),
            threshold=OLDEST_REQUEST_AGE_ALARM.to_seconds(),
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        alarm.add_ok_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm

    def _page_on(self, alarm_id: str, description: str, metric: cloudwatch.IMetric) -> cloudwatch.Alarm:
        return page_on(self, alarm_id, description=description, metric=metric, topic=self.topic)


def flow_widgets() -> list[cloudwatch.IWidget]:
    """What came in at the webhook and what the worker decided."""
    alerts = ("AlertsReceived", "AlertsAccepted", "AlertsSkipped", "AlertsMisconfigured", "AlertsTruncated")
    rollbacks = ("RollbacksDone", "RollbacksSkipped", "RollbacksFailed", "RollbacksDryRun")
    return [
        cloudwatch.GraphWidget(
            title="Alerts (webhook)", left=[app_metric(name) for name in alerts], width=12
        ),
        cloudwatch.GraphWidget(
            title="Rollbacks (worker)", left=[app_metric(name) for name in rollbacks], width=12
        ),
    ]


# The ledger stream's anchor writer (Object Lock copies of each chain head) counts these; no
# metric counts the anchors written.
ANCHOR_METRICS = ("AnchorWriteFailures", "LedgerRewrites")


def incident_widgets() -> list[cloudwatch.IWidget]:
    """After the rollback: did it recover, what people did, the anchors, PagerDuty. Rollout steps
    get their own graph here when rollouts exist."""
    people = ("RollbacksApproved", "RollbacksUndone", "RollbacksRejected", "SlackActionsRefused")
    return [
        cloudwatch.GraphWidget(
            title="Recovery",
            left=[app_metric(name) for name in ("RollbacksRecovered", "RecoveryOverdue", "ProposalsExpired")],
            width=6,
        ),
        cloudwatch.GraphWidget(title="People actions", left=[app_metric(name) for name in people], width=6),
        cloudwatch.GraphWidget(
            title="Ledger anchors", left=[app_metric(name) for name in ANCHOR_METRICS], width=6
        ),
        cloudwatch.GraphWidget(title="PagerDuty", left=[app_metric("PagerDutyFailures")], width=6),
    ]


def latency_widgets(rollback_worker: RollbackWorker) -> list[cloudwatch.IWidget]:
    """How long a rollback takes, and what waits in the queues."""
    worker, queue = rollback_worker.function.function, rollback_worker.queue
    return [
        cloudwatch.GraphWidget(
            title="Alert to rollback (seconds)",
            left=[
                app_metric("AlertToRollbackSeconds", statistic=statistic, label=statistic)
                for statistic in ("p50", "p99")
            ],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title="Worker duration (ms)",
            left=[
                worker.metric_duration(statistic=statistic, period=FIVE_MINUTES, label=label)
                for statistic, label in (("p50", "p50"), ("p99", "p99"), ("Maximum", "max"))
            ],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title="Queues",
            left=[
                queue_depth(rollback_worker.dead_letter_queue, "dead-letter queue depth"),
                queue_depth(queue, "queue depth"),
            ],
            right=[
                queue.metric_approximate_age_of_oldest_message(
                    statistic="Maximum", period=ONE_MINUTE, label="oldest message age (s)"
                )
            ],
            width=8,
        ),
    ]


def error_widgets(ingest: IngestApi, worker: lambda_.IFunction) -> list[cloudwatch.IWidget]:
    """The API's traffic and every kind of error."""
    api, webhook = ingest.api, ingest.function.function
    return [
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
    ]
