"""Bedrock answers for botocore's Stubber, shaped by the real bedrock-agent service model.

moto implements no agent or flow aliases, so the tests stub a real `bedrock-agent` client:
Stubber checks every request against the model (required members, types, unknown keys) and
against the parameters the test expects, and every canned answer against the output shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

REGION = "us-east-1"
ACCOUNT = "123456789012"
AGENT_ID = "AGENT12345"
FLOW_ID = "FLOW123456"
ALIAS_ID = "ALIAS12345"
PROMPT_ID = "PROMPT1234"
CREATED = datetime(2026, 4, 1, tzinfo=UTC)


def bedrock_agent_client() -> Any:
    return boto3.client(
        "bedrock-agent", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def ssm_client() -> Any:
    return boto3.client(
        "ssm", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def request_id(value: str) -> dict[str, Any]:
    return {"RequestId": value, "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}


def agent_alias(
    version: str,
    status: str = "PREPARED",
    history: list[tuple[str, datetime]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """GetAgentAlias's answer; `history` is (version, start) of earlier routings."""
    alias: dict[str, Any] = {
        "agentId": AGENT_ID,
        "agentAliasId": ALIAS_ID,
        "agentAliasName": "production",
        "agentAliasArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent-alias/{AGENT_ID}/{ALIAS_ID}",
        "routingConfiguration": [{"agentVersion": version}],
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "agentAliasStatus": status,
        **extra,
    }
    if history is not None:
        alias["agentAliasHistoryEvents"] = [
            {
                "routingConfiguration": [{"agentVersion": routed}],
                "startDate": start,
                "endDate": start + timedelta(days=1),
            }
            for routed, start in history
        ]
    return {"agentAlias": alias}


def agent_versions(*versions: str | tuple[str, str], next_token: str | None = None) -> dict[str, Any]:
    """ListAgentVersions's answer; a plain version is PREPARED, a (version, status) pair is not."""
    summaries = []
    for entry in versions:
        version, status = entry if isinstance(entry, tuple) else (entry, "PREPARED")
        summaries.append(
            {
                "agentName": "support",
                "agentStatus": status,
                "agentVersion": version,
                "createdAt": CREATED,
                "updatedAt": CREATED,
            }
        )
    answer: dict[str, Any] = {"agentVersionSummaries": summaries}
    if next_token:
        answer["nextToken"] = next_token
    return answer


def flow_alias(version: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "production",
        "routingConfiguration": [{"flowVersion": version}],
        "flowId": FLOW_ID,
        "id": ALIAS_ID,
        "arn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:flow/{FLOW_ID}/alias/{ALIAS_ID}",
        "createdAt": CREATED,
        "updatedAt": CREATED,
        **extra,
    }


def flow_versions(*versions: str | tuple[str, str], next_token: str | None = None) -> dict[str, Any]:
    summaries = []
    for entry in versions:
        version, status = entry if isinstance(entry, tuple) else (entry, "Prepared")
        summaries.append(
            {
                "id": FLOW_ID,
                "arn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:flow/{FLOW_ID}",
                "status": status,
                "createdAt": CREATED,
                "version": version,
            }
        )
    answer: dict[str, Any] = {"flowVersionSummaries": summaries}
    if next_token:
        answer["nextToken"] = next_token
    return answer


def prompt_arn(version: int | None = None, prompt_id: str = PROMPT_ID) -> str:
    base = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:prompt/{prompt_id}"
    return base if version is None else f"{base}:{version}"


def prompt_versions(*versions: str, next_token: str | None = None) -> dict[str, Any]:
    """ListPrompts(promptIdentifier=...)'s answer: the DRAFT and the numbered versions."""
    answer: dict[str, Any] = {
        "promptSummaries": [
            {
                "name": "support-answer",
                "id": PROMPT_ID,
                "arn": prompt_arn(None if version == "DRAFT" else int(version)),
                "version": version,
                "createdAt": CREATED,
                "updatedAt": CREATED,
            }
            for version in versions
        ]
    }
    if next_token:
        answer["nextToken"] = next_token
    return answer


@dataclass
class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
