"""A Bedrock managed prompt's production pointer: an SSM String parameter holding a prompt-version ARN.
Production is the ARN's version (during a rollout, the JSON's stable one: docs/rollout.md); the history
says which versions held it before. A rollback is a new parameter version labelled `last-rollback`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prompt_rollback.adapters.aws_errors import all_items, call_aws
from prompt_rollback.domain.bedrock_rollout import PromptPointerValue, parse_pointer_value
from prompt_rollback.domain.bedrock_targets import (
    PromptArn,
    PromptParameterTarget,
    parse_prompt_arn,
    version_number,
)
from prompt_rollback.domain.policy import RegistryState
from prompt_rollback.errors import RegistryError, RegistryRejected
from prompt_rollback.observability import logger
from prompt_rollback.ports import RolloutPointer

if TYPE_CHECKING:
    from mypy_boto3_bedrock_agent import AgentsforBedrockClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_ssm.type_defs import ParameterHistoryTypeDef, ParameterTypeDef

# One label that moves, not one per rollback: SSM refuses every further PutParameter once the
# oldest of a parameter's 100 versions carries a label, and a label per rollback would get there.
ROLLBACK_LABEL = "last-rollback"
_HISTORY_PAGE_SIZE = 50  # GetParameterHistory's maximum
_LIST_PAGE_SIZE = 100


def _stable_arn(text: str) -> PromptArn | None:
    """The production ARN an old parameter value held (a rollout's stable one), None if neither."""
    if not text.strip().startswith("{"):
        return parse_prompt_arn(text)  # a plain ARN, the DRAFT's (no version) included
    try:
        value = parse_pointer_value(text)
    except ValueError:
        return None
    return parse_prompt_arn(value.arn(value.stable_version))


class BedrockPromptPointerRegistry:
    def __init__(self, ssm: SSMClient, bedrock_agent: AgentsforBedrockClient) -> None:
        self._ssm = ssm
        self._bedrock_agent = bedrock_agent

    def _pointer(self, target: PromptParameterTarget) -> tuple[ParameterTypeDef, PromptArn]:
        name = target.parameter_name
        parameter = call_aws(f"GetParameter {name}", self._ssm.get_parameter, Name=name)["Parameter"]
        if parameter["Type"] != "String":
            # A prompt ARN is no secret; a SecureString would also need kms:Decrypt we do not grant.
            raise RegistryRejected(f"{target} is a {parameter['Type']}; the prompt pointer must be a String")
        current = _stable_arn(parameter["Value"])
        if current is None:
            raise RegistryRejected(f"{target} does not hold a Bedrock prompt ARN")
        region = self._bedrock_agent.meta.region_name
        if current.region != region:
            raise RegistryRejected(
                f"{target} points at a prompt in {current.region}; the worker runs in {region}"
            )
        return parameter, current

    def _existing_versions(self, prompt_id: str) -> frozenset[int]:
        summaries = all_items(
            f"ListPrompts prompt {prompt_id}",
            self._bedrock_agent,
            "list_prompts",
            "promptSummaries",
            _LIST_PAGE_SIZE,
            promptIdentifier=prompt_id,
        )
        return frozenset(
            version
            for summary in summaries
            # None for DRAFT; ListPrompts with an identifier lists that prompt's versions only.
            if (version := version_number(summary["version"])) is not None and summary["id"] == prompt_id
        )

    def _earlier_production(
        self, target: PromptParameterTarget, current: PromptArn, current_parameter_version: int
    ) -> tuple[int, ...]:
        """Prompt versions that earlier versions of the parameter pointed at, newest first (each once)."""
        entries: list[ParameterHistoryTypeDef] = all_items(
            f"GetParameterHistory {target.parameter_name}",
            self._ssm,
            "get_parameter_history",
            "Parameters",
            _HISTORY_PAGE_SIZE,
            Name=target.parameter_name,
        )
        history: list[tuple[int, int]] = []  # (parameter version, prompt version)
        for entry in entries:
            pointed = _stable_arn(entry.get("Value", ""))
            # Another prompt's versions (the parameter was repointed) are no target here.
            if (
                pointed is not None
                and pointed.prompt_id == current.prompt_id
                and pointed.version is not None
                and entry.get("Version") != current_parameter_version
            ):
                history.append((entry.get("Version", 0), pointed.version))
        earlier: list[int] = []
        for _, version in sorted(history, reverse=True):
            if version not in earlier:
                earlier.append(version)
        return tuple(earlier)

    def read_state(self, target: PromptParameterTarget) -> RegistryState:
        parameter, current = self._pointer(target)
        return RegistryState(
            production_version=current.version,
            versions=self._existing_versions(current.prompt_id),
            previous_production=self._earlier_production(target, current, parameter["Version"]),
        )

    def read_production(self, target: PromptParameterTarget) -> int | None:
        return self._pointer(target)[1].version

    def move_production(self, target: PromptParameterTarget, version: int) -> str:
        name = target.parameter_name
        _, current = self._pointer(target)
        written = call_aws(
            f"PutParameter {name}",
            self._ssm.put_parameter,
            Name=name,
            Value=current.at_version(version),
            Overwrite=True,
        )
        try:
            labelled = call_aws(
                f"LabelParameterVersion {name}",
                self._ssm.label_parameter_version,
                Name=name,
                ParameterVersion=written["Version"],
                Labels=[ROLLBACK_LABEL],
            )
            if labelled.get("InvalidLabels"):
                logger.warning(
                    "label refused", extra={"parameter": name, "labels": labelled["InvalidLabels"]}
                )
        except RegistryError as error:
            # The pointer has moved, which is what matters; the label only makes the version easy
            # to spot in the console. Failing here would retry a rollback that already happened.
            logger.warning("could not label the rolled-back parameter version", extra={"error": str(error)})
        return written["ResponseMetadata"]["RequestId"]

    # ---- progressive delivery: the split in the pointer's value (domain/bedrock_rollout.py) ---------
    def _write(self, target: PromptParameterTarget, value: PromptPointerValue) -> None:
        name = target.parameter_name
        call_aws(
            f"PutParameter {name}", self._ssm.put_parameter, Name=name, Value=value.to_text(), Overwrite=True
        )

    def read_rollout(self, target: PromptParameterTarget) -> RolloutPointer:
        parameter, current = self._pointer(target)
        value = parse_pointer_value(parameter["Value"])
        return RolloutPointer(
            production=value.stable_version,
            versions=self._existing_versions(current.prompt_id),
            candidate=value.candidate_version,
            share=value.share if value.candidate_version is not None else 0,
        )

    def split(self, target: PromptParameterTarget, stable: int, candidate: int, share: int) -> None:
        _, current = self._pointer(target)
        self._write(target, PromptPointerValue(current, stable, candidate, share))

    def unsplit(self, target: PromptParameterTarget, stable: int) -> None:
        _, current = self._pointer(target)
        self._write(target, PromptPointerValue(current, stable))
