"""The audit ledger table (docs/architecture.md, "Tables") and the only access the worker gets to it.

Its key schema is the worker's own (lambdas/prompt_rollback/domain/ledger_schema.py), as local mode's is."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct
from prompt_rollback.domain import ledger_schema

from infra.encryption import rotating_key
from infra.permissions import use_key_through

AUDIT_INDEX_NAME = ledger_schema.BY_PROMPT_TIME_INDEX
REQUEST_ID_INDEX_NAME = ledger_schema.BY_REQUEST_ID_INDEX
_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}
_KEY_TYPES = dict(ledger_schema.KEY_ATTRIBUTES)


def _attribute(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPES[_KEY_TYPES[name]])


# What an append-only writer needs. No UpdateItem, DeleteItem, BatchWriteItem or PartiQL writes:
# the hash chain makes tampering detectable, and these permissions make it impossible for the app.
LEDGER_ITEM_ACTIONS = ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query")


class AuditLedger(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # Retained: without the key the retained table is unreadable.
        self.key = rotating_key(
            self, "Key", "prompt-rollback audit ledger table", removal_policy=RemovalPolicy.RETAIN
        )
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=_attribute(ledger_schema.PARTITION_KEY),
            sort_key=_attribute(ledger_schema.SORT_KEY),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
            # Read by the anchors function only (infra/ledger_anchors.py).
            stream=dynamodb.StreamViewType[ledger_schema.STREAM_VIEW_TYPE],
        )
        self.table.add_global_secondary_index(
            index_name=AUDIT_INDEX_NAME,
            partition_key=_attribute(ledger_schema.INDEX_PARTITION_KEY),
            sort_key=_attribute(ledger_schema.INDEX_SORT_KEY),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.table.add_global_secondary_index(
            index_name=REQUEST_ID_INDEX_NAME,
            partition_key=_attribute(ledger_schema.REQUEST_ID_KEY),
            sort_key=_attribute(ledger_schema.SORT_KEY),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )

    @property
    def index_arn(self) -> str:
        return f"{self.table.table_arn}/index/{AUDIT_INDEX_NAME}"

    def rollback_lookup_statements(self) -> list[iam.PolicyStatement]:
        """For the Slack actions function: query the rollback-id index, nothing else."""
        return [
            iam.PolicyStatement(
                sid="FindPromptOfRollbackId",
                actions=["dynamodb:Query"],
                resources=[f"{self.table.table_arn}/index/{REQUEST_ID_INDEX_NAME}"],
            ),
            use_key_through(
                "dynamodb",
                self.key,
                ["kms:Decrypt", "kms:DescribeKey"],
                sid="DecryptAuditIndexThroughDynamoDB",
            ),
        ]

    def append_only_statements(self) -> list[iam.PolicyStatement]:
        """Written out by hand rather than grant_read_write_data, which would allow updates and deletes."""
        return [
            iam.PolicyStatement(
                sid="AppendToAndReadAuditLedger",
                actions=list(LEDGER_ITEM_ACTIONS),
                resources=[self.table.table_arn],
            ),
            iam.PolicyStatement(
                sid="QueryAuditLedgerIndexes",
                actions=["dynamodb:Query"],
                # by time for the auditor; by request id for a request's own records (the guards)
                resources=[self.index_arn, f"{self.table.table_arn}/index/{REQUEST_ID_INDEX_NAME}"],
            ),
            use_key_through(
                "dynamodb",
                self.key,
                ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
                sid="UseAuditLedgerKeyThroughDynamoDB",
            ),
        ]

    def read_only_statements(self) -> list[iam.PolicyStatement]:
        """For the watcher: one prompt's newest records (Query on the table), nothing written."""
        return [
            iam.PolicyStatement(
                sid="ReadAuditLedger",
                actions=["dynamodb:Query"],
                resources=[self.table.table_arn],
            ),
            use_key_through("dynamodb", self.key, ["kms:Decrypt"], sid="ReadAuditLedgerKeyThroughDynamoDB"),
        ]
