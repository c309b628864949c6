"""Datasets, experiments (dataset runs) and the observation list of the Langfuse-compatible store:
what the regression gate reads, in the spec's shapes (`Dataset`, `ExperimentItemsResponse`,
`ObservationsV2Response`), cursor-paged."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local_mode.langfuse_metrics import MetricsStore, StoredObservation

PROJECT_ID = "local-project"
MAX_PAGE = 100  # experiment items per page (the spec's maximum)
MAX_OBSERVATIONS_PAGE = 1000


class ListQueryError(Exception):
    """A list request the server refuses with 400."""


@dataclass(frozen=True)
class StoredItemScore:
    id: str
    name: str
    value: float | bool
    timestamp: datetime


@dataclass(frozen=True)
class StoredExperimentItem:
    id: str
    experiment_id: str
    experiment_name: str
    dataset_id: str
    dataset_item_id: str
    observation: StoredObservation
    scores: tuple[StoredItemScore, ...] = field(default_factory=tuple)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise ListQueryError(f"{name} is not an ISO datetime: {raw!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _page(params: Mapping[str, str], default: int, maximum: int) -> tuple[int, int]:
    raw_limit = params.get("limit", str(default))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= maximum:
        raise ListQueryError(f"limit must be an integer 1..{maximum}")
    cursor = params.get("cursor")
    if not cursor:
        return 0, int(raw_limit)
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except ValueError as error:
        raise ListQueryError("invalid cursor") from error
    return offset, int(raw_limit)


# A cursor is opaque to clients; here it is the base64 of the next offset.
def _next_cursor(offset: int, limit: int, total: int) -> str | None:
    return base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if offset + limit < total else None


class ExperimentStore:
    """Datasets and the runs of an experiment over them; thread-safe."""

    def __init__(self, metrics: MetricsStore) -> None:
        self._metrics = metrics
        self._lock = threading.Lock()
        self._datasets: dict[str, dict[str, Any]] = {}
        self._items: list[StoredExperimentItem] = []

    def create_dataset(self, name: str) -> dict[str, Any]:
        now = _iso(datetime.now(UTC))
        dataset = {
            "id": str(uuid.uuid4()),
            "name": name,
            "description": None,
            "metadata": None,
            "inputSchema": None,
            "expectedOutputSchema": None,
            "projectId": PROJECT_ID,
            "createdAt": now,
            "updatedAt": now,
        }
        with self._lock:
            self._datasets[name] = dataset
        return dataset

    # An item's generation is also a stored observation, so it shows in the metrics API as well.
    def add_item_result(
        self,
        dataset_name: str,
        run_name: str,
        dataset_item_id: str,
        start_time: datetime,
        latency_ms: float,
        scores: Mapping[str, float | bool],
        cost_usd: float = 0.0,
        level: str = "DEFAULT",
        prompt_name: str | None = None,
        prompt_version: int | None = None,
    ) -> StoredExperimentItem:
        """One dataset item run in one experiment run: its generation, trace and scores."""
        with self._lock:
            dataset = self._datasets[dataset_name]
            experiment_id = next(
                (i.experiment_id for i in self._items if i.experiment_name == run_name),
                f"exp-{uuid.uuid4().hex[:12]}",
            )
        observation = self._metrics.add_generation(
            prompt_name, prompt_version, start_time, latency_ms, level=level, total_cost=cost_usd
        )
        item = StoredExperimentItem(
            id=str(uuid.uuid4()),
            experiment_id=experiment_id,
            experiment_name=run_name,
            dataset_id=str(dataset["id"]),
            dataset_item_id=dataset_item_id,
            observation=observation,
            scores=tuple(
                StoredItemScore(str(uuid.uuid4()), name, value, start_time) for name, value in scores.items()
            ),
        )
        with self._lock:
            self._items.append(item)
        return item

    # ---- the API ---------------------------------------------------------------------------
    # GET /api/public/v2/datasets/{datasetName}: None (a 404) when unknown.
    def dataset(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._datasets.get(name)

    # Newest first, with their scores when `fields` holds `scores`.
    def experiment_items(self, params: Mapping[str, str]) -> dict[str, Any]:
        start = _parse_time(params.get("fromStartTime"), "fromStartTime")
        if start is None:
            raise ListQueryError("fromStartTime is required")
        end = _parse_time(params.get("toStartTime"), "toStartTime")
        fields = set((params.get("fields") or "core,dataset").split(","))
        offset, limit = _page(params, 50, MAX_PAGE)
        with self._lock:
            items = [
                i
                for i in self._items
                if i.observation.start_time >= start
                and (end is None or i.observation.start_time < end)
                and params.get("experimentName") in (None, i.experiment_name)
                and params.get("datasetId") in (None, i.dataset_id)
                and (
                    params.get("experimentId") is None or i.experiment_id in params["experimentId"].split(",")
                )
            ]
        items.sort(key=lambda i: i.observation.start_time, reverse=True)
        window = items[offset : offset + limit]
        return {
            "data": [self._render_item(i, fields) for i in window],
            "meta": {"cursor": _next_cursor(offset, limit, len(items))},
        }

    # `totalCost` is under the `usage` field group.
    def observations(self, params: Mapping[str, str]) -> dict[str, Any]:
        start = _parse_time(params.get("fromStartTime"), "fromStartTime")
        end = _parse_time(params.get("toStartTime"), "toStartTime")
        fields = set((params.get("fields") or "core,basic").split(","))
        offset, limit = _page(params, 50, MAX_OBSERVATIONS_PAGE)
        found = [
            o
            for o in self._metrics.observations()
            if (start is None or o.start_time >= start)
            and (end is None or o.start_time < end)
            and params.get("type") in (None, o.type)
            and params.get("traceId") in (None, o.trace_id)
            and params.get("level") in (None, o.level)
        ]
        found.sort(key=lambda o: o.start_time, reverse=True)
        window = found[offset : offset + limit]
        return {
            "data": [self._render_observation(o, fields) for o in window],
            "meta": {"cursor": _next_cursor(offset, limit, len(found))},
        }

    def _render_item(self, item: StoredExperimentItem, fields: set[str]) -> dict[str, Any]:
        observation = item.observation
        rendered: dict[str, Any] = {
            "id": item.id,
            "traceId": observation.trace_id,
            "startTime": _iso(observation.start_time),
            "endTime": _iso(observation.start_time + timedelta(milliseconds=observation.latency_ms)),
            "level": observation.level,
            "environment": observation.environment,
            "experimentId": item.experiment_id,
            "experimentName": item.experiment_name,
            "experimentItemId": item.dataset_item_id,
        }
        if "dataset" in fields:
            rendered["experimentDatasetId"] = item.dataset_id
            rendered["experimentItemVersion"] = None
        if "scores" in fields:
            rendered["scores"] = [self._render_score(item, score) for score in item.scores]
        return rendered

    def _render_score(self, item: StoredExperimentItem, score: StoredItemScore) -> dict[str, Any]:
        moment = _iso(score.timestamp)
        return {
            "id": score.id,
            "projectId": PROJECT_ID,
            "name": score.name,
            "source": "API",
            "timestamp": moment,
            "environment": item.observation.environment,
            "createdAt": moment,
            "updatedAt": moment,
            "dataType": "BOOLEAN" if isinstance(score.value, bool) else "NUMERIC",
            "value": score.value,
        }

    def _render_observation(self, observation: StoredObservation, fields: set[str]) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "id": observation.id,
            "traceId": observation.trace_id,
            "startTime": _iso(observation.start_time),
            "endTime": _iso(observation.start_time + timedelta(milliseconds=observation.latency_ms)),
            "projectId": PROJECT_ID,
            "parentObservationId": None,
            "type": observation.type,
            "modelId": None,
            "inputPrice": None,
            "outputPrice": None,
            "totalPrice": None,
        }
        if "basic" in fields:
            rendered.update(
                name=observation.name, level=observation.level, environment=observation.environment
            )
        if "usage" in fields:
            rendered.update(
                usageDetails={},
                costDetails={"total": observation.total_cost},
                totalCost=observation.total_cost,
            )
        if "prompt" in fields:
            rendered.update(promptName=observation.prompt_name, promptVersion=observation.prompt_version)
        return rendered
