"""Amazon Bedrock as one prompt registry (provider "bedrock") over its three kinds of pointer,
each with its own small adapter; the request's target labels say which (docs/bedrock.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from prompt_rollback.adapters.bedrock_agent_registry import BedrockAgentAliasRegistry
from prompt_rollback.adapters.bedrock_flow_registry import BedrockFlowAliasRegistry
from prompt_rollback.adapters.bedrock_prompt_pointer_registry import BedrockPromptPointerRegistry
from prompt_rollback.domain.bedrock_rollout import UnsplittableTarget, rollout_target
from prompt_rollback.domain.bedrock_targets import (
    AgentAliasTarget,
    BedrockTarget,
    FlowAliasTarget,
    PromptParameterTarget,
    bedrock_target,
)
from prompt_rollback.domain.policy import RegistryState
from prompt_rollback.errors import RegistryRejected
from prompt_rollback.ports import PromptRef, RolloutPointer


def target_of(ref: PromptRef) -> BedrockTarget:
    target = bedrock_target(ref.target)
    if isinstance(target, str):
        # The webhook skips such alerts; this is a forced rollback (or an old message) without them.
        raise RegistryRejected(f"{ref.name}: {target}")
    return target


Target = TypeVar("Target", AgentAliasTarget, FlowAliasTarget, PromptParameterTarget)
Target_contra = TypeVar("Target_contra", contravariant=True)


class _PointerAdapter(Protocol[Target_contra]):
    """What each kind of pointer's adapter does for its own kind of target."""

    def read_state(self, target: Target_contra) -> RegistryState: ...

    def read_production(self, target: Target_contra) -> int | None: ...

    def move_production(self, target: Target_contra, version: int) -> str: ...


@dataclass(frozen=True)
class _Pointer(Generic[Target]):
    """One target with the adapter of its kind."""

    adapter: _PointerAdapter[Target]
    target: Target

    def read_state(self) -> RegistryState:
        return self.adapter.read_state(self.target)

    def read_production(self) -> int | None:
        return self.adapter.read_production(self.target)

    def move_production(self, version: int) -> str:
        return self.adapter.move_production(self.target, version)


class BedrockRegistry:
    """The `PromptRegistry` port for provider "bedrock": each call goes to the pointer's adapter."""

    provider = "bedrock"

    def __init__(
        self,
        agent_aliases: BedrockAgentAliasRegistry,
        flow_aliases: BedrockFlowAliasRegistry,
        prompt_pointers: BedrockPromptPointerRegistry,
    ) -> None:
        self._agent_aliases = agent_aliases
        self._flow_aliases = flow_aliases
        self._prompt_pointers = prompt_pointers

    def _pointer(
        self, ref: PromptRef
    ) -> _Pointer[AgentAliasTarget] | _Pointer[FlowAliasTarget] | _Pointer[PromptParameterTarget]:
        target = target_of(ref)
        if isinstance(target, AgentAliasTarget):
            return _Pointer(self._agent_aliases, target)
        if isinstance(target, FlowAliasTarget):
            return _Pointer(self._flow_aliases, target)
        return _Pointer(self._prompt_pointers, target)

    def read_state(self, ref: PromptRef) -> RegistryState:
        return self._pointer(ref).read_state()

    def read_production(self, ref: PromptRef) -> int | None:
        return self._pointer(ref).read_production()

    def move_production(self, ref: PromptRef, version: int) -> str:
        return self._pointer(ref).move_production(version)

    # ---- progressive delivery: only the SSM prompt pointer can split -----------------------------
    def _splittable(self, ref: PromptRef) -> PromptParameterTarget:
        try:
            return rollout_target(ref.target)
        except UnsplittableTarget as error:
            raise RegistryRejected(str(error)) from error

    def read_rollout(self, ref: PromptRef, candidate_label: str) -> RolloutPointer:
        return self._prompt_pointers.read_rollout(self._splittable(ref))

    def split(self, ref: PromptRef, stable: int, candidate: int, share: int, candidate_label: str) -> None:
        self._prompt_pointers.split(self._splittable(ref), stable, candidate, share)

    def unsplit(self, ref: PromptRef, stable: int, candidate_label: str) -> None:
        self._prompt_pointers.unsplit(self._splittable(ref), stable)
