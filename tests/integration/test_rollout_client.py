"""The client library `prompt_rollout` with the real `langfuse` SDK over HTTP to the embedded
Langfuse-compatible server: arms, steps, abort, promotion, the SDK's cache and the calls it costs."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from langfuse import Langfuse
from prompt_rollout import rollout_prompt, unit_arm

from local_mode.langfuse_server import LangfuseCompatibleServer, seed_demo_prompt
from tests.rollout.vectors import ASSIGNMENTS

PROMPT = "support-answer"
CLIENT_ROOT = Path(__file__).resolve().parents[2] / "clients" / "python"


@dataclass
class Project:
    server: LangfuseCompatibleServer
    langfuse: Langfuse

    def add_candidate(self, *labels: str) -> int:
        created = self.server.store.create(PROMPT, "Answer briefly and kindly: {{question}}", labels=labels)
        return int(created["version"])

    def move(self, version: int, *labels: str) -> None:
        """A label move made elsewhere (the controller, the UI): this process's cache does not know."""
        self.server.store.set_labels(PROMPT, version, list(labels))

    def prompt_gets(self) -> int:
        return sum(1 for method, path in self.server.app.requests if method == "GET" and PROMPT in path)


@pytest.fixture
def project() -> Iterator[Project]:
    # The SDK shares its prompt cache per public key across the process: one key per test.
    key = uuid.uuid4().hex[:12]
    with LangfuseCompatibleServer(public_key=f"pk-lf-{key}", secret_key=f"sk-lf-{key}") as server:
        seed_demo_prompt(server.store)  # v7 in production
        langfuse = Langfuse(
            public_key=server.public_key, secret_key=server.secret_key, host=server.url, tracing_enabled=False
        )
        yield Project(server, langfuse)
        langfuse.shutdown()


def test_without_a_candidate_everyone_gets_production_for_two_calls_per_ttl(project: Project):
    started = time.monotonic()
    served = [rollout_prompt(project.langfuse, PROMPT, unit=f"user-{i}") for i in range(1000)]
    elapsed = time.monotonic() - started
    assert {(p.arm, p.version, p.share, p.candidate_version) for p in served} == {("stable", 7, 0, None)}
    assert served[0].compile(question="Where is my order?") == "Be brief. Where is my order?"
    # One GET for production, one 404 for `canary` (remembered for the TTL): not one per request,
    # and no retry of the 404 (the SDK retries every error a second apart).
    assert project.prompt_gets() == 2
    assert elapsed < 1.5


def test_a_client_object_per_request_shares_the_project_cache(project: Project):
    server = project.server
    for i in range(50):
        # What `langfuse.get_client()` does: a new client object over the project's shared resources.
        langfuse = Langfuse(
            public_key=server.public_key, secret_key=server.secret_key, host=server.url, tracing_enabled=False
        )
        assert rollout_prompt(langfuse, PROMPT, unit=f"user-{i}").version == 7
    assert project.prompt_gets() == 2


def test_units_are_served_the_arm_of_the_shared_vectors_at_every_step(project: Project):
    candidate = project.add_candidate("canary")
    assert candidate == 8  # the vectors' candidate version
    for share in (5, 25, 50):
        project.langfuse.update_prompt(name=PROMPT, version=candidate, new_labels=[f"canary-{share}"])
        vectors = [v for v in ASSIGNMENTS if (v["prompt"], v["version"], v["share"]) == (PROMPT, 8, share)]
        assert len(vectors) >= 4
        for vector in vectors:
            served = rollout_prompt(project.langfuse, PROMPT, unit=vector["unit"])
            assert (served.arm, served.share, served.sticky) == (vector["arm"], share, True)
            assert served.version == (8 if vector["arm"] == "candidate" else 7)


def test_a_unit_in_at_five_percent_stays_in_as_the_share_grows(project: Project):
    candidate = project.add_candidate("canary", "canary-5")
    units = [f"session-{i}" for i in range(400)]
    at_5 = {u for u in units if rollout_prompt(project.langfuse, PROMPT, unit=u).arm == "candidate"}
    project.langfuse.update_prompt(name=PROMPT, version=candidate, new_labels=["canary-25"])
    at_25 = {u for u in units if rollout_prompt(project.langfuse, PROMPT, unit=u).arm == "candidate"}
    assert at_5 and at_5 < at_25
    assert 0.02 < len(at_5) / len(units) < 0.09
    assert 0.19 < len(at_25) / len(units) < 0.31


def test_an_abort_serves_stable_to_everyone(project: Project):
    project.add_candidate("canary", "canary-5", "canary-25")
    project.langfuse.update_prompt(name=PROMPT, version=7, new_labels=["canary"])  # the abort
    served = [rollout_prompt(project.langfuse, PROMPT, unit=f"user-{i}") for i in range(200)]
    assert {(p.arm, p.version, p.share, p.candidate_version) for p in served} == {("stable", 7, 0, None)}


def test_a_promotion_serves_the_candidate_to_everyone(project: Project):
    candidate = project.add_candidate("canary", "canary-5", "canary-50")
    project.langfuse.update_prompt(name=PROMPT, version=candidate, new_labels=["production"])
    served = [rollout_prompt(project.langfuse, PROMPT, unit=f"user-{i}") for i in range(200)]
    assert {(p.arm, p.version) for p in served} == {("stable", candidate)}


def test_without_a_unit_each_request_is_drawn_and_the_result_says_so(project: Project):
    project.add_candidate("canary", "canary-50")
    served = [rollout_prompt(project.langfuse, PROMPT) for _ in range(400)]
    assert not any(p.sticky for p in served)
    assert 140 < sum(p.arm == "candidate" for p in served) < 260


def test_a_configured_candidate_label(project: Project):
    candidate = project.add_candidate("beta", "beta-99", "canary", "canary-1")
    unit = next(
        u for u in (f"user-{i}" for i in range(100)) if unit_arm(PROMPT, candidate, u, 99) == "candidate"
    )
    served = rollout_prompt(project.langfuse, PROMPT, unit=unit, candidate_label="beta")
    assert (served.arm, served.share, served.version) == ("candidate", 99, candidate)


def test_a_step_made_elsewhere_arrives_within_one_cache_ttl(project: Project):
    candidate = project.add_candidate("canary", "canary-5")
    unit = next(
        u
        for u in (f"user-{i}" for i in range(400))
        if unit_arm(PROMPT, candidate, u, 5) == "stable" and unit_arm(PROMPT, candidate, u, 50) == "candidate"
    )
    assert rollout_prompt(project.langfuse, PROMPT, unit=unit, cache_ttl_seconds=1).arm == "stable"
    project.move(candidate, "canary-50")
    assert rollout_prompt(project.langfuse, PROMPT, unit=unit, cache_ttl_seconds=1).share == 5  # cached
    time.sleep(1.1)
    # Stale while revalidating: the SDK answers from its cache and refreshes in the background.
    rollout_prompt(project.langfuse, PROMPT, unit=unit, cache_ttl_seconds=1)
    deadline = time.monotonic() + 5
    while rollout_prompt(project.langfuse, PROMPT, unit=unit, cache_ttl_seconds=1).share != 50:
        assert time.monotonic() < deadline, "the step never arrived"
        time.sleep(0.05)
    assert rollout_prompt(project.langfuse, PROMPT, unit=unit, cache_ttl_seconds=1).arm == "candidate"


def test_a_candidate_that_cannot_be_read_serves_stable_with_a_warning(project: Project, caplog):
    project.add_candidate("canary", "canary-99")
    project.langfuse.get_prompt(PROMPT, label="production")  # stable cached, the candidate not yet
    project.server.app.fail_next(503, count=10, methods=("GET",))
    with caplog.at_level(logging.WARNING, logger="prompt_rollout"):
        served = rollout_prompt(project.langfuse, PROMPT, unit="user-1")
    assert (served.arm, served.version) == ("stable", 7)
    assert "serving stable: the candidate of 'support-answer' could not be read" in caplog.text


def test_a_stable_prompt_that_cannot_be_read_raises_as_get_prompt_does(project: Project):
    with pytest.raises(Exception, match="not found"):
        rollout_prompt(project.langfuse, "no-such-prompt", unit="user-1")


# --- the distribution -------------------------------------------------------------------------


def test_the_client_depends_on_the_langfuse_sdk_only():
    project = tomllib.loads((CLIENT_ROOT / "pyproject.toml").read_text())["project"]
    assert [dependency.split(">")[0] for dependency in project["dependencies"]] == ["langfuse"]
    sources = "\n".join(path.read_text() for path in (CLIENT_ROOT / "src").rglob("*.py"))
    assert "prompt_rollback" not in sources


def test_importing_the_client_loads_no_aws_and_none_of_the_service():
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, prompt_rollout; print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=CLIENT_ROOT,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    ).stdout.split()
    assert "prompt_rollout" in loaded
    unwanted = [
        m
        for m in loaded
        if m.split(".")[0] in {"boto3", "botocore", "aws_lambda_powertools", "prompt_rollback"}
    ]
    assert unwanted == []
