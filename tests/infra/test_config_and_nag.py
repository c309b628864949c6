"""cdk-nag passes with a reason for every exception; bad configuration stops synth with a clear error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks

from infra.application import build_app, cdk_json_context
from infra.config import DeploymentConfig, InvalidDeploymentConfig
from tests.infra.conftest import SKIP_BUNDLING, Synthesized


def test_cdk_nag_aws_solutions_passes(synthesized: Synthesized) -> None:
    report = AwsSolutionsChecks(synthesized.app).validate_scope(synthesized.app)
    findings = [
        f"{violation.rule_name}: {[r.construct_path for r in violation.violating_resources]}"
        for violation in report.violations
    ]
    assert report.success, "\n".join(findings)


def test_every_acknowledgement_says_why(synthesized: Synthesized) -> None:
    acknowledged: dict[str, str] = {}
    for construct in synthesized.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule_id, reason in dict(entry.data).items():
                    acknowledged[f"{construct.node.path}: {rule_id}"] = str(reason)
    assert acknowledged, "expected the documented exceptions (APIG4, COG4, SMG4, IAM5 for X-Ray...)"
    for where, reason in acknowledged.items():
        assert len(reason.split()) >= 8, f"{where} needs a real reason, got {reason!r}"
    rules = {where.split(": ", 1)[1].removeprefix("Annotation::") for where in acknowledged}
    bucket_id = synthesized.logical_id(synthesized.stack.trail.bucket)
    # The anchors function puts chain-head anchors named by prompt and seq (infra/audit_trail.py).
    rules.discard(f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/ledger-anchors/*]")
    assert rules == {
        "AwsSolutions-APIG3",
        "AwsSolutions-APIG4",
        "AwsSolutions-COG4",
        "AwsSolutions-SMG4",
        # Dead-letter queues that are targets or destinations, not redrive policies: alert events,
        # the CloudTrail change recorder, the watcher, the recovery checks, the anchors stream.
        "AwsSolutions-SQS3",
        # X-Ray's policy of each function, and dynamodb:ListStreams of the anchors role.
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:*]",
        # one one-shot recovery-check schedule per rollback, in this stack's group (infra/stack.py)
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:"
        "schedule/<RecoveryChecksGroupDF46FF8F>/*]",
    }


@pytest.mark.parametrize(
    ("override", "expected_in_message"),
    [
        ({"cooldown_minutes": -5}, "cooldown_minutes"),
        ({"cooldown_minutes": -5}, "greater than or equal to 0"),
        ({"alarm_email": "oncall-at-example.com"}, "is not an email address"),
        ({"stage": "Prod Stage"}, "stage"),
        ({"allowed_prompts": []}, "allowed_prompts"),
        ({"langfuse_host": "http://langfuse.internal"}, "must be an https:// URL"),
        ({"log_retention_days": 42}, "is not a CloudWatch Logs retention"),
        ({"max_rollbacks_per_day": "lots"}, "max_rollbacks_per_day"),
        ({"prompt_overrides": {"financial-*": {"cooldown": 5}}}, "Extra inputs are not permitted"),
        ({"audit_log_retention_days": 0}, "audit_log_retention_days"),
        ({"dry_run": False}, "dry_run=false needs amp_workspace_arn"),
        ({"api_route_throttles": {"alert": {"rate_limit": 1, "burst_limit": 1}}}, "['alert'] are not routes"),
        ({"alerts_allowed_cidrs": ["203.0.113.0/33"]}, "alerts_allowed_cidrs"),
        ({"cloudwatch_alarm_name_prefix": ""}, "cloudwatch_alarm_name_prefix"),
    ],
)
def test_bad_configuration_fails_synth_with_a_clear_error(
    override: dict[str, Any], expected_in_message: str
) -> None:
    with pytest.raises(InvalidDeploymentConfig) as raised:
        build_app(context={**SKIP_BUNDLING, **override}, nag=False)
    assert expected_in_message in str(raised.value)
    assert "cdk.json" in str(raised.value)


def cdk_json_config() -> dict[str, Any]:
    context = cdk_json_context()
    return {key: context[key] for key in DeploymentConfig.context_keys()}


def test_command_line_strings_are_understood() -> None:
    # `npx cdk deploy -c dry_run=false -c allowed_prompts=support-*,search-*` passes strings.
    config = DeploymentConfig.model_validate(
        {
            **cdk_json_config(),
            "dry_run": "false",
            "amp_workspace_arn": "arn:aws:aps:us-east-1:123456789012:workspace/ws-0123abcd",
            "allowed_prompts": "support-*, search-*",
            "cooldown_minutes": "15",
            "prompt_overrides": '{"support-*": {"dry_run": true}}',
        }
    )
    assert config.dry_run is False
    assert config.allowed_prompts == ["support-*", "search-*"]
    assert config.cooldown_minutes == 15
    assert config.alarm_email is None  # "" in cdk.json means no subscription
    assert config.prompt_overrides["support-*"].dry_run is True
    assert DeploymentConfig.model_validate(
        {**cdk_json_config(), "allowed_prompts": '["a*"]'}
    ).allowed_prompts == ["a*"]


def test_rollback_policy_is_what_the_worker_accepts() -> None:
    """Cross-check with the worker's own model, so infra and Lambda cannot drift apart."""
    policy_config = pytest.importorskip("prompt_rollback.domain.policy_config")
    config = DeploymentConfig.model_validate(
        {
            **cdk_json_config(),
            "dry_run": False,
            "amp_workspace_arn": "arn:aws:aps:us-east-1:123456789012:workspace/ws-0123abcd",
            "allowed_prompts": ["support-*", "search-?"],
            "prompt_overrides": {
                "support-billing": {"dry_run": True},
                "support-*": {"cooldown_minutes": 120, "max_rollbacks_per_day": 1},
            },
        }
    )
    parsed = policy_config.PolicyConfig.model_validate_json(config.rollback_policy_json())
    assert parsed.allows("support-answer")
    assert not parsed.allows("other")
    assert list(parsed.prompts) == ["support-billing", "support-*"]  # order decides the first match
    assert parsed.guards_for("support-billing").dry_run is True
    assert parsed.guards_for("support-answer").max_rollbacks_per_day == 1
    assert json.loads(config.rollback_policy_json())["prompts"]["support-billing"] == {"dry_run": True}
