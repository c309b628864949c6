"""What the worker may do in Amazon Bedrock and SSM: exactly the calls its adapters make, on exactly
the pointers named in the CDK context (docs/bedrock.md). Nothing configured, no statement."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import DeploymentConfig

# Resource types per action, from the Service Authorization Reference for Amazon Bedrock:
# GetAgentAlias/UpdateAgentAlias on `agent-alias`, ListAgentVersions on `agent`,
# GetFlowAlias/UpdateFlowAlias on `flow-alias`, ListFlowVersions on `flow`, ListPrompts on
# `prompt` (the prompt named by promptIdentifier). The pointers live in the stack's own account
# and region, like the worker.
AGENT_ALIAS_ACTIONS = ["bedrock:GetAgentAlias", "bedrock:UpdateAgentAlias"]
AGENT_VERSION_ACTIONS = ["bedrock:ListAgentVersions"]
FLOW_ALIAS_ACTIONS = ["bedrock:GetFlowAlias", "bedrock:UpdateFlowAlias"]
FLOW_VERSION_ACTIONS = ["bedrock:ListFlowVersions"]
PROMPT_VERSION_ACTIONS = ["bedrock:ListPrompts"]
PROMPT_PARAMETER_ACTIONS = [
    "ssm:GetParameter",
    "ssm:GetParameterHistory",
    "ssm:PutParameter",
    "ssm:LabelParameterVersion",
]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def bedrock_rollback_statements(scope: Construct, config: DeploymentConfig) -> list[iam.PolicyStatement]:
    stack = Stack.of(scope)

    def arn(service: str, resource: str, name: str) -> str:
        return stack.format_arn(
            service=service, resource=resource, resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )

    agent_aliases = [reference.split("/") for reference in config.bedrock_agent_aliases]
    flow_aliases = [reference.split("/") for reference in config.bedrock_flow_aliases]
    agent_alias_arns = [arn("bedrock", "agent-alias", f"{agent}/{alias}") for agent, alias in agent_aliases]
    agent_arns = [arn("bedrock", "agent", agent) for agent, _ in agent_aliases]
    flow_alias_arns = [arn("bedrock", "flow", f"{flow}/alias/{alias}") for flow, alias in flow_aliases]
    flow_arns = [arn("bedrock", "flow", flow) for flow, _ in flow_aliases]
    # The ARN of "/prompts/x" is ...:parameter/prompts/x (one slash), of "x" ...:parameter/x.
    parameter_arns = [arn("ssm", "parameter", name.removeprefix("/")) for name in config.prompt_parameters]
    prompt_arns = [arn("bedrock", "prompt", prompt_id) for prompt_id in config.bedrock_prompt_ids]
    # A statement only where the context names a resource.
    grants = (
        ("RollBackBedrockAgentAliases", AGENT_ALIAS_ACTIONS, agent_alias_arns),
        ("ListBedrockAgentVersions", AGENT_VERSION_ACTIONS, agent_arns),
        ("RollBackBedrockFlowAliases", FLOW_ALIAS_ACTIONS, flow_alias_arns),
        ("ListBedrockFlowVersions", FLOW_VERSION_ACTIONS, flow_arns),
        ("RewriteBedrockPromptPointers", PROMPT_PARAMETER_ACTIONS, parameter_arns),
        ("ListBedrockPromptVersions", PROMPT_VERSION_ACTIONS, prompt_arns),
    )
    return [
        iam.PolicyStatement(sid=sid, actions=actions, resources=_unique(resources))
        for sid, actions, resources in grants
        if resources
    ]
