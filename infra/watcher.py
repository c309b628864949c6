"""The serverless watcher (opt-in, context key `watcher_enabled`): Langfuse regressions caught with no
Prometheus at all. EventBridge Scheduler runs it; it keeps its `for:` states in its own table and
puts rollback requests, shaped like alerts, on the worker's FIFO queue."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import DeploymentConfig
from infra.functions import AppFunction, Asset, FunctionSpec
from infra.monitoring import app_metric, page_on, queue_depth
from infra.parking import parking_queue
from infra.permissions import decrypt_secrets
from infra.platform import Platform, RollbackQueue

WATCHER = FunctionSpec(
    handler="prompt_rollback.watcher.handler.lambda_handler",
    description="prompt-rollback watcher: measures Langfuse prompt versions and queues rollbacks",
    # A run is a constant number of Langfuse calls (each with its own 10 s timeout and the SDK's
    # retries) plus a handful of DynamoDB and SQS calls; 2 minutes leaves room for a slow Langfuse.
    timeout=Duration.seconds(120),
    asset=Asset.WORKER,  # the worker's asset: it has the Langfuse client
)


class Watcher(Construct):
    """Runs every `watcher_schedule_minutes` with the flexible time window off, and pages when it
    has not been able to watch for `watcher_failed_runs_alarm` runs in a row."""

    def __init__(
        self, scope: Construct, construct_id: str, *, platform: Platform, rollback_queue: RollbackQueue
    ) -> None:
        super().__init__(scope, construct_id)
        config = platform.config
        self._config = config
        langfuse_secret = platform.secrets.langfuse
        self.state_table = dynamodb.Table(
            self,
            "StateTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Pending/firing states, rebuilt from Langfuse within one `for:` duration: nothing to keep.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.function = platform.functions.create(
            self,
            "Watcher",
            WATCHER,
            {
                "WATCH_STATE_TABLE_NAME": self.state_table.table_name,
                **rollback_queue.environment,
                "LANGFUSE_SECRET_NAME": langfuse_secret.name,
                "WATCHER_CONFIG": config.watcher_config_json(),
                # Read only: the version production replaced is the baseline when the ledger knows it.
                "AUDIT_TABLE_NAME": platform.ledger.table.table_name,
            },
        )
        self.function.allow(
            iam.PolicyStatement(
                sid="KeepForStates",
                # Scan loads every state (one page in practice); Put/Delete are conditional writes.
                actions=["dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem"],
                resources=[self.state_table.table_arn],
            ),
            *rollback_queue.send_statements(),
            langfuse_secret.read_statement("ReadLangfuseKeys"),
            decrypt_secrets(platform.app_key),
            *platform.ledger.read_only_statements(),
        )
        # Scheduler invokes asynchronously: a run that fails is not retried (the next run replaces
        # it) but parked, so its event is there to read.
        self.dead_letter_queue = parking_queue(
            self,
            "DeadLetterQueue",
            key=platform.app_key,
            nag_reason=(
                "This queue is the watcher's on-failure destination (a Lambda destination), which cdk-nag "
                "does not recognise because it only looks for SQS redrive policies."
            ),
        )
        self.function.park_failed_events(
            self.dead_letter_queue,
            retry_attempts=0,
            max_event_age=Duration.minutes(config.watcher_schedule_minutes),
        )
        self.scheduler_role = self._scheduler_role()
        self.schedule = self._schedule(config, self.function)

    def _scheduler_role(self) -> iam.Role:
        # May invoke this function (not its versions or aliases) and nothing else, and only for
        # schedules of this account (confused-deputy guard).
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description="prompt-rollback: EventBridge Scheduler invokes the watcher",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="InvokeWatcher",
                actions=["lambda:InvokeFunction"],
                resources=[self.function.function.function_arn],
            )
        )
        return role

    def _schedule(self, config: DeploymentConfig, watcher: AppFunction) -> scheduler.Schedule:
        every = Duration.minutes(config.watcher_schedule_minutes)
        return scheduler.Schedule(
            self,
            "Schedule",
            description=f"prompt-rollback {config.stage}: run the watcher",
            schedule=scheduler.ScheduleExpression.rate(every),
            # Off: runs stay evenly spaced, which the `for:` durations are counted in. Overlap is
            # handled by the state table's conditional writes, not by spacing.
            time_window=scheduler.TimeWindow.off(),
            target=targets.LambdaInvoke(
                watcher.function,
                # Immutable for the target: its own grant would add `<function arn>:*` as well.
                role=self.scheduler_role.without_policy_updates(),
                # A missed run is replaced by the next one; a late retry would only overlap it.
                retry_attempts=0,
                max_event_age=every,
            ),
        )

    def alarm_on(self, alarm_topic: sns.ITopic) -> cloudwatch.Alarm:
        """N runs in a row without data (Langfuse down, 429) or failing outright: no detection."""
        self.failed_runs_alarm = self._failed_runs_alarm(self._config, alarm_topic)
        self.parked_runs_alarm = page_on(
            self,
            "ParkedRuns",
            description=(
                "A watcher run failed and its event is parked in the watcher's failed-runs queue; the "
                "FailedRuns alarm says whether it keeps happening. Read the watcher's log, then purge it."
            ),
            metric=queue_depth(self.dead_letter_queue),
            topic=alarm_topic,
            notify_ok=False,
        )
        return self.failed_runs_alarm

    def _failed_runs_alarm(self, config: DeploymentConfig, alarm_topic: sns.ITopic) -> cloudwatch.Alarm:
        period = Duration.minutes(config.watcher_schedule_minutes)
        failed_runs = cloudwatch.MathExpression(
            expression="FILL(nodata, 0) + FILL(sendfailures, 0) + FILL(errors, 0)",
            using_metrics={
                "nodata": app_metric("WatcherNoData").with_(period=period),
                "sendfailures": app_metric("WatcherSendFailures").with_(period=period),
                "errors": self.function.function.metric_errors(statistic="Sum", period=period),
            },
            period=period,
            label="watcher runs without data, unable to queue, or failed",
        )
        runs = config.watcher_failed_runs_alarm
        # Missing points are the absence of failures, not failures: a run that did not happen at
        # all shows up as the Scheduler's own metrics, not here.
        return page_on(
            self,
            "FailedRuns",
            description=(
                f"For {runs} runs in a row the watcher had no data from Langfuse, could not queue a "
                "request, or failed: prompt regressions are not being detected or acted on. Its "
                "logs say why (the Langfuse error, the queue error)."
            ),
            metric=failed_runs,
            topic=alarm_topic,
            runs_in_a_row=runs,
        )
