"""Synthesize the stack once per test session (jsii start-up and synth take a few seconds)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

# Before aws_cdk is imported: the machine's Node 20 would print jsii's end-of-life banner.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App
from aws_cdk.assertions import Template

from infra.application import build_app
from infra.stack import PromptRollbackStack

# Bundling runs pip for every synth; the template tests only need the asset's hash.
SKIP_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: PromptRollbackStack
    template: Template
    json: dict[str, Any]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.resolve(construct.node.default_child.logical_id))


@pytest.fixture(scope="session")
def synthesized() -> Iterator[Synthesized]:
    # The cdk-nag plugin is left out here so a finding fails one test (test_cdk_nag), not all.
    app, stack = build_app(context=SKIP_BUNDLING, nag=False)
    template = Template.from_stack(stack)
    yield Synthesized(app=app, stack=stack, template=template, json=dict(template.to_json()))
