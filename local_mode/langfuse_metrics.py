"""Observations, scores and the metrics query API (`GET /api/public/v2/metrics`) of the Langfuse-compatible
store, answering the views, dimensions and measures the exporter and dashboards ask for the way Langfuse's
query builder does (web/src/features/query in langfuse/langfuse)."""

from __future__ import annotations

import bisect
import json
import math
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_ROW_LIMIT = 1000
DEFAULT_ROW_LIMIT = 100
AGGREGATIONS = ("sum", "avg", "count", "max", "min", "p50", "p75", "p90", "p95", "p99")
PERCENTILES = {"p50": 0.5, "p75": 0.75, "p90": 0.9, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True)
class StoredObservation:
    id: str
    trace_id: str
    start_time: datetime
    latency_ms: float
    prompt_name: str | None
    prompt_version: int | None
    level: str = "DEFAULT"
    type: str = "GENERATION"
    name: str = "generation"
    environment: str = "default"
    model: str | None = None
    total_cost: float = 0.0


@dataclass(frozen=True)
class StoredScore:
    id: str
    name: str
    value: float
    data_type: str  # NUMERIC | BOOLEAN
    timestamp: datetime
    observation: StoredObservation | None
    source: str = "API"
    environment: str = "default"


Record = StoredObservation | StoredScore
Getter = Callable[[Any], Any]


@dataclass(frozen=True)
class View:
    name: str
    dimensions: dict[str, Getter]
    measures: dict[str, Getter]
    high_cardinality: frozenset[str]
    time: Getter
    time_field: str
    records: Callable[[MetricsStore, datetime, datetime], list[Any]]


def _obs(attribute: str) -> Getter:
    return lambda score: getattr(score.observation, attribute) if score.observation else None


_OBSERVATIONS = View(
    name="observations",
    dimensions={
        "environment": lambda o: o.environment,
        "type": lambda o: o.type,
        "name": lambda o: o.name,
        "level": lambda o: o.level,
        "providedModelName": lambda o: o.model,
        "promptName": lambda o: o.prompt_name,
        "promptVersion": lambda o: o.prompt_version,
        "startTimeMonth": lambda o: o.start_time.strftime("%Y-%m"),
    },
    measures={
        "count": lambda o: 1,
        "latency": lambda o: o.latency_ms,
        "totalCost": lambda o: o.total_cost,
    },
    high_cardinality=frozenset({"id", "traceId", "userId", "sessionId", "parentObservationId"}),
    time=lambda o: o.start_time,
    time_field="startTime",
    records=lambda store, start, end: store.observations(start, end),
)
_SCORE_DIMENSIONS: dict[str, Getter] = {
    "environment": lambda s: s.environment,
    "name": lambda s: s.name,
    "source": lambda s: s.source,
    "dataType": lambda s: s.data_type,
    "value": lambda s: s.value,
    "timestampMonth": lambda s: s.timestamp.strftime("%Y-%m"),
    "timestampDay": lambda s: s.timestamp.strftime("%Y-%m-%d"),
    "observationName": _obs("name"),
    "observationModelName": _obs("model"),
    "observationPromptName": _obs("prompt_name"),
    "observationPromptVersion": _obs("prompt_version"),
}
_SCORE_HIGH_CARDINALITY = frozenset({"id", "traceId", "userId", "sessionId", "observationId"})
# Numeric and boolean scores (a boolean's value is 0/1, so its `avg` is the true-rate);
# scores-boolean holds only the boolean ones.
_SCORES_NUMERIC = View(
    name="scores-numeric",
    dimensions=_SCORE_DIMENSIONS,
    measures={"count": lambda s: 1, "value": lambda s: s.value},
    high_cardinality=_SCORE_HIGH_CARDINALITY,
    time=lambda s: s.timestamp,
    time_field="timestamp",
    records=lambda store, start, end: store.scores(start, end),
)
_SCORES_BOOLEAN = View(
    name="scores-boolean",
    dimensions={**_SCORE_DIMENSIONS, "booleanValue": lambda s: bool(s.value)},
    measures={"count": lambda s: 1, "value": lambda s: s.value},
    high_cardinality=_SCORE_HIGH_CARDINALITY,
    time=lambda s: s.timestamp,
    time_field="timestamp",
    records=lambda store, start, end: [s for s in store.scores(start, end) if s.data_type == "BOOLEAN"],
)
VIEWS = {view.name: view for view in (_OBSERVATIONS, _SCORES_NUMERIC, _SCORES_BOOLEAN)}


class MetricsQueryError(Exception):
    """A query the server refuses with 400; the message says why."""


class MetricsStore:
    """Generations and the scores on them; thread-safe. While records arrive in time order (seeding,
    the traffic simulator) a time window is found by bisection, so a query reads only its window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._observations: list[StoredObservation] = []
        self._scores: list[StoredScore] = []
        self._observations_in_order = True
        self._scores_in_order = True

    def add_generation(
        self,
        prompt_name: str | None,
        prompt_version: int | None,
        start_time: datetime,
        latency_ms: float,
        level: str = "DEFAULT",
        environment: str = "default",
        model: str | None = "demo-model",
        total_cost: float = 0.0,
    ) -> StoredObservation:
        observation = StoredObservation(
            id=str(uuid.uuid4()),
            trace_id=str(uuid.uuid4()),
            start_time=start_time,
            latency_ms=latency_ms,
            prompt_name=prompt_name,
            prompt_version=prompt_version,
            level=level,
            environment=environment,
            model=model,
            total_cost=total_cost,
        )
        with self._lock:
            if self._observations and start_time < self._observations[-1].start_time:
                self._observations_in_order = False
            self._observations.append(observation)
        return observation

    def add_score(
        self,
        observation: StoredObservation | None,
        name: str,
        value: float | bool,
        timestamp: datetime | None = None,
        data_type: str | None = None,
        source: str = "API",
    ) -> StoredScore:
        kind = data_type or ("BOOLEAN" if isinstance(value, bool) else "NUMERIC")
        score = StoredScore(
            id=str(uuid.uuid4()),
            name=name,
            value=float(value),
            data_type=kind,
            timestamp=timestamp or (observation.start_time if observation else datetime.now(UTC)),
            observation=observation,
            source=source,
            environment=observation.environment if observation else "default",
        )
        with self._lock:
            if self._scores and score.timestamp < self._scores[-1].timestamp:
                self._scores_in_order = False
            self._scores.append(score)
        return score

    def observations(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[StoredObservation]:
        """All observations, or (when given) at least those that started within [start, end]."""
        with self._lock:
            if start is None or end is None or not self._observations_in_order:
                return list(self._observations)
            return _window(self._observations, start, end, _observed_at)

    def scores(self, start: datetime | None = None, end: datetime | None = None) -> list[StoredScore]:
        """All scores, or (when given) at least those stamped within [start, end]."""
        with self._lock:
            if start is None or end is None or not self._scores_in_order:
                return list(self._scores)
            return _window(self._scores, start, end, _scored_at)

    def prune(self, since: datetime, before: datetime) -> int:
        """Forget the records of [since, before): a long-running simulation keeps its recent past only.
        Returns how many observations went."""
        with self._lock:
            before_count = len(self._observations)
            self._observations = [o for o in self._observations if not since <= o.start_time < before]
            self._scores = [s for s in self._scores if not since <= s.timestamp < before]
            return before_count - len(self._observations)

    def clear(self) -> None:
        with self._lock:
            self._observations.clear()
            self._scores.clear()
            self._observations_in_order = self._scores_in_order = True

    # ---- the query API -------------------------------------------------------------------
    # The query is one JSON object in `query`: view, dimensions[{field}], metrics[{measure, aggregation}],
    # filters[{column, operator, value, type}], fromTimestamp/toTimestamp (both required, inclusive),
    # orderBy, config.row_limit. Each row holds every requested dimension under its field name and one
    # key per metric, `{aggregation}_{measure}` (count_count, p99_latency, avg_value). Default order: the
    # first metric, descending; row_limit is 1..1000 (default 100). An unknown view, dimension, measure,
    # aggregation or filter is a 400 with a message, and so is grouping by a high-cardinality dimension.
    # Histogram aggregation and the `traces` view are not implemented: a 400 says so.
    def query(self, raw_query: str | None) -> list[dict[str, Any]]:
        """The rows of one metrics query (the `query` parameter), or MetricsQueryError."""
        query = _parse(raw_query)
        view = VIEWS.get(query.get("view", ""))
        if view is None:
            raise MetricsQueryError(
                f"Invalid view {query.get('view')!r}. Must be one of {', '.join(VIEWS)}"
                " (the local store does not implement the traces view)"
            )
        dimensions = [_field(d, "dimensions") for d in _list(query, "dimensions")]
        for name in dimensions:
            if name in view.high_cardinality:
                raise MetricsQueryError(
                    f"Dimension '{name}' is a high cardinality field and cannot be used for grouping "
                    f"in the {view.name} view. Use it in filters instead."
                )
            if name not in view.dimensions:
                raise MetricsQueryError(
                    f"Invalid dimension {name}. Must be one of {','.join(view.dimensions)}"
                )
        metrics = [_metric(m, view) for m in _list(query, "metrics")]
        if not metrics:
            raise MetricsQueryError("Invalid query: at least one metric is required")
        start, end = _timestamp(query, "fromTimestamp"), _timestamp(query, "toTimestamp")
        if end <= start:
            raise MetricsQueryError("Invalid query: toTimestamp must be after fromTimestamp")
        matches = [_filter(f, view) for f in _list(query, "filters")]
        row_limit = _row_limit(query)

        groups: dict[tuple[Any, ...], list[Any]] = {}
        for record in view.records(self, start, end):
            if not start <= view.time(record) <= end:
                continue
            if not all(match(record) for match in matches):
                continue
            key = tuple(view.dimensions[name](record) for name in dimensions)
            groups.setdefault(key, []).append(record)

        rows = []
        for key, records in groups.items():
            row: dict[str, Any] = dict(zip(dimensions, key, strict=True))
            for measure, aggregation in metrics:
                row[f"{aggregation}_{measure}"] = _aggregate(
                    aggregation, [view.measures[measure](r) for r in records]
                )
            rows.append(row)
        _order(rows, query.get("orderBy"), dimensions, metrics)
        return rows[:row_limit]


def _observed_at(observation: StoredObservation) -> datetime:
    return observation.start_time


def _scored_at(score: StoredScore) -> datetime:
    return score.timestamp


def _window(records: list[Any], start: datetime, end: datetime, time: Callable[[Any], datetime]) -> list[Any]:
    """The records of a time-ordered list within [start, end], in their order."""
    low = bisect.bisect_left(records, start, key=time)
    high = bisect.bisect_right(records, end, key=time)
    return records[low:high]


def _parse(raw_query: str | None) -> dict[str, Any]:
    if not raw_query:
        raise MetricsQueryError("Invalid query: the query parameter is required")
    try:
        query = json.loads(raw_query)
    except ValueError as error:
        raise MetricsQueryError(f"Invalid query: not JSON ({error})") from error
    if not isinstance(query, dict):
        raise MetricsQueryError("Invalid query: expected a JSON object")
    return query


def _list(query: dict[str, Any], key: str) -> list[Any]:
    value = query.get(key) or []
    if not isinstance(value, list):
        raise MetricsQueryError(f"Invalid query: {key} must be an array")
    return value


def _field(item: Any, key: str) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("field"), str):
        raise MetricsQueryError(f"Invalid query: each of {key} needs a string field")
    return str(item["field"])


def _metric(item: Any, view: View) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise MetricsQueryError("Invalid query: each metric needs measure and aggregation")
    measure, aggregation = item.get("measure"), item.get("aggregation")
    if measure not in view.measures:
        raise MetricsQueryError(f"Invalid metric {measure}. Must be one of {','.join(view.measures)}")
    if aggregation == "histogram":
        raise MetricsQueryError("The local store does not implement the histogram aggregation")
    if aggregation not in AGGREGATIONS:
        raise MetricsQueryError(f"Invalid aggregation: {aggregation}")
    return str(measure), str(aggregation)


def _timestamp(query: dict[str, Any], key: str) -> datetime:
    raw = query.get(key)
    if not isinstance(raw, str):
        raise MetricsQueryError(f"Invalid query: {key} is required (an ISO datetime string)")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise MetricsQueryError(f"Invalid query: {key} is not an ISO datetime: {raw!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row_limit(query: dict[str, Any]) -> int:
    config = query.get("config") or {}
    limit = config.get("row_limit", DEFAULT_ROW_LIMIT) if isinstance(config, dict) else None
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_ROW_LIMIT:
        raise MetricsQueryError(f"Invalid query: config.row_limit must be an integer 1..{MAX_ROW_LIMIT}")
    return limit


def _filter(item: Any, view: View) -> Callable[[Any], bool]:
    if not isinstance(item, dict) or not isinstance(item.get("column"), str):
        raise MetricsQueryError("Invalid query: each filter needs a column")
    column, operator, value, kind = item["column"], item.get("operator"), item.get("value"), item.get("type")
    if column in view.dimensions:
        get = view.dimensions[column]
    elif column in view.high_cardinality or column == view.time_field:
        raise MetricsQueryError(f"The local store does not implement filters on {column}")
    else:
        raise MetricsQueryError(
            f"Invalid filter column {column}. Must be one of {','.join(view.dimensions)} or {view.time_field}"
        )
    test = _OPERATORS.get((kind, operator))
    if test is None:
        raise MetricsQueryError(f"Invalid filter: operator {operator!r} for type {kind!r}")
    if kind == "stringOptions" and not isinstance(value, list):
        raise MetricsQueryError("Invalid filter: stringOptions needs an array value")
    return lambda record: test(get(record), value)


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        try:
            return float(actual) == float(wanted)
        except (TypeError, ValueError):
            return False
    return actual is not None and str(actual) == str(wanted)


def _number(test: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    return lambda actual, wanted: actual is not None and test(float(actual), float(wanted))


_OPERATORS: dict[tuple[Any, Any], Callable[[Any, Any], bool]] = {
    ("string", "="): _same,
    ("string", "contains"): lambda a, w: a is not None and str(w) in str(a),
    ("string", "does not contain"): lambda a, w: a is None or str(w) not in str(a),
    ("string", "starts with"): lambda a, w: a is not None and str(a).startswith(str(w)),
    ("string", "ends with"): lambda a, w: a is not None and str(a).endswith(str(w)),
    ("stringOptions", "any of"): lambda a, w: any(_same(a, x) for x in w),
    ("stringOptions", "none of"): lambda a, w: not any(_same(a, x) for x in w),
    ("number", "="): _same,
    ("number", ">"): _number(lambda a, w: a > w),
    ("number", "<"): _number(lambda a, w: a < w),
    ("number", ">="): _number(lambda a, w: a >= w),
    ("number", "<="): _number(lambda a, w: a <= w),
    ("boolean", "="): lambda a, w: bool(a) == bool(w),
    ("boolean", "<>"): lambda a, w: bool(a) != bool(w),
    ("null", "is null"): lambda a, w: a is None,
    ("null", "is not null"): lambda a, w: a is not None,
}


def _aggregate(aggregation: str, values: Sequence[float]) -> float | int:
    if aggregation == "count":
        return len(values)
    if aggregation == "sum":
        return sum(values)
    if aggregation == "avg":
        return sum(values) / len(values)
    if aggregation == "max":
        return max(values)
    if aggregation == "min":
        return min(values)
    return _percentile(values, PERCENTILES[aggregation])


# Linear interpolation between the two nearest values (ClickHouse's `quantile` estimates the same).
def _percentile(values: Iterable[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _order(
    rows: list[dict[str, Any]], order_by: Any, dimensions: list[str], metrics: list[tuple[str, str]]
) -> None:
    keys = {*dimensions, *(f"{a}_{m}" for m, a in metrics)}
    if not order_by:
        measure, aggregation = metrics[0]
        order_by = [{"field": f"{aggregation}_{measure}", "direction": "desc"}]
    if not isinstance(order_by, list):
        raise MetricsQueryError("Invalid query: orderBy must be an array")
    for item in reversed(order_by):
        name = item.get("field") if isinstance(item, dict) else None
        if name not in keys:
            raise MetricsQueryError(
                f"Invalid orderBy field: {name}. Must be one of the dimension or metric fields."
            )
        descending = item.get("direction") == "desc"
        # None sorts last either way, as ClickHouse puts NULLs last by default.
        present = [row for row in rows if row[name] is not None]
        missing = [row for row in rows if row[name] is None]
        present.sort(key=lambda row: (str(type(row[name])), row[name]), reverse=descending)
        rows[:] = present + missing


# ---- demo traffic --------------------------------------------------------------------------
@dataclass(frozen=True)
class VersionTraffic:
    """What one prompt version's generations look like, for seeding."""

    version: int
    generations: int
    exact_match_rate: float
    latency_ms: float = 800.0
    error_rate: float = 0.01
    thumbs_down_rate: float = 0.05
    feedback_share: float = 0.3  # share of generations a user rated


def seed_version_traffic(
    store: MetricsStore,
    traffic: VersionTraffic,
    start: datetime,
    end: datetime,
    prompt_name: str = "support-answer",
    exact_match_score: str = "exact_match",
    feedback_score: str = "user_feedback",
    environment: str = "default",
    seed: int = 7,
) -> int:
    """Spread the version's generations evenly over [start, end], with their scores.

    Exact match is a boolean score on every successful generation; user feedback a numeric
    score, 1 = thumbs-up and 0 = thumbs-down, on `feedback_share` of them. Returns how many
    generations were added. Seeded, so a run is reproducible.
    """
    rng = random.Random(f"{seed}:{prompt_name}:{traffic.version}:{start.isoformat()}")  # noqa: S311 - demo data
    step = (end - start) / max(traffic.generations, 1)
    for index in range(traffic.generations):
        moment = start + step * index
        failed = rng.random() < traffic.error_rate
        observation = store.add_generation(
            prompt_name,
            traffic.version,
            moment,
            latency_ms=traffic.latency_ms * rng.uniform(0.6, 1.4),
            level="ERROR" if failed else "DEFAULT",
            environment=environment,
            total_cost=0.0004,
        )
        if failed:
            continue
        store.add_score(observation, exact_match_score, rng.random() < traffic.exact_match_rate, moment)
        if rng.random() < traffic.feedback_share:
            down = rng.random() < traffic.thumbs_down_rate
            store.add_score(observation, feedback_score, 0.0 if down else 1.0, moment)
    return traffic.generations


def seed_demo_traffic(
    store: MetricsStore, now: datetime | None = None, prompt_name: str = "support-answer"
) -> None:
    """The local-mode demo: v6 was good for a week; v7, now in production, lost exact match.

    v6: 700 generations over the last 7 days (ending 1 h ago), exact match 0.90.
    v7: 200 generations over the last 20 minutes, exact match 0.60: the exporter's
    `langfuse_prompt_score_avg{score="exact_match"}` for v7 is ~0.6 against a baseline of ~0.9,
    so the `exact_match` rule fires once its `for:` has passed.
    """
    moment = now or datetime.now(UTC)
    seed_version_traffic(
        store,
        VersionTraffic(version=6, generations=700, exact_match_rate=0.90),
        moment - timedelta(days=7),
        moment - timedelta(hours=1),
        prompt_name,
    )
    seed_version_traffic(
        store,
        VersionTraffic(version=7, generations=200, exact_match_rate=0.60),
        moment - timedelta(minutes=20),
        moment,
        prompt_name,
    )
