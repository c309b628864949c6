"""CloudTrail evidence: who wrote to the audit ledger, who invoked the functions, who read the
secrets, kept in an Object Lock (COMPLIANCE) bucket that nobody, root included, can shorten or
delete before the retention ends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import DeploymentConfig
from infra.encryption import let_service_use_key, rotating_key
from infra.functions import AppFunction
from infra.nag import acknowledge
from infra.permissions import use_key_through

ARCHIVE_AFTER = Duration.days(90)
# Chain heads of the audit ledger, one write-once object per (prompt, seq)
# (prompt_rollback.adapters.chain_anchor).
ANCHOR_PREFIX = "ledger-anchors/"
ACCESS_LOG_EXPIRY = Duration.days(400)


def _field(field: str, equals: Sequence[str]) -> cloudtrail.CfnTrail.AdvancedFieldSelectorProperty:
    return cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field=field, equal_to=list(equals))


def _data_events(
    name: str, resource_type: str, arns: Sequence[str]
) -> cloudtrail.CfnTrail.AdvancedEventSelectorProperty:
    return cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
        name=name,
        field_selectors=[
            _field("eventCategory", ["Data"]),
            _field("resources.type", [resource_type]),
            _field("resources.ARN", arns),
        ],
    )


class AuditTrail(Construct):
    """Data events carry DynamoDB item-level calls on the ledger and Lambda Invoke of the functions
    (a forced rollback by hand shows up there). Management events (Secrets Manager GetSecretValue,
    the Bedrock and SSM pointer changes) are recorded here only with `trail_management_events`; by
    default the organisation trail is expected to hold them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        ledger_table: dynamodb.ITable,
        functions: Sequence[lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        trail_name = f"prompt-rollback-{config.stage}-audit"
        self.key = rotating_key(
            self,
            "Key",
            f"prompt-rollback {config.stage} CloudTrail log files",
            removal_policy=RemovalPolicy.RETAIN,
        )
        self._let_cloudtrail_use_key(trail_name)
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            # S3 server access logging can only deliver to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=ACCESS_LOG_EXPIRY,
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # No server access logging of its own (it would log every log delivery); cdk-nag's S1
        # accepts that for a bucket that is the access-log target of another bucket.
        self.bucket = self._trail_bucket(config)
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=self.bucket,
            encryption_key=self.key,
            enable_file_validation=True,
            include_global_service_events=True,
            # The application and its secrets live in one region.
            is_multi_region_trail=False,
        )
        self._select_events(config, ledger_table, functions)

    def _let_cloudtrail_use_key(self, trail_name: str) -> None:
        # Built from the name, not taken from the trail: the key policy must exist before the trail.
        trail_arn = f"arn:{Aws.PARTITION}:cloudtrail:{Aws.REGION}:{Aws.ACCOUNT_ID}:trail/{trail_name}"
        this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
        any_own_trail = f"arn:{Aws.PARTITION}:cloudtrail:*:{Aws.ACCOUNT_ID}:trail/*"
        own_trails = {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": any_own_trail}}
        for sid, action, conditions in (
            ("CloudTrailEncryptsThisTrailsLogFiles", "kms:GenerateDataKey*", {**this_trail, **own_trails}),
            ("CloudTrailDescribesKey", "kms:DescribeKey", this_trail),
        ):
            let_service_use_key(
                self.key, sid=sid, service="cloudtrail.amazonaws.com", actions=[action], conditions=conditions
            )

    def _trail_bucket(self, config: DeploymentConfig) -> s3.Bucket:
        return s3.Bucket(
            self,
            "TrailBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            # Off on purpose: CloudTrail's key-policy condition is on the trail's encryption
            # context, which an S3 Bucket Key would replace with the bucket's.
            bucket_key_enabled=False,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(
                Duration.days(config.audit_log_retention_days)
            ),
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="cloudtrail-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ArchiveTrailFiles",
                    # Instant Retrieval, not Flexible: `aws cloudtrail validate-logs` must still be
                    # able to read old log and digest files without a restore.
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=ARCHIVE_AFTER,
                        )
                    ],
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _select_events(
        self, config: DeploymentConfig, ledger_table: dynamodb.ITable, functions: Sequence[lambda_.IFunction]
    ) -> None:
        # The L2 Trail only knows basic selectors for S3 objects and Lambda functions; DynamoDB
        # data events need advanced selectors, and a trail cannot mix both kinds.
        cfn_trail = self.trail.node.default_child
        assert isinstance(cfn_trail, cloudtrail.CfnTrail)
        cfn_trail.add_property_deletion_override("EventSelectors")
        management = [
            cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
                name="Management events (includes Secrets Manager GetSecretValue)",
                field_selectors=[_field("eventCategory", ["Management"])],
            )
        ]
        # Off by default: a second trail's management events are billed, and most organisations
        # already have an organisation trail recording them (which also feeds EventBridge).
        cfn_trail.advanced_event_selectors = [
            *(management if config.trail_management_events else []),
            _data_events("Audit ledger item-level calls", "AWS::DynamoDB::Table", [ledger_table.table_arn]),
            _data_events(
                "prompt-rollback function invocations",
                "AWS::Lambda::Function",
                [function.function_arn for function in functions],
            ),
        ]

    def allow_anchoring(self, function: AppFunction) -> None:
        """Let the anchors function put chain-head objects under the anchor prefix, and read one back
        when S3 refuses to overwrite it (If-None-Match), and nothing else.

        No s3:DeleteObject, no retention or legal-hold calls: under COMPLIANCE retention nobody
        could shorten them anyway, and without them the role cannot even try.
        """
        function.function.add_environment("ANCHOR_BUCKET_NAME", self.bucket.bucket_name)
        function.allow(
            iam.PolicyStatement(
                sid="AnchorLedgerChainHeads",
                actions=["s3:PutObject", "s3:GetObject"],
                resources=[self.bucket.arn_for_objects(f"{ANCHOR_PREFIX}*")],
            )
        )
        bucket_id = Stack.of(self).get_logical_id(cast(s3.CfnBucket, self.bucket.node.default_child))
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{ANCHOR_PREFIX}*]",
            "Anchor objects are named by prompt and sequence number, which are only known at run time; "
            "the wildcard is limited to the anchor prefix and to s3:PutObject and s3:GetObject.",
        )
        function.allow(
            use_key_through(
                "s3", self.key, ["kms:GenerateDataKey", "kms:Decrypt"], sid="EncryptAnchorsThroughS3"
            )
        )
