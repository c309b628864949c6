"""Read one run of a Langfuse dataset (an experiment) as gate samples, through the `langfuse` SDK:
scores from the experiment items, latency and errors from the items, cost from the run's generations
summed per trace (docs/detection.md, "From a pair of Langfuse dataset runs")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from regression_gate.loader import InputError, Sample

if TYPE_CHECKING:
    from langfuse.api.client import LangfuseAPI

# Both lists are cursor-paged: calls grow with items / 100 and generations / 1000, not one per item.
ITEMS_PAGE = 100
OBSERVATIONS_PAGE = 1000


@dataclass(frozen=True)
class ScoreNames:
    """Which Langfuse score names hold which gate field."""

    exact_match: str = "exact_match"
    f1: str = "f1"
    judge_score: str = "judge_score"


def load_run(
    api: LangfuseAPI,
    dataset_name: str,
    run_name: str,
    names: ScoreNames | None = None,
    since: datetime | None = None,
) -> list[Sample]:
    """The run's samples; InputError naming what is missing (dataset, run, items)."""
    from langfuse.api.core.api_error import ApiError

    names = names or ScoreNames()
    since = since or datetime.now(UTC) - timedelta(days=90)
    try:
        dataset = api.datasets.get(dataset_name)
        items = list(_items(api, dataset.id, run_name, since))
        if not items:
            raise InputError(
                f"Langfuse dataset {dataset_name!r} has no run {run_name!r} with items since {since:%Y-%m-%d}"
            )
        costs = _costs_by_trace(api, items)
    except ApiError as error:
        if error.status_code == 404:
            raise InputError(f"Langfuse has no dataset {dataset_name!r}") from None
        body = error.body.get("message", error.body) if isinstance(error.body, dict) else error.body
        raise InputError(f"Langfuse answered HTTP {error.status_code}: {str(body)[:300]}") from None
    return [_sample(item, names, costs) for item in items]


def _items(api: LangfuseAPI, dataset_id: str, run_name: str, since: datetime) -> Iterator[Any]:
    cursor: str | None = None
    while True:
        page = api.experiments.list_items(
            from_start_time=since,
            experiment_name=run_name,
            dataset_id=dataset_id,
            fields="core,scores",
            limit=ITEMS_PAGE,
            cursor=cursor,
        )
        yield from page.data
        cursor = page.meta.cursor
        if not cursor:
            return


def _costs_by_trace(api: LangfuseAPI, items: list[Any]) -> dict[str, float]:
    traces = {item.trace_id for item in items}
    start = min(item.start_time for item in items)
    end = max(item.end_time or item.start_time for item in items) + timedelta(seconds=1)
    costs: dict[str, float] = defaultdict(float)
    cursor: str | None = None
    while True:
        page = api.observations.get_many(
            type="GENERATION",
            from_start_time=start,
            to_start_time=end,
            fields="core,usage",
            limit=OBSERVATIONS_PAGE,
            cursor=cursor,
        )
        for observation in page.data:
            if observation.trace_id in traces and observation.total_cost is not None:
                costs[observation.trace_id] += float(observation.total_cost)
        cursor = page.meta.cursor
        if not cursor:
            return dict(costs)


def _sample(item: Any, names: ScoreNames, costs: dict[str, float]) -> Sample:
    by_name = {score.name: score.value for score in item.scores or []}

    def number(name: str) -> float | None:
        value = by_name.get(name)
        if value is None or isinstance(value, str):
            return None
        return float(value)

    latency = None
    if item.end_time is not None:
        latency = max(0.0, (item.end_time - item.start_time).total_seconds() * 1000.0)
    exact = number(names.exact_match)
    return Sample(
        exact_match=None if exact is None else (1.0 if exact >= 0.5 else 0.0),
        f1=number(names.f1),
        judge_score=number(names.judge_score),
        latency_ms=latency,
        cost_usd=costs.get(item.trace_id),
        error=str(item.level) == "ERROR" or getattr(item.level, "value", None) == "ERROR",
    )
