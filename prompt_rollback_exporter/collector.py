"""What /metrics shows for the prompts: built at scrape time from the last good refresh, by a custom
collector (prometheus_client's way for series that come and go), so none show once it went stale."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prompt_rollback.detection import metric_names as m
from prompt_rollback.measurements import Measurements

from prompt_rollback_exporter.refresher import Refresher


class PromptCollector(Collector):
    def __init__(self, refresher: Refresher, environment: str | None) -> None:
        self._refresher = refresher
        self._environment = environment

    def describe(self) -> list[Metric]:
        return []  # series vary per refresh; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        measurements = self._refresher.current()
        if measurements is not None:
            yield from self._families(measurements)

    def _families(self, measurements: Measurements) -> Iterator[Metric]:
        base = [m.PROMPT_NAME, m.PROMPT_VERSION] + ([m.ENV] if self._environment else [])
        env = [self._environment] if self._environment else []

        def family(name: str, documentation: str, extra: list[str] | None = None) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, documentation, labels=[*base, *(extra or [])])

        observations = family(m.OBSERVATIONS, "Generations in the observation window, by level", [m.LEVEL])
        latency = family(m.LATENCY_P99, "P99 generation latency over the observation window")
        latency_baseline = family(
            m.LATENCY_P99_BASELINE, "On the production version: P99 latency of the version before it"
        )
        score_avg = family(m.SCORE_AVG, "Average score over the score window (boolean: true-rate)", [m.SCORE])
        score_count = family(m.SCORE_COUNT, "Scores in the score window", [m.SCORE])
        score_baseline = family(
            m.SCORE_BASELINE, "On the production version: average score of the version before it", [m.SCORE]
        )
        thumbs_down = family(m.FEEDBACK_DOWN_COUNT, "Thumbs-down feedback in the score window", [m.SCORE])
        production = family(m.PRODUCTION, "1 for the version holding the production label")
        rollout_share = family(
            m.ROLLOUT_SHARE, "On a rollout's candidate: its share of units in percent (its canary-N label)"
        )

        for prompt in measurements.prompts:
            labels = [prompt.prompt_name, str(prompt.prompt_version), *env]
            for level, count in sorted(prompt.observations_by_level.items()):
                observations.add_metric([*labels, level], count)
            if prompt.latency_p99_seconds is not None:
                latency.add_metric(labels, prompt.latency_p99_seconds)
            if prompt.latency_p99_baseline is not None:
                latency_baseline.add_metric(labels, prompt.latency_p99_baseline.value)
            for score in prompt.scores.values():
                score_avg.add_metric([*labels, score.score], score.average)
                score_count.add_metric([*labels, score.score], score.count)
                if score.thumbs_down is not None:
                    thumbs_down.add_metric([*labels, score.score], score.thumbs_down)
            for label, baseline in prompt.score_baselines.items():
                score_baseline.add_metric([*labels, label], baseline.value)
            if prompt.in_production:
                production.add_metric(labels, 1)
            if prompt.rollout_share > 0:
                rollout_share.add_metric(labels, prompt.rollout_share)
        yield from (
            observations,
            latency,
            latency_baseline,
            score_avg,
            score_count,
            score_baseline,
            thumbs_down,
            production,
            rollout_share,
        )
