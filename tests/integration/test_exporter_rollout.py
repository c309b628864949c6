"""The rollout candidate's share on /metrics, and the dashboard's canary queries evaluated on it.

The rollout's labels are written by the controller's own Langfuse adapter into the Langfuse-compatible
store; the exporter reads them through the real SDK; promtool evaluates the committed dashboard's
expressions on the series one scrape after another exported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prompt_rollback.adapters.langfuse_registry import LangfuseRegistry
from prompt_rollback.detection import dashboard
from prompt_rollback.ports import PromptRef

from local_mode.langfuse_metrics import VersionTraffic, seed_demo_traffic, seed_version_traffic
from local_mode.langfuse_server import LangfuseCompatibleServer, seed_demo_prompt
from tests.detection.test_prometheus_rules import _assert_ok, _run, _tool
from tests.integration.test_exporter import Samples, scrape, serving, settings_for, value

PROMPT = "support-answer"
REF = PromptRef(PROMPT)
SHARE = "langfuse_prompt_rollout_share"
PROMPTS_PAGES = {"endpoint": "GET /api/public/v2/prompts", "status": "200"}
DASHBOARD = Path(__file__).resolve().parents[2] / dashboard.DASHBOARD_PATH


@pytest.fixture
def langfuse() -> Iterator[LangfuseCompatibleServer]:
    """support-answer v1..v7 with v7 in production, and a candidate v8 with traffic of its own."""
    with LangfuseCompatibleServer() as server:
        seed_demo_prompt(server.store)
        server.store.create(PROMPT, "Be brief and kind. {{question}}", labels=[])
        now = datetime.now(UTC)
        seed_demo_traffic(server.metrics, now)
        seed_version_traffic(server.metrics, VersionTraffic(8, 120, 0.9), now - timedelta(minutes=10), now)
        yield server


def registry_of(server: LangfuseCompatibleServer) -> LangfuseRegistry:
    return LangfuseRegistry(server.url, server.public_key, server.secret_key)


def refreshed(server: LangfuseCompatibleServer, **settings: str) -> Samples:
    with serving(settings_for(server, **settings)) as (url, refresher):
        refresher.refresh_once()
        return scrape(url)


def shares(samples: Samples) -> dict[str, float]:
    return {dict(labels)["prompt_version"]: v for (name, labels), v in samples.items() if name == SHARE}


def test_a_prompt_mid_rollout_shows_the_candidates_share_on_the_candidate_version(langfuse):
    registry = registry_of(langfuse)
    for step in (5, 25):
        registry.split(REF, stable=7, candidate=8, share=step, candidate_label="canary")
    samples = refreshed(langfuse)

    assert shares(samples) == {"8": 25}
    assert value(samples, SHARE, prompt_name=PROMPT, prompt_version="8") == 25
    # One page of prompts holding production, one of prompts holding the candidate label.
    assert value(samples, "langfuse_exporter_api_calls_total", **PROMPTS_PAGES) == 2


def test_prompts_without_a_rollout_show_no_share_and_cost_no_call_of_their_own(langfuse):
    for name in ("order-status", "refund-answer"):
        langfuse.store.create(name, "v1", labels=["production"])
        langfuse.store.create(name, "v2", labels=[])
    samples = refreshed(langfuse)

    assert shares(samples) == {}
    # The candidate label is read for every prompt at once: one list page, whatever their number.
    assert value(samples, "langfuse_exporter_api_calls_total", **PROMPTS_PAGES) == 2


def test_after_an_abort_no_share_shows_though_stable_keeps_an_old_rollouts_share_label(langfuse):
    registry = registry_of(langfuse)
    # v7 came in by a rollout of its own, promoted at 50 %: it still holds `canary-50`.
    langfuse.store.set_labels(PROMPT, 7, ["canary-50"])
    for step in (5, 25):
        registry.split(REF, stable=7, candidate=8, share=step, candidate_label="canary")
    assert shares(refreshed(langfuse)) == {"8": 25}

    registry.unsplit(REF, stable=7, candidate_label="canary")
    assert set(langfuse.store.get(PROMPT, version=7)["labels"]) >= {"production", "canary", "canary-50"}
    assert shares(refreshed(langfuse)) == {}


def test_a_plans_own_candidate_label_is_read_when_configured_and_none_when_empty(langfuse):
    registry_of(langfuse).split(REF, stable=7, candidate=8, share=50, candidate_label="preview")
    assert shares(refreshed(langfuse)) == {}  # the default `canary` is not the plan's label

    configured = refreshed(langfuse, PROMPT_ROLLBACK_EXPORTER_CANDIDATE_LABEL="preview")
    assert shares(configured) == {"8": 50}

    off = refreshed(langfuse, PROMPT_ROLLBACK_EXPORTER_CANDIDATE_LABEL="")
    assert shares(off) == {}
    assert value(off, "langfuse_exporter_api_calls_total", **PROMPTS_PAGES) == 1


# ---- the dashboard's canary queries on what the exporter exported ---------------------------------
def _series(scrapes: list[Samples]) -> list[dict[str, str]]:
    """Each prompt series, one scrape per minute (`stale`: gone from that scrape)."""
    keys = sorted({key for samples in scrapes for key in samples if key[0].startswith("langfuse_prompt_")})
    found = []
    for name, labels in keys:
        selector = name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels)) + "}"
        values = [
            f"{samples[(name, labels)]:g}" if (name, labels) in samples else "stale" for samples in scrapes
        ]
        found.append({"series": selector, "values": " ".join(values)})
    return found


def _for_the_prompt(expression: str) -> str:
    return expression.replace("$prompt", PROMPT).replace("$env", ".*")


def _canary_queries() -> dict[str, str]:
    """The committed dashboard's rollout row: each target's expression, by panel and arm (`canary`,
    `stable`: its legend's first word)."""
    board = json.loads(DASHBOARD.read_text())
    by_arm: dict[str, str] = {}
    for panel in board["panels"]:
        if panel["type"] != "row" and (
            panel["title"].endswith("canary against stable") or panel["title"] == "canary share"
        ):
            for target in panel["targets"]:
                arm = target["legendFormat"].split()[0]
                by_arm[f"{panel['title']}: {arm}"] = _for_the_prompt(target["expr"])
    return by_arm


def test_the_dashboards_canary_queries_select_the_exported_candidate(langfuse, tmp_path):
    promtool = _tool("promtool")
    registry = registry_of(langfuse)
    registry.split(REF, stable=7, candidate=8, share=5, candidate_label="canary")
    at_5 = refreshed(langfuse)
    registry.split(REF, stable=7, candidate=8, share=25, candidate_label="canary")
    at_25 = refreshed(langfuse)

    queries = _canary_queries()
    assert len(queries) == 1 + 2 * 4  # the share, and canary and stable for each trigger
    tests = []
    for title, expression in queries.items():
        if title == "canary share: canary":
            expected = [{"labels": '{prompt_version="8"}', "value": 25}]
            tests.append({"expr": expression, "eval_time": "3m", "exp_samples": expected})
            continue
        version = "8" if title.endswith(": canary") else "7"
        expected = [{"labels": f'{{prompt_version="{version}"}}', "value": 1}]
        tests.append(
            {"expr": f"count by (prompt_version) ({expression})", "eval_time": "3m", "exp_samples": expected}
        )
    annotations = {
        a["name"]: _for_the_prompt(a["expr"])
        for a in json.loads(DASHBOARD.read_text())["annotations"]["list"]
        if a.get("expr")
    }
    step = annotations["rollout step"]
    tests.append(
        {"expr": step, "eval_time": "2m", "exp_samples": [{"labels": '{prompt_version="8"}', "value": 25}]}
    )
    tests.append({"expr": step, "eval_time": "1m", "exp_samples": []})

    unit = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {"interval": "1m", "input_series": _series([at_5, at_5, at_25, at_25]), "promql_expr_test": tests}
        ],
    }
    path = tmp_path / "canary.test.yml"
    path.write_text(yaml.safe_dump(unit, sort_keys=False))
    _assert_ok(_run(promtool, "test", "rules", str(path)))
