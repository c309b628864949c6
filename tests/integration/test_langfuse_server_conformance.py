"""The Langfuse-compatible test server answers in the shapes of Langfuse's official OpenAPI spec.

Every integration test trusts this server to behave like Langfuse, so its responses are
validated against the spec's own schemas (tests/fixtures/langfuse/openapi.yml, vendored from
langfuse/langfuse; see the README beside it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from prompt_rollback.measurements import MeasurementSettings
from prompt_rollback.measurements.queries import refresh_queries

from local_mode.langfuse_metrics import seed_demo_traffic
from local_mode.langfuse_server import LangfuseCompatibleServer, seed_demo_prompt

SPEC_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "langfuse" / "openapi.yml"


def _nullable_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` is not JSON Schema: turn it into a type union."""
    if isinstance(node, dict):
        converted = {k: _nullable_to_json_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable"):
            if "type" in converted:
                converted["type"] = [converted["type"], "null"]
            else:
                converted = {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(node, list):
        return [_nullable_to_json_schema(v) for v in node]
    return node


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return _nullable_to_json_schema(yaml.safe_load(SPEC_PATH.read_text()))


def validate(spec: dict[str, Any], component: str, instance: Any) -> None:
    schema = {"$ref": f"#/components/schemas/{component}", "components": spec["components"]}
    jsonschema.validate(instance, schema)


@pytest.fixture
def langfuse():
    with LangfuseCompatibleServer() as server:
        seed_demo_prompt(server.store)
        server.store.create("team/answer", "hi {{name}}", labels=["production", "staging"])
        yield server, httpx.Client(base_url=server.url, auth=(server.public_key, server.secret_key))


def test_routes_we_serve_are_routes_of_the_spec(spec):
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/public/v2/prompts"])
    assert {"get", "delete"} <= set(paths["/api/public/v2/prompts/{promptName}"])
    assert "patch" in paths["/api/public/v2/prompts/{name}/versions/{version}"]


def test_get_by_label_and_version_match_the_prompt_schema(spec, langfuse):
    _, client = langfuse
    for params in ({"label": "production"}, {"version": 3}, {}):
        response = client.get("/api/public/v2/prompts/support-answer", params=params)
        assert response.status_code == 200
        validate(spec, "Prompt", response.json())
    assert client.get("/api/public/v2/prompts/support-answer", params={"version": 3}).json()["version"] == 3


def test_list_matches_the_prompt_meta_list_schema(spec, langfuse):
    _, client = langfuse
    response = client.get("/api/public/v2/prompts", params={"name": "support-answer", "limit": 50})
    assert response.status_code == 200
    body = response.json()
    validate(spec, "PromptMetaListResponse", body)
    assert body["data"][0]["versions"] == [1, 2, 3, 4, 5, 6, 7]


def test_patch_moves_the_label_off_every_other_version(spec, langfuse):
    server, client = langfuse
    response = client.patch(
        "/api/public/v2/prompts/support-answer/versions/4", json={"newLabels": ["production"]}
    )
    assert response.status_code == 200
    validate(spec, "Prompt", response.json())
    assert server.store.production_version("support-answer") == 4
    labels = {v: server.store.get("support-answer", version=v)["labels"] for v in range(1, 8)}  # type: ignore[index]
    assert [v for v, ls in labels.items() if "production" in ls] == [4]
    assert "latest" in labels[7]


def test_create_answers_201_with_a_new_version(spec, langfuse):
    _, client = langfuse
    response = client.post(
        "/api/public/v2/prompts", json={"name": "support-answer", "prompt": "v8", "type": "text"}
    )
    assert response.status_code == 201
    validate(spec, "Prompt", response.json())
    assert response.json()["version"] == 8


def test_delete_of_a_version_answers_204_and_its_number_is_not_reused(spec, langfuse):
    _, client = langfuse
    assert "204" in spec["paths"]["/api/public/v2/prompts/{promptName}"]["delete"]["responses"]
    response = client.delete("/api/public/v2/prompts/support-answer", params={"version": 6})
    assert (response.status_code, response.content) == (204, b"")
    listed = client.get("/api/public/v2/prompts", params={"name": "support-answer"}).json()["data"]
    assert listed[0]["versions"] == [1, 2, 3, 4, 5, 7]
    assert client.get("/api/public/v2/prompts/support-answer", params={"version": 6}).status_code == 404
    assert client.delete("/api/public/v2/prompts/support-answer", params={"version": 6}).status_code == 404
    created = client.post(
        "/api/public/v2/prompts", json={"name": "support-answer", "prompt": "v8", "type": "text"}
    )
    assert created.json()["version"] == 8


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/api/public/v2/prompts/missing", None, 404),
        ("GET", "/api/public/v2/prompts/support-answer?version=99", None, 404),
        ("PATCH", "/api/public/v2/prompts/support-answer/versions/99", {"newLabels": ["production"]}, 404),
        ("PATCH", "/api/public/v2/prompts/support-answer/versions/2", {"newLabels": ["latest"]}, 400),
        ("PATCH", "/api/public/v2/prompts/support-answer/versions/2", {"newLabels": ["Prod!"]}, 400),
        ("GET", "/api/public/v2/prompts/team/answer", None, 404),  # a folder must travel as %2F
    ],
)
def test_errors_follow_langfuse(langfuse, method, path, body, status):
    _, client = langfuse
    assert client.request(method, path, json=body).status_code == status


def test_encoded_folder_name_is_one_segment(langfuse):
    _, client = langfuse
    response = client.get("/api/public/v2/prompts/team%2Fanswer", params={"label": "staging"})
    assert response.status_code == 200
    assert response.json()["name"] == "team/answer"


def test_basic_auth_is_required(langfuse):
    server, _ = langfuse
    assert httpx.get(f"{server.url}/api/public/v2/prompts").status_code == 401
    assert (
        httpx.get(f"{server.url}/api/public/v2/prompts", auth=(server.public_key, "wrong")).status_code == 401
    )


def test_injected_rate_limit_carries_retry_after(langfuse):
    server, client = langfuse
    server.app.fail_next(429, retry_after="3")
    response = client.get("/api/public/v2/prompts")
    assert (response.status_code, response.headers["retry-after"]) == (429, "3")


# ---- GET /api/public/v2/metrics ------------------------------------------------------------------
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _metrics(client: httpx.Client, query: dict[str, Any]) -> httpx.Response:
    return client.get("/api/public/v2/metrics", params={"query": json.dumps(query)})


def _window(**query: Any) -> dict[str, Any]:
    return {
        "fromTimestamp": (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "toTimestamp": NOW.isoformat().replace("+00:00", "Z"),
        **query,
    }


def test_metrics_route_is_a_route_of_the_spec(spec):
    assert "get" in spec["paths"]["/api/public/v2/metrics"]
    (parameter,) = spec["paths"]["/api/public/v2/metrics"]["get"]["parameters"]
    assert parameter["name"] == "query" and parameter["required"]


def test_every_query_of_a_refresh_answers_the_metrics_schema(spec, langfuse):
    server, client = langfuse
    seed_demo_traffic(server.metrics, NOW)
    for query in refresh_queries(MeasurementSettings()):
        response = client.get("/api/public/v2/metrics", params={"query": query.to_json(NOW, 1000)})
        assert response.status_code == 200, (query.purpose, response.text)
        body = response.json()
        validate(spec, "MetricsV2Response", body)
        assert body["data"], query.purpose
        for row in body["data"]:
            # Dimensions by field name, metrics as {aggregation}_{measure} (Langfuse's query builder).
            expected = {*query.dimensions, *(f"{agg}_{measure}" for measure, agg in query.metrics)}
            assert set(row) == expected, (query.purpose, row)


def test_rows_group_and_aggregate_like_the_server(langfuse):
    server, client = langfuse
    for version, latency in ((1, 100.0), (1, 300.0), (2, 1000.0)):
        server.metrics.add_generation("p", version, NOW - timedelta(minutes=5), latency)
    server.metrics.add_generation("p", 1, NOW - timedelta(hours=2), 5000.0)  # outside the window
    response = _metrics(
        client,
        _window(
            view="observations",
            dimensions=[{"field": "promptVersion"}],
            metrics=[
                {"measure": "count", "aggregation": "count"},
                {"measure": "latency", "aggregation": "max"},
            ],
        ),
    )
    assert response.json()["data"] == [  # default order: the first metric, descending
        {"promptVersion": 1, "count_count": 2, "max_latency": 300.0},
        {"promptVersion": 2, "count_count": 1, "max_latency": 1000.0},
    ]


def test_row_limit_cuts_the_answer(langfuse):
    server, client = langfuse
    for index in range(5):
        server.metrics.add_generation(f"p{index}", 1, NOW - timedelta(minutes=1), 10.0)
    query = _window(
        view="observations",
        dimensions=[{"field": "promptName"}],
        metrics=[{"measure": "count", "aggregation": "count"}],
        orderBy=[{"field": "promptName", "direction": "asc"}],
        config={"row_limit": 2},
    )
    assert [row["promptName"] for row in _metrics(client, query).json()["data"]] == ["p0", "p1"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            _window(
                view="observations",
                dimensions=[{"field": "traceId"}],
                metrics=[{"measure": "count", "aggregation": "count"}],
            ),
            "high cardinality",
        ),
        (_window(view="traces", metrics=[{"measure": "count", "aggregation": "count"}]), "Invalid view"),
        (
            _window(view="observations", metrics=[{"measure": "vibes", "aggregation": "avg"}]),
            "Invalid metric",
        ),
        (
            _window(view="observations", metrics=[{"measure": "count", "aggregation": "median"}]),
            "Invalid aggregation",
        ),
        (
            {"view": "observations", "metrics": [{"measure": "count", "aggregation": "count"}]},
            "fromTimestamp",
        ),
        (
            _window(
                view="observations",
                metrics=[{"measure": "count", "aggregation": "count"}],
                config={"row_limit": 1001},
            ),
            "row_limit",
        ),
    ],
)
def test_bad_metrics_queries_are_400_with_a_message(langfuse, query, message):
    _, client = langfuse
    response = _metrics(client, query)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_the_prompts_list_caps_a_page_at_100(langfuse):
    _, client = langfuse
    assert client.get("/api/public/v2/prompts", params={"limit": 100}).status_code == 200
    assert client.get("/api/public/v2/prompts", params={"limit": 101}).status_code == 400
