"""Local mode's traffic file and simulator against the embedded Langfuse store, through the real SDK:
a bad file is refused naming the field and creates nothing; requests split as the client library says."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from langfuse import Langfuse

from local_mode.langfuse_metrics import MetricsStore, VersionTraffic, seed_version_traffic
from local_mode.langfuse_server import LangfuseCompatibleServer, seed_demo_prompt
from local_mode.traffic import TrafficSimulator, prepare_versions
from local_mode.traffic_file import TrafficError, TrafficFile, load_traffic

GOOD = {"exact_match": 0.9, "error_rate": 0.005, "latency_ms": 800}


@pytest.fixture
def langfuse() -> Iterator[tuple[LangfuseCompatibleServer, Langfuse]]:
    # The SDK keeps one set of resources per public key in a process: one key per server.
    with LangfuseCompatibleServer(public_key=f"pk-lf-{uuid.uuid4().hex}") as server:
        seed_demo_prompt(server.store)  # support-answer v1..v7, v7 in production
        client = Langfuse(
            public_key=server.public_key, secret_key=server.secret_key, host=server.url, tracing_enabled=False
        )
        yield server, client


def traffic(versions: dict[str, dict[str, object]], name: str = "support-answer") -> TrafficFile:
    return TrafficFile.model_validate(
        {"prompts": {name: {"requests_per_second": 20, "units": 100, "versions": versions}}}
    )


def written(tmp_path: Path, text: str) -> str:
    path = tmp_path / "traffic.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            "requests_per_second: -5",
            "prompts.support-answer.requests_per_second: Input should be greater than 0",
        ),
        (
            "request_per_second: 5",
            "prompts.support-answer.request_per_second: Extra inputs are not permitted",
        ),
    ],
)
def test_a_wrong_field_is_named(tmp_path, body, problem):
    text = f"prompts:\n  support-answer:\n    {body}\n    units: 10\n    versions:\n      '7': {GOOD}\n"
    with pytest.raises(TrafficError) as refused:
        load_traffic(written(tmp_path, text))
    assert problem in str(refused.value)


def test_a_version_that_is_not_a_number_or_a_rate_out_of_range_is_named(tmp_path):
    text = (
        "prompts:\n  support-answer:\n    requests_per_second: 5\n    units: 10\n    versions:\n"
        "      v8: {exact_match: 0.9, error_rate: 1.5, latency_ms: 800}\n"
    )
    with pytest.raises(TrafficError) as refused:
        load_traffic(written(tmp_path, text))
    assert "prompts.support-answer.versions.v8: Input should be a valid integer" in str(refused.value)


def test_the_demo_file_loads():
    demo = load_traffic("demo")
    assert set(demo.prompts) == {"support-answer", "order-status"}
    assert demo.speed_for(1) == 60 and demo.speed_for(None) == 1


def test_an_unknown_version_is_refused_and_nothing_is_created(langfuse):
    server, client = langfuse
    # v8 could be created (its text is given), v9 cannot: it is neither in the store nor described.
    file = traffic({"7": GOOD, "8": {**GOOD, "prompt": "new {{q}}"}, "9": GOOD})
    with pytest.raises(TrafficError) as refused:
        prepare_versions(client, file)
    assert "prompts.support-answer.versions.9: support-answer has no version 9 (it has v1 to v7)" in str(
        refused.value
    )
    assert server.store.list_meta("support-answer", None)[0]["versions"] == [1, 2, 3, 4, 5, 6, 7]


def test_a_version_out_of_sequence_or_production_without_behaviour_is_refused(langfuse):
    _, client = langfuse
    with pytest.raises(TrafficError, match=r"versions\.9: cannot create v9: the next version .* is v8"):
        prepare_versions(client, traffic({"7": GOOD, "9": {**GOOD, "prompt": "x"}}))
    with pytest.raises(TrafficError, match="production version 7 is not in the file"):
        prepare_versions(client, traffic({"6": GOOD}))


def test_missing_versions_are_created_through_the_api_and_a_new_prompt_starts_in_production(langfuse):
    server, client = langfuse
    file = TrafficFile.model_validate(
        {
            "prompts": {
                "support-answer": traffic({"7": GOOD, "8": {**GOOD, "prompt": "v8 {{q}}"}}).prompts[
                    "support-answer"
                ],
                "order-status": traffic(
                    {"1": {**GOOD, "prompt": "v1"}, "2": {**GOOD, "prompt": "v2"}}, "order-status"
                ).prompts["order-status"],
            }
        }
    )
    created = prepare_versions(client, file)
    assert created == ["support-answer v8", "order-status v1 (production)", "order-status v2"]
    assert ("POST", "/api/public/v2/prompts") in server.app.requests
    assert server.store.production_version("support-answer") == 7  # a candidate, not production
    assert server.store.production_version("order-status") == 1
    assert prepare_versions(client, file) == []  # a second start finds them there


def test_requests_split_through_the_client_library_at_the_candidates_share(langfuse):
    server, client = langfuse
    server.store.create("support-answer", "v8 {{q}}", labels=["canary", "canary-25"])
    file = TrafficFile.model_validate(
        {
            "seed": 3,
            "prompts": {
                "support-answer": {
                    "requests_per_second": 2000,
                    "units": 5000,
                    "versions": {"7": GOOD, "8": {**GOOD, "error_rate": 0.0}},
                }
            },
        }
    )
    lines: list[str] = []
    simulator = TrafficSimulator(
        file,
        client,
        server.metrics,
        lines.append,
        speed=1,
        cache_ttl_seconds=60,
        retention=timedelta(hours=1),
    ).start()
    try:
        time.sleep(1.5)
    finally:
        simulator.stop()
    served = Counter(o.prompt_version for o in server.metrics.observations() if o.start_time.year > 2000)
    total = served[7] + served[8]
    assert total > 1000, served
    assert 0.20 < served[8] / total < 0.30, served  # 25 % of 5,000 units, drawn at random
    scored = [s for s in server.metrics.scores() if s.observation and s.observation.prompt_version == 8]
    assert len(scored) == served[8]  # no errors on v8: every generation has its exact-match score
    assert lines == []


def test_a_window_of_records_in_time_order_reads_what_a_full_scan_reads():
    ordered, shuffled = MetricsStore(), MetricsStore()
    start = datetime(2026, 6, 1, tzinfo=UTC)
    for version, minutes in ((7, (0, 30)), (8, (10, 20)), (7, (30, 60))):
        spec = VersionTraffic(version=version, generations=300, exact_match_rate=0.9)
        window = (start + timedelta(minutes=minutes[0]), start + timedelta(minutes=minutes[1]))
        seed_version_traffic(shuffled, spec, *window)  # v8 goes back in time: out of order
        if version == 7:
            seed_version_traffic(ordered, spec, *window)
    query = (
        '{"view":"observations","dimensions":[{"field":"promptVersion"}],'
        '"metrics":[{"measure":"count","aggregation":"count"}],'
        '"fromTimestamp":"2026-06-01T00:15:00Z","toTimestamp":"2026-06-01T00:45:00Z"}'
    )
    low, high = start + timedelta(minutes=15), start + timedelta(minutes=45)
    for store in (ordered, shuffled):
        counted = Counter(o.prompt_version for o in store.observations() if low <= o.start_time <= high)
        expected = [{"promptVersion": v, "count_count": n} for v, n in counted.most_common()]
        assert store.query(query) == expected and len(expected) == (1 if store is ordered else 2)
    assert len(ordered.observations(start, start + timedelta(minutes=5))) == 51  # both ends count
