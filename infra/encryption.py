"""The stack's customer managed KMS keys, all rotated, and the key-policy statements that let an AWS
service use one on the stack's behalf."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


def rotating_key(
    scope: Construct,
    construct_id: str,
    description: str,
    *,
    removal_policy: RemovalPolicy,
    pending_window: Duration | None = None,
) -> kms.Key:
    return kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal_policy,
        pending_window=pending_window,
    )


def let_service_use_key(
    key: kms.IKey,
    *,
    sid: str,
    service: str,
    actions: list[str],
    conditions: Mapping[str, Any] | None = None,
) -> None:
    """A key-policy statement for the service principal `service` (in a key policy, "*" is this key)."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(service)],
            actions=actions,
            resources=["*"],
            conditions=conditions,
        )
    )
