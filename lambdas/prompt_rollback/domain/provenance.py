"""What vouches for a person's action that reached the worker (a Slack signature, or IAM plus the
approvers list), and the ids that join its audit record to CloudTrail."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Authority(StrEnum):
    # Queued by the Slack actions function, which verified Slack's signature: the SQS SenderId
    # of the message is that function's role.
    SLACK_SIGNATURE = "slack_signature"
    # Invoked directly (the CLI): IAM's lambda:InvokeFunction on the worker let the caller in, and
    # the actor they named is an approver of the prompt. Lambda does not show the caller's identity.
    IAM_INVOKE_AND_APPROVERS = "iam_invoke_and_approvers"
    # A forced rollback (`cli rollback`): IAM's lambda:InvokeFunction on the worker is the gate.
    IAM_INVOKE = "iam_invoke"
    # Neither: a click put on the queue by someone other than the Slack actions function.
    UNVERIFIED = "unverified"


class Provenance(BaseModel):
    """How one person's action came in; stored on each record it leads to."""

    # defer_build: a function imports many more models than it validates; each is built when first used.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    authority: Authority
    # The worker invocation's request id: CloudTrail's data events name it for every ledger write.
    lambda_request_id: str = Field(default="", max_length=100)
    # The SQS SenderId (role id and session name) of a queued action; "" where Lambda shows none.
    caller: str = Field(default="", max_length=200)

    @property
    def verified(self) -> bool:
        return self.authority is not Authority.UNVERIFIED


def sent_by_role(sender_id: str, role_id: str) -> bool:
    """SQS names an assumed role's sender `<role unique id>:<session>` (`AROA…:function-name` for a
    Lambda function): compare the role's id, which is never reused for another role."""
    return bool(role_id) and sender_id.partition(":")[0] == role_id
