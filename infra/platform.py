"""What the stack's constructs build on, handed to each as one record: the deployment, the function
factory, the application key, the secrets and the ledger; and the worker's queue, which they feed."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs

from infra.audit_ledger import AuditLedger
from infra.config import DeploymentConfig
from infra.functions import FunctionFactory
from infra.permissions import send_to_encrypted_queue
from infra.secrets import AppSecrets


@dataclass(frozen=True)
class Platform:
    """Shared by every construct. `app_key` encrypts the queues, the alarm topic and the secrets."""

    config: DeploymentConfig
    functions: FunctionFactory
    app_key: kms.IKey
    secrets: AppSecrets
    ledger: AuditLedger


@dataclass(frozen=True)
class RollbackQueue:
    """The worker's FIFO queue, on which every source of rollback requests puts its messages."""

    queue: sqs.IQueue
    key: kms.IKey

    @property
    def environment(self) -> dict[str, str]:
        return {"ROLLBACK_QUEUE_URL": self.queue.queue_url}

    def send_statements(self, *, with_sids: bool = True) -> list[iam.PolicyStatement]:
        return send_to_encrypted_queue(self.queue, self.key, with_sids=with_sids)
