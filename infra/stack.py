"""The prompt-rollback stack: ingest API -> rollback worker -> audit, watched by monitoring."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack, Tags
from constructs import Construct

from infra.alert_sources import AlertSources
from infra.audit_ledger import AuditLedger
from infra.audit_trail import AuditTrail
from infra.bundling import WEBHOOK_REQUIREMENTS_FILE, lambda_code
from infra.change_recording import ChangeRecording
from infra.config import DeploymentConfig
from infra.encryption import rotating_key
from infra.functions import LAMBDA_TARGET, Asset, FunctionFactory
from infra.ingest_api import ALERTS_PATH, LANGFUSE_EVENTS_PATH, IngestApi
from infra.ledger_anchors import LedgerAnchors
from infra.monitoring import Monitoring
from infra.nag import acknowledge
from infra.platform import Platform
from infra.rollback_worker import RollbackWorker
from infra.secrets import AppSecrets
from infra.slack_app import SLACK_ACTIONS_PATH, RecoveryChecks, SlackActions
from infra.watcher import Watcher


def stack_name(config: DeploymentConfig) -> str:
    return f"PromptRollback-{config.stage}"


class PromptRollbackStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        Tags.of(self).add("project", "prompt-rollback")
        Tags.of(self).add("stage", config.stage)
        # Queues, the alarm topic and the secrets: application data that is not evidence.
        self.app_key = rotating_key(
            self,
            "AppKey",
            f"prompt-rollback {config.stage}: queues, alarm topic, secrets",
            removal_policy=RemovalPolicy.DESTROY,
            # As long as a deleted secret can still be restored (Secrets Manager's default window).
            pending_window=Duration.days(30),
        )
        self.secrets = AppSecrets(self, "Secrets", config=config, key=self.app_key)
        self.ledger = AuditLedger(self, "AuditLedger")
        self.platform = Platform(
            config=config,
            # One asset per function kind, built once and shared by the functions of that kind.
            functions=FunctionFactory(
                config=config,
                assets={
                    Asset.WORKER: lambda_code(LAMBDA_TARGET),
                    Asset.WEBHOOK: lambda_code(LAMBDA_TARGET, requirements_file=WEBHOOK_REQUIREMENTS_FILE),
                },
            ),
            app_key=self.app_key,
            secrets=self.secrets,
            ledger=self.ledger,
        )
        self._rollback_path()
        self._slack_app()
        self._evidence(config)
        self._alerting()
        # Opt-in (context key watcher_enabled): detection from Langfuse without Prometheus.
        self.watcher: Watcher | None = None
        if config.watcher_enabled:
            self.watcher = Watcher(
                self, "Watcher", platform=self.platform, rollback_queue=self.worker.rollback_queue
            )
            self.watcher.alarm_on(self.monitoring.topic)
        self._queue_senders(config)
        self._outputs()

    def _rollback_path(self) -> None:
        """The worker and its queue, the API in front of it, and the change recorders beside it."""
        self.worker = RollbackWorker(self, "RollbackWorker", platform=self.platform)
        rollback_queue = self.worker.rollback_queue
        self.ingest = IngestApi(self, "IngestApi", platform=self.platform, rollback_queue=rollback_queue)
        self.changes = ChangeRecording(self, "ChangeRecording", platform=self.platform, worker=self.worker)
        self.ingest.add_langfuse_events_route(self.changes.langfuse_events.function)

    def _slack_app(self) -> None:
        """POST /slack/actions, and the recovery checks the worker schedules after a rollback."""
        self.slack_actions = SlackActions(
            self,
            "SlackActions",
            platform=self.platform,
            api=self.ingest.api,
            worker=self.worker,
        )
        self.recovery_checks = RecoveryChecks(
            self, "RecoveryChecks", rollback_queue=self.worker.rollback_queue
        )
        worker = self.worker.function
        worker.allow(*self.recovery_checks.worker_statements())
        acknowledge(
            worker.role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:"
            f"schedule/<{self.resolve(self.recovery_checks.group.logical_id)}>/*]",
            "The worker creates one one-shot schedule per rollback, named after its rollback id, so "
            "the names are not known in advance; the wildcard is limited to this stack's schedule group.",
        )
        worker.function.add_environment("RECOVERY_SCHEDULE_GROUP", self.recovery_checks.group_name)
        worker.function.add_environment("RECOVERY_SCHEDULER_ROLE_ARN", self.recovery_checks.role.role_arn)
        worker.function.add_environment("ROLLBACK_QUEUE_ARN", self.worker.queue.queue_arn)
        worker.function.add_environment(
            "RECOVERY_DEAD_LETTER_QUEUE_ARN", self.recovery_checks.dead_letter_queue.queue_arn
        )

    def _queue_senders(self, config: DeploymentConfig) -> None:
        """Only the producers may send to the rollback queue; the worker acts on a queued click
        only when the Slack actions function's role sent it (worker/provenance.py)."""
        senders = [
            self.ingest.function.role,
            self.sources.function.role,
            self.changes.langfuse_events.role,
            self.slack_actions.function.role,
            self.recovery_checks.role,
        ]
        if self.watcher is not None:
            senders.append(self.watcher.function.role)
        self.worker.admit_only(senders, config.queue_redrive_role_arns)
        self.worker.function.function.add_environment(
            "SLACK_ACTIONS_ROLE_ID", self.slack_actions.function.role.role_id
        )

    def _evidence(self, config: DeploymentConfig) -> None:
        """The trail of every function's invocations and ledger write, and the anchors function,
        which alone writes chain heads (the ledger writers cannot forge or skip one)."""
        self.anchors = LedgerAnchors(self, "LedgerAnchors", platform=self.platform)
        self.trail = AuditTrail(
            self,
            "AuditTrail",
            config=config,
            ledger_table=self.ledger.table,
            functions=[
                self.ingest.function.function,
                self.worker.function.function,
                self.changes.langfuse_events.function,
                self.changes.cloudtrail_changes.function,
                self.slack_actions.function.function,
                self.anchors.function.function,
            ],
        )
        self.trail.allow_anchoring(self.anchors.function)

    def _alerting(self) -> None:
        """The alarm topic and dashboard, and the alert sources besides Alertmanager."""
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            platform=self.platform,
            ingest=self.ingest,
            rollback_worker=self.worker,
        )
        self.sources = AlertSources(
            self,
            "AlertSources",
            platform=self.platform,
            rollback_queue=self.worker.rollback_queue,
        )
        self.sources.verify_grafana_signatures(self.ingest.function)
        self.sources.alarm_on(self.monitoring.topic)
        self.changes.alarm_on(self.monitoring.topic)
        self.slack_actions.alarm_on(self.monitoring.topic)
        self.recovery_checks.alarm_on(self.monitoring.topic)
        self.anchors.alarm_on(self.monitoring.topic)

    def _outputs(self) -> None:
        api, secrets, sources = self.ingest.api, self.secrets, self.sources
        outputs = {
            "AlertsUrl": (api.url_for_path(f"/{ALERTS_PATH}"), "Alertmanager webhook_configs url"),
            "LangfuseEventsUrl": (
                api.url_for_path(f"/{LANGFUSE_EVENTS_PATH}"),
                "Langfuse Prompts > Automations > Webhook URL",
            ),
            "LangfuseWebhookSecretName": (
                secrets.langfuse_webhook.name,
                "Paste the webhook's lf-whsec_ signing secret here",
            ),
            "WebhookTokenSecretName": (secrets.webhook_token.name, "Bearer token for Alertmanager"),
            "LangfuseSecretName": (secrets.langfuse.name, 'JSON {"host","public_key","secret_key"}'),
            "SlackWebhookSecretName": (secrets.slack_webhook_url.name, "Slack incoming-webhook URL"),
            "SlackActionsUrl": (
                api.url_for_path("/" + "/".join(SLACK_ACTIONS_PATH)),
                "Slack app Interactivity Request URL",
            ),
            "SlackBotTokenSecretName": (secrets.slack_bot_token.name, "Slack app bot token (xoxb-)"),
            "SlackSigningSecretName": (secrets.slack_signing_secret.name, "Slack app signing secret"),
            "PagerDutyRoutingKeySecretName": (
                secrets.pagerduty_routing_key.name,
                "PagerDuty Events API v2 routing key (32 characters)",
            ),
            "AuditTableName": (self.ledger.table.table_name, "Audit ledger (AUDIT_TABLE_NAME for the CLI)"),
            "WorkerFunctionName": (
                self.worker.function.function.function_name,
                "Invoke for a forced rollback",
            ),
            "DeadLetterQueueUrl": (
                self.worker.dead_letter_queue.queue_url,
                "Requests that failed every attempt",
            ),
            "AlarmTopicArn": (self.monitoring.topic.topic_arn, "Subscribe more endpoints here"),
            "DashboardName": (self.monitoring.dashboard.dashboard_name, "CloudWatch dashboard"),
            "TrailBucketName": (self.trail.bucket.bucket_name, "CloudTrail log files (Object Lock)"),
            "AmpAlertTopicArn": (sources.amp_topic.topic_arn, "topic_arn of deploy/amp/alertmanager.yaml"),
            "AlertEventsFunctionName": (
                sources.function.function.function_name,
                "Replay an SNS or EventBridge event (docs/sources.md)",
            ),
            "AlertEventsDeadLetterQueueUrl": (
                sources.dead_letter_queue.queue_url,
                "AMP and CloudWatch events that failed every attempt",
            ),
        }
        if self.watcher is not None:
            outputs["WatcherStateTableName"] = (
                self.watcher.state_table.table_name,
                "The watcher's for: states",
            )
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
