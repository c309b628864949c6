"""Measurements through the real `langfuse` SDK (`LangfuseAPI`) against the Langfuse-compatible store.

The expected values are computed here from the store's own records, independently of the
metrics query engine, so a wrong grouping, window or aggregation in either shows up.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from langfuse.api.client import LangfuseAPI
from prompt_rollback.measurements import (
    LangfuseQueryRejected,
    LangfuseRateLimited,
    LangfuseUnavailable,
    MeasurementSettings,
    MetricsEndpointMissing,
    measure,
)

from local_mode.langfuse_metrics import VersionTraffic, seed_demo_traffic, seed_version_traffic
from local_mode.langfuse_server import LangfuseCompatibleServer, seed_demo_prompt

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SETTINGS = MeasurementSettings()


@pytest.fixture
def langfuse() -> Iterator[LangfuseCompatibleServer]:
    with LangfuseCompatibleServer() as server:
        yield server


def client(server: LangfuseCompatibleServer) -> LangfuseAPI:
    return LangfuseAPI(base_url=server.url, username=server.public_key, password=server.secret_key)


def calls(server: LangfuseCompatibleServer, path: str) -> int:
    return sum(1 for _, seen in server.app.requests if seen == path)


def test_demo_traffic_shows_v7_below_v6_with_v6_as_the_baseline(langfuse):
    seed_demo_prompt(langfuse.store)
    seed_demo_traffic(langfuse.metrics, NOW)

    result = measure(client(langfuse), SETTINGS, NOW)

    v7 = result.get("support-answer", 7)
    assert v7 is not None and v7.in_production
    scores = [s for s in langfuse.metrics.scores() if s.observation and s.observation.prompt_version == 7]
    exact = [
        s.value for s in scores if s.name == "exact_match" and s.timestamp >= NOW - SETTINGS.score_window
    ]
    feedback = [s.value for s in scores if s.name == "user_feedback"]
    assert v7.scores["exact_match"].count == len(exact)
    assert v7.scores["exact_match"].average == pytest.approx(sum(exact) / len(exact))
    assert v7.scores["user_feedback"].thumbs_down == sum(1 for v in feedback if v == 0.0)
    v7_generations = [
        o
        for o in langfuse.metrics.observations()
        if o.prompt_version == 7 and o.start_time >= NOW - SETTINGS.observation_window
    ]
    assert v7.observations == len(v7_generations)
    assert v7.observations_by_level.get("ERROR", 0) == sum(1 for o in v7_generations if o.level == "ERROR")

    baseline = v7.score_baselines["exact_match"]
    v6 = [
        s.value
        for s in langfuse.metrics.scores()
        if s.name == "exact_match" and s.observation and s.observation.prompt_version == 6
    ]
    assert (baseline.version, baseline.samples) == (6, len(v6))
    assert baseline.value == pytest.approx(sum(v6) / len(v6))
    assert v7.scores["exact_match"].average < baseline.value - 0.2  # the demo's regression
    assert v7.latency_p99_baseline is not None and v7.latency_p99_baseline.version == 6


def _many_prompts(server: LangfuseCompatibleServer, count: int) -> None:
    for index in range(count):
        name = f"prompt-{index:03d}"
        server.store.create(name, "v1", labels=[])
        server.store.create(name, "v2", labels=["production"])
        seed_version_traffic(
            server.metrics,
            VersionTraffic(version=2, generations=4, exact_match_rate=0.9),
            NOW - timedelta(minutes=10),
            NOW,
            prompt_name=name,
        )


@pytest.mark.parametrize("prompts", [1, 500])
def test_the_number_of_metrics_queries_does_not_grow_with_prompts(langfuse, prompts):
    _many_prompts(langfuse, prompts)

    result = measure(client(langfuse), SETTINGS, NOW)

    assert len([p for p in result.prompts if p.in_production]) == prompts
    assert calls(langfuse, "/api/public/v2/metrics") == 6
    assert calls(langfuse, "/api/public/v2/prompts") == -(-prompts // 100)  # one page per 100 prompts
    assert result.api_calls == len(langfuse.app.requests)
    print(f"{prompts} prompts: {result.api_calls} API calls")


def test_a_full_answer_is_split_by_prompt_name_and_nothing_is_lost(langfuse):
    _many_prompts(langfuse, 30)
    whole = measure(client(langfuse), SETTINGS, NOW)
    langfuse.app.requests.clear()

    paged = measure(client(langfuse), MeasurementSettings(row_limit=8), NOW)

    assert paged.prompts == whole.prompts
    assert paged.truncated_queries == 0
    assert 6 < calls(langfuse, "/api/public/v2/metrics") < 6 * 30


def test_the_baseline_is_the_highest_lower_version_with_enough_samples(langfuse):
    name = "checkout"
    for version in range(1, 7):
        langfuse.store.create(name, f"v{version}", labels=["production"] if version == 5 else [])
    history = NOW - timedelta(days=3)
    for version, generations, rate in ((3, 300, 0.8), (4, 20, 0.3), (6, 300, 0.1)):
        seed_version_traffic(
            langfuse.metrics,
            VersionTraffic(version, generations, rate, error_rate=0),
            history,
            history + timedelta(hours=2),
            prompt_name=name,
        )
    seed_version_traffic(
        langfuse.metrics,
        VersionTraffic(5, 100, 0.7, error_rate=0),
        NOW - timedelta(minutes=20),
        NOW,
        prompt_name=name,
    )

    v5 = measure(client(langfuse), SETTINGS, NOW).get(name, 5)

    assert v5 is not None and v5.in_production
    # v4 ran only 20 times (< 50), v6 is higher than production: v3 is the baseline.
    assert v5.score_baselines["exact_match"].version == 3
    assert v5.score_baselines["exact_match"].samples == 300
    assert v5.latency_p99_baseline is not None and v5.latency_p99_baseline.version == 3


def test_no_baseline_without_an_earlier_version_that_ran(langfuse):
    langfuse.store.create("fresh", "v1", labels=["production"])
    seed_version_traffic(
        langfuse.metrics, VersionTraffic(1, 100, 0.5), NOW - timedelta(minutes=5), NOW, prompt_name="fresh"
    )

    v1 = measure(client(langfuse), SETTINGS, NOW).get("fresh", 1)

    assert v1 is not None
    assert v1.score_baselines == {} and v1.latency_p99_baseline is None


def test_the_environment_setting_filters_generations_and_scores(langfuse):
    langfuse.store.create("answer", "v1", labels=["production"])
    window = (NOW - timedelta(minutes=10), NOW)
    seed_version_traffic(
        langfuse.metrics,
        VersionTraffic(1, 40, 1.0, error_rate=0),
        *window,
        prompt_name="answer",
        environment="production",
    )
    seed_version_traffic(
        langfuse.metrics,
        VersionTraffic(1, 25, 0.0, error_rate=0),
        *window,
        prompt_name="answer",
        environment="staging",
    )

    everything = measure(client(langfuse), SETTINGS, NOW).get("answer", 1)
    production = measure(client(langfuse), MeasurementSettings(environment="production"), NOW).get(
        "answer", 1
    )

    assert everything is not None and production is not None
    assert everything.observations == 65
    assert production.observations == 40
    assert production.scores["exact_match"].average == 1.0


def test_custom_score_names_map_onto_the_rule_labels(langfuse):
    langfuse.store.create("answer", "v1", labels=["production"])
    seed_version_traffic(
        langfuse.metrics,
        VersionTraffic(1, 60, 0.5, error_rate=0, feedback_share=1.0),
        NOW - timedelta(minutes=10),
        NOW,
        prompt_name="answer",
        exact_match_score="em",
        feedback_score="thumbs",
    )
    settings = MeasurementSettings(exact_match_score="em", feedback_score="thumbs", thumbs_down_value=0)

    answer = measure(client(langfuse), settings, NOW).get("answer", 1)

    assert answer is not None
    assert set(answer.scores) == {"exact_match", "user_feedback"}
    assert answer.scores["user_feedback"].count == 60


def test_a_429_carries_retry_after(langfuse):
    langfuse.app.fail_next(429, retry_after="7", path_prefix="/api/public/v2/metrics")
    with pytest.raises(LangfuseRateLimited) as raised:
        measure(client(langfuse), SETTINGS, NOW)
    assert raised.value.retry_after == 7
    # The SDK's own retries are off: one request, not three.
    assert calls(langfuse, "/api/public/v2/metrics") == 1


def test_a_400_keeps_langfuses_message(langfuse):
    langfuse.app.fail_next(400, path_prefix="/api/public/v2/metrics")
    with pytest.raises(LangfuseQueryRejected, match="injected fault"):
        measure(client(langfuse), SETTINGS, NOW)


def test_a_server_without_v2_metrics_is_named_plainly(langfuse):
    langfuse.app.metrics_v2_available = False
    with pytest.raises(MetricsEndpointMissing, match=r"no GET /api/public/v2/metrics.*v4"):
        measure(client(langfuse), SETTINGS, NOW)


def test_wrong_keys_are_a_401_without_the_secret(langfuse):
    api = LangfuseAPI(base_url=langfuse.url, username=langfuse.public_key, password="sk-lf-wrong-secret")
    with pytest.raises(LangfuseUnavailable) as raised:
        measure(api, SETTINGS, NOW)
    assert raised.value.status == 401
    assert "sk-lf-wrong-secret" not in str(raised.value)


def test_an_unreachable_langfuse_is_unavailable():
    api = LangfuseAPI(base_url="http://127.0.0.1:9", username="pk", password="sk", timeout=2)
    with pytest.raises(LangfuseUnavailable, match="ConnectError"):
        measure(api, SETTINGS, NOW)
