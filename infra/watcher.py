"""The serverless watcher (opt-in, context key `watcher_enabled`): Langfuse regressions caught with
no Prometheus at all.

EventBridge Scheduler invokes the watcher function every `watcher_schedule_minutes` (5 by
default) with the flexible time window off; the function keeps its `for:` states in its own
DynamoDB table and puts rollback requests on the worker's FIFO queue, shaped like alerts.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import DeploymentConfig
from infra.functions import AppFunction, decrypt_secrets, send_to_encrypted_queue
from infra.monitoring import app_metric
from infra.secrets import AppSecret

WATCHER_HANDLER = "prompt_rollback.watcher.handler.lambda_handler"
# A run is a constant number of Langfuse calls (each with its own 10 s timeout and the SDK's
# retries) plus a handful of DynamoDB and SQS calls; 2 minutes leaves room for a slow Langfuse.
WATCHER_TIMEOUT = Duration.seconds(120)
WATCHER_MEMORY_MB = 256


class Watcher(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        code: lambda_.Code,
        queue: sqs.IQueue,
        queue_key: kms.IKey,
        langfuse_secret: AppSecret,
        secrets_key: kms.IKey,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
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
        self.function = AppFunction(
            self,
            "Watcher",
            description="prompt-rollback watcher: measures Langfuse prompt versions and queues rollbacks",
            handler=WATCHER_HANDLER,
            code=code,
            timeout=WATCHER_TIMEOUT,
            memory_size=WATCHER_MEMORY_MB,
            log_retention=config.log_retention,
            environment={
                "STAGE": config.stage,
                "WATCH_STATE_TABLE_NAME": self.state_table.table_name,
                "ROLLBACK_QUEUE_URL": queue.queue_url,
                "LANGFUSE_SECRET_NAME": langfuse_secret.name,
                "WATCHER_CONFIG": config.watcher_config_json(),
            },
        )
        self.function.allow(
            iam.PolicyStatement(
                sid="KeepForStates",
                # Scan loads every state (one page in practice); Put/Delete are conditional writes.
                actions=["dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem"],
                resources=[self.state_table.table_arn],
            )
        )
        for statement in send_to_encrypted_queue(queue, queue_key):
            self.function.allow(statement)
        self.function.allow(langfuse_secret.read_statement("ReadLangfuseKeys"))
        self.function.allow(decrypt_secrets(secrets_key))

        # The Scheduler's role may invoke this function (not its versions or aliases) and nothing
        # else, and only for schedules of this account (confused-deputy guard).
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description="prompt-rollback: EventBridge Scheduler invokes the watcher",
        )
        self.scheduler_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="InvokeWatcher",
                actions=["lambda:InvokeFunction"],
                resources=[self.function.function.function_arn],
            )
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=f"prompt-rollback {config.stage}: run the watcher",
            schedule=scheduler.ScheduleExpression.rate(Duration.minutes(config.watcher_schedule_minutes)),
            # Off: runs stay evenly spaced, which the `for:` durations are counted in. Overlap is
            # handled by the state table's conditional writes, not by spacing.
            time_window=scheduler.TimeWindow.off(),
            target=targets.LambdaInvoke(
                self.function.function,
                # Immutable for the target: its own grant would add `<function arn>:*` as well.
                role=self.scheduler_role.without_policy_updates(),
                # A missed run is replaced by the next one; a late retry would only overlap it.
                retry_attempts=0,
                max_event_age=Duration.minutes(config.watcher_schedule_minutes),
            ),
        )

        # N runs in a row without data (Langfuse down, 429) or failing outright: no detection.
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
        self.failed_runs_alarm = cloudwatch.Alarm(
            self,
            "FailedRuns",
            alarm_description=(
                f"For {runs} runs in a row the watcher had no data from Langfuse, could not queue a "
                "request, or failed: prompt regressions are not being detected or acted on. Its "
                "logs say why (the Langfuse error, the queue error)."
            ),
            metric=failed_runs,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=runs,
            datapoints_to_alarm=runs,
            # Missing points are the absence of failures, not failures: a run that did not happen
            # at all shows up as the Scheduler's own metrics, not here.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify = cloudwatch_actions.SnsAction(alarm_topic)
        self.failed_runs_alarm.add_alarm_action(notify)
        self.failed_runs_alarm.add_ok_action(notify)
