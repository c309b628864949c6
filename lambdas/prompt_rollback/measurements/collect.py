"""One refresh of measurements through the `langfuse` SDK's REST client (`LangfuseAPI`): six grouped
queries plus one prompts-list page per 100 prompts holding production (and, to read rollouts, per 100
holding the candidate label); a full answer is split by prompt name (docs/detection.md, "Cost")."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx

from prompt_rollback.detection import metric_names
from prompt_rollback.domain.retry_after import retry_after_seconds
from prompt_rollback.measurements.baseline import previous_version_baseline
from prompt_rollback.measurements.errors import (
    LangfuseQueryRejected,
    LangfuseRateLimited,
    LangfuseUnavailable,
    MeasurementError,
    MetricsEndpointMissing,
)
from prompt_rollback.measurements.queries import MetricsQuery, number, refresh_queries, version
from prompt_rollback.measurements.records import (
    BaselineValue,
    Measurements,
    MeasurementSettings,
    PromptMeasurement,
    ScoreMeasurement,
)
from prompt_rollback.measurements.rollout_shares import rollout_shares

if TYPE_CHECKING:
    from langfuse.api import PromptMeta
    from langfuse.api.client import LangfuseAPI
    from langfuse.api.core.request_options import RequestOptions

logger = logging.getLogger(__name__)

OnCall = Callable[[str, str], None]  # (endpoint, outcome: HTTP status or "error")
Row = dict[str, Any]
Key = tuple[str, int]  # (prompt name, version)
# The version that held production before (prompt name, production version), or None: not known.
PreviousProduction = Callable[[str, int], int | None]

METRICS_ENDPOINT = "GET /api/public/v2/metrics"
PROMPTS_ENDPOINT = "GET /api/public/v2/prompts"
# The SDK's own retries are off: every request is counted, and a 429's Retry-After goes back to the
# caller, which decides when to try again instead of sleeping here.
NO_RETRIES: RequestOptions = {"max_retries": 0}


def measure(
    api: LangfuseAPI,
    settings: MeasurementSettings,
    now: datetime,
    on_call: OnCall | None = None,
    previous_production: PreviousProduction | None = None,
) -> Measurements:
    """Read every prompt version's measurements at `now`; MeasurementError when Langfuse fails.
    With `previous_production` (the ledger's word), a production version is compared with the
    version it replaced rather than with the highest lower one."""
    reader = _Reader(api, settings, now, on_call)
    production = reader.production_versions()
    label = settings.candidate_label
    shares = rollout_shares(reader.labelled(label), production, label) if label else {}
    names = sorted(production)
    levels, latency, scores, thumbs, baseline_latency, baseline_scores = (
        reader.rows(query, names) for query in refresh_queries(settings)
    )
    by_level = _observations_by_level(levels)
    p99 = {key: value for key, (value, _) in _latencies(latency).items()}
    score_values = _scores(scores, settings, _thumbs_down(thumbs))
    # Baseline inputs: per prompt, per version, (value, samples) over the baseline window.
    latency_history: dict[str, dict[int, tuple[float, int]]] = defaultdict(dict)
    for (name, prompt_version), value_and_count in _latencies(baseline_latency).items():
        latency_history[name][prompt_version] = value_and_count
    score_history = _score_history(baseline_scores, settings)

    prompts = []
    for name, prompt_version in sorted({*by_level, *p99, *score_values, *production.items(), *shares}):
        in_production = production.get(name) == prompt_version
        key = (name, prompt_version)
        known = previous_production(name, prompt_version) if previous_production and in_production else None
        prompts.append(
            PromptMeasurement(
                prompt_name=name,
                prompt_version=prompt_version,
                in_production=in_production,
                observations_by_level=dict(by_level.get(key, {})),
                latency_p99_seconds=p99.get(key),
                scores=dict(score_values.get(key, {})),
                latency_p99_baseline=previous_version_baseline(
                    prompt_version, latency_history.get(name, {}), settings.baseline_min_generations, known
                )
                if in_production
                else None,
                score_baselines=_score_baselines(key, score_history, settings, known)
                if in_production
                else {},
                rollout_share=shares.get(key, 0),
            )
        )
    return Measurements(
        taken_at=now, prompts=tuple(prompts), api_calls=reader.calls, truncated_queries=reader.truncated
    )


def _count(row: Row) -> int:
    return int(number(row.get("count_count")) or 0)


def _observations_by_level(rows: Sequence[Row]) -> dict[Key, dict[str, int]]:
    by_level: dict[Key, dict[str, int]] = defaultdict(dict)
    for row in rows:
        key = _key(row, "promptName", "promptVersion")
        if key is not None:
            level = str(row.get("level") or "DEFAULT")
            by_level[key][level] = by_level[key].get(level, 0) + _count(row)
    return by_level


def _latencies(rows: Sequence[Row]) -> dict[Key, tuple[float, int]]:
    """P99 latency in seconds (Langfuse answers milliseconds) and the generations it is over."""
    found: dict[Key, tuple[float, int]] = {}
    for row in rows:
        key = _key(row, "promptName", "promptVersion")
        value = number(row.get("p99_latency"))
        if key is not None and value is not None:
            found[key] = (value / 1000.0, _count(row))
    return found


def _thumbs_down(rows: Sequence[Row]) -> dict[Key, int]:
    down: dict[Key, int] = {}
    for row in rows:
        key = _key(row, "observationPromptName", "observationPromptVersion")
        if key is not None:
            down[key] = down.get(key, 0) + _count(row)
    return down


def _score_rows(rows: Sequence[Row], settings: MeasurementSettings) -> Iterator[tuple[Key, str, float, int]]:
    """(prompt version, score label, average, count) of the rows that name all of them."""
    for row in rows:
        key = _key(row, "observationPromptName", "observationPromptVersion")
        label = settings.score_label(str(row.get("name")))
        average = number(row.get("avg_value"))
        if key is not None and label is not None and average is not None:
            yield key, label, average, _count(row)


def _scores(
    rows: Sequence[Row], settings: MeasurementSettings, down: dict[Key, int]
) -> dict[Key, dict[str, ScoreMeasurement]]:
    score_values: dict[Key, dict[str, ScoreMeasurement]] = defaultdict(dict)
    for key, label, average, count in _score_rows(rows, settings):
        is_feedback = label == metric_names.FEEDBACK_SCORE
        score_values[key][label] = ScoreMeasurement(
            score=label, average=average, count=count, thumbs_down=down.get(key, 0) if is_feedback else None
        )
    return score_values


ScoreHistory = dict[tuple[str, str], dict[int, tuple[float, int]]]


def _score_history(rows: Sequence[Row], settings: MeasurementSettings) -> ScoreHistory:
    history: ScoreHistory = defaultdict(dict)
    for (name, prompt_version), label, average, count in _score_rows(rows, settings):
        history[(name, label)][prompt_version] = (average, count)
    return history


def _score_baselines(
    key: Key, history: ScoreHistory, settings: MeasurementSettings, known_previous: int | None = None
) -> dict[str, BaselineValue]:
    baselines: dict[str, BaselineValue] = {}
    for (prompt, label), by_version in history.items():
        if prompt == key[0]:
            found = previous_version_baseline(
                key[1], by_version, settings.baseline_min_scores, known_previous
            )
            if found is not None:
                baselines[label] = found
    return baselines


def _key(row: Row, name_field: str, version_field: str) -> Key | None:
    name, parsed = row.get(name_field), version(row.get(version_field))
    if not isinstance(name, str) or not name or parsed is None:
        return None
    return name, parsed


class _Reader:
    """The SDK calls of one refresh, counted, with Langfuse's failures turned into ours."""

    def __init__(
        self, api: LangfuseAPI, settings: MeasurementSettings, now: datetime, on_call: OnCall | None
    ) -> None:
        self._api = api
        self._settings = settings
        self._now = now
        self._on_call = on_call
        self.calls = 0
        self.truncated = 0

    def production_versions(self) -> dict[str, int]:
        """Prompt name -> the version holding `production`."""
        return {meta.name: max(meta.versions) for meta in self.labelled("production") if meta.versions}

    def labelled(self, label: str) -> list[PromptMeta]:
        """The prompts-list entries of the prompts with a version holding `label` (all pages); each
        entry's versions and labels are those of the versions holding it."""
        found: list[PromptMeta] = []
        page, pages = 1, 1
        while page <= pages:
            response = self._call(
                PROMPTS_ENDPOINT,
                partial(
                    self._api.prompts.list,
                    label=label,
                    page=page,
                    limit=self._settings.prompt_page_size,
                    request_options=NO_RETRIES,
                ),
            )
            found.extend(response.data)
            pages = int(response.meta.total_pages or 1)
            page += 1
        return found

    def rows(self, query: MetricsQuery, names: Sequence[str]) -> list[Row]:
        """All rows of a query: one call, or, when the answer is full, split by prompt name."""
        rows = self._query(query, None)
        if len(rows) < self._settings.row_limit:
            return rows
        logger.info(
            "the %s query filled row_limit=%d; splitting it by prompt name",
            query.purpose,
            self._settings.row_limit,
        )
        return self._split(query, list(names))

    def _split(self, query: MetricsQuery, names: list[str]) -> list[Row]:
        if not names:
            return []
        middle = len(names) // 2
        parts = [names] if len(names) == 1 else [names[:middle], names[middle:]]
        rows: list[Row] = []
        for part in parts:
            answer = self._query(query, part)
            if len(answer) < self._settings.row_limit:
                rows.extend(answer)
            elif len(part) == 1:
                self.truncated += 1
                logger.warning(
                    "the %s query for prompt %r alone fills row_limit=%d; rows were cut",
                    query.purpose,
                    part[0],
                    self._settings.row_limit,
                )
                rows.extend(answer)
            else:
                rows.extend(self._split(query, part))
        return rows

    def _query(self, query: MetricsQuery, names: Sequence[str] | None) -> list[Row]:
        body = query.to_json(self._now, self._settings.row_limit, names)
        try:
            response = self._call(
                METRICS_ENDPOINT,
                partial(self._api.metrics.metrics, query=body, request_options=NO_RETRIES),
            )
        except _BadRequest as error:
            raise LangfuseQueryRejected(query.view, error.message) from None
        return [dict(row) for row in response.data]

    def _call(self, endpoint: str, request: Callable[[], Any]) -> Any:
        from langfuse.api.core.api_error import ApiError

        self.calls += 1
        try:
            result = request()
        except ApiError as error:
            status = error.status_code
            self._count(endpoint, str(status) if status is not None else "error")
            raise _translate(endpoint, error) from None
        except (httpx.HTTPError, ValueError) as error:  # transport failure, unreadable body
            self._count(endpoint, "error")
            raise LangfuseUnavailable(f"{endpoint} failed: {type(error).__name__}: {error}") from None
        self._count(endpoint, "200")
        return result

    def _count(self, endpoint: str, outcome: str) -> None:
        if self._on_call is not None:
            self._on_call(endpoint, outcome)


class _BadRequest(MeasurementError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _translate(endpoint: str, error: Any) -> MeasurementError:
    status = error.status_code
    if status == 429:
        return LangfuseRateLimited(endpoint, retry_after_seconds(error.headers or {}, datetime.now(UTC)))
    if status == 400 and endpoint == METRICS_ENDPOINT:
        return _BadRequest(_message(error.body))
    if status == 404 and endpoint == METRICS_ENDPOINT:
        return MetricsEndpointMissing()
    return LangfuseUnavailable(f"{endpoint} answered HTTP {status}: {_message(error.body)}", status)


def _message(body: Any) -> str:
    """Langfuse's error message, cut to a loggable size (bodies are JSON `{"message": ...}`)."""
    text = body.get("message", body) if isinstance(body, dict) else body
    return str(text)[:500]
