"""The Grafana dashboard in deploy/grafana/, built with grafana-foundation-sdk from the trigger table.
Not Lambda code: only `python -m prompt_rollback.detection` imports it, and the SDK is a development
dependency (requirements-dev.txt), never in a function's asset requirements."""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
)

from prompt_rollback.detection import metric_names as m
from prompt_rollback.detection.rules import duration
from prompt_rollback.detection.triggers import TRIGGERS, Comparison, Trigger

DASHBOARD_PATH = Path("deploy") / "grafana" / "dashboards" / "prompt-rollback.json"
UID = "prompt-rollback-triggers"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
# Every query is about one prompt (and, when the exporter filters on one, one environment).
SELECTOR = f'{m.PROMPT_NAME}="$prompt", {m.ENV}=~"$env"'
# How far back an annotation looks for the state it compares with: one default annotation step.
STEP = "1m"
_UNITS = {
    "exact_match": "percentunit",
    "latency_p99": "s",
    "error_rate": "percentunit",
    "thumbs_down": "percentunit",
}


def _select(metric: str, *matchers: str, offset: str = "") -> str:
    return f"{metric}{{{', '.join((*matchers, SELECTOR))}}}" + (f" offset {offset}" if offset else "")


def _per_version(metric: str, *matchers: str, offset: str = "") -> str:
    return f"max by ({m.PROMPT_VERSION}) ({_select(metric, *matchers, offset=offset)})"


def _observations(*matchers: str) -> str:
    return f"sum by ({m.PROMPT_VERSION}) ({_select(m.OBSERVATIONS, *matchers)})"


def measured(trigger: Trigger) -> str:
    """What `trigger` measures, one series per prompt version (the rule's left-hand side)."""
    exact, feedback = f'{m.SCORE}="{m.EXACT_MATCH_SCORE}"', f'{m.SCORE}="{m.FEEDBACK_SCORE}"'
    if trigger.name == "exact_match":
        return _per_version(m.SCORE_AVG, exact)
    if trigger.name == "latency_p99":
        return _per_version(m.LATENCY_P99)
    if trigger.name == "error_rate":
        # No ERROR series at all is a rate of 0, not a gap in the line.
        level = f'{m.LEVEL}="ERROR"'
        errors = f"({_observations(level)} or 0 * {_observations()})"
        return f"{errors} / {_observations()}"
    if trigger.name == "thumbs_down":
        return f"{_per_version(m.FEEDBACK_DOWN_COUNT, feedback)} / {_per_version(m.SCORE_COUNT, feedback)}"
    raise ValueError(f"no dashboard query for trigger {trigger.name!r}")


def limit(trigger: Trigger) -> str | None:
    """Where the alert fires, as a series, for a trigger held against the version before it."""
    if trigger.comparison is Comparison.DROP_BELOW_BASELINE:
        score = f'{m.SCORE}="{m.EXACT_MATCH_SCORE}"'
        return f"{_per_version(m.SCORE_BASELINE, score)} - {trigger.threshold:g}"
    if trigger.comparison is Comparison.RATIO_ABOVE_BASELINE:
        return f"{_per_version(m.LATENCY_P99_BASELINE)} * {trigger.threshold:g}"
    return None


def stable(expression: str) -> str:
    """Only the version holding production."""
    return f"({expression}) and on ({m.PROMPT_VERSION}) ({_per_version(m.PRODUCTION)} == 1)"


def canary(expression: str) -> str:
    """Only the rollout's candidate: a version with a traffic share."""
    return f"({expression}) and on ({m.PROMPT_VERSION}) ({_per_version(m.ROLLOUT_SHARE)} > 0)"


def _query(expression: str, legend: str, ref: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expression).legend_format(legend).ref_id(ref).datasource(DATASOURCE)


def _words(trigger: Trigger) -> str:
    comparison = {
        Comparison.DROP_BELOW_BASELINE: f"more than {trigger.threshold:g} below the version before it",
        Comparison.RATIO_ABOVE_BASELINE: f"more than {trigger.threshold:g}x the version before it",
        Comparison.ABOVE: f"above {trigger.threshold:g}",
    }[trigger.comparison]
    return (
        f"{trigger.measure.capitalize()} per version over {duration(trigger.window)}. The rollback "
        f"trigger `{trigger.name}` fires on the production version when it is {comparison} for "
        f"{duration(trigger.for_duration)}, with at least {trigger.min_samples} {trigger.samples}."
    )


def _panel(title: str, trigger: Trigger) -> timeseries.Panel:
    panel = (
        timeseries.Panel().title(title).datasource(DATASOURCE).unit(_UNITS[trigger.name]).height(8).span(12)
    )
    if trigger.comparison is Comparison.ABOVE:
        steps = [Threshold(value=None, color="green"), Threshold(value=trigger.threshold, color="red")]
        panel = panel.thresholds(dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
        panel = panel.thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
        )
    return panel


def version_panel(trigger: Trigger) -> timeseries.Panel:
    panel = _panel(f"{trigger.measure} per version", trigger).description(_words(trigger))
    panel = panel.with_target(_query(measured(trigger), "v{{prompt_version}}", "A"))
    if (line := limit(trigger)) is not None:
        panel = panel.with_target(_query(line, "fires past this (v{{prompt_version}})", "B"))
    return panel


def canary_panel(trigger: Trigger) -> timeseries.Panel:
    description = (
        f"{trigger.measure.capitalize()} of the rollout's candidate (a version with a traffic share) "
        "against stable (the version holding production), over the same minutes."
    )
    return (
        _panel(f"{trigger.measure}: canary against stable", trigger)
        .description(description)
        .with_target(_query(stable(measured(trigger)), "stable v{{prompt_version}}", "A"))
        .with_target(_query(canary(measured(trigger)), "canary v{{prompt_version}}", "B"))
    )


def share_panel() -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title("canary share")
        .description("The candidate's share of units in percent (its `canary-N` label).")
        .datasource(DATASOURCE)
        .unit("percent")
        .min(0)
        .max(100)
        .height(8)
        .span(12)
        .with_target(_query(_per_version(m.ROLLOUT_SHARE), "canary v{{prompt_version}}", "A"))
    )


def _newly(metric: str) -> str:
    """A version's series that was not there one step before."""
    return f"{_per_version(metric)} unless {_per_version(metric, offset=STEP)}"


def _changed(metric: str) -> str:
    return f"{_per_version(metric)} != {_per_version(metric, offset=STEP)}"


# From the exporter's series: which version holds production, and the candidate's share. A moved
# production pointer is a rollback, a promotion or a person's move: the audit trail says which.
ANNOTATIONS = {
    "production moved": (_newly(m.PRODUCTION), "red"),
    "rollout step": (f"({_newly(m.ROLLOUT_SHARE)}) or ({_changed(m.ROLLOUT_SHARE)})", "blue"),
}


def _variables() -> list[dash.DatasourceVariable | dash.QueryVariable]:
    return [
        dash.DatasourceVariable("datasource").label("Prometheus").type("prometheus"),
        dash.QueryVariable("prompt")
        .label("prompt")
        .datasource(DATASOURCE)
        .query(f"label_values({m.PRODUCTION}, {m.PROMPT_NAME})")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED),
        dash.QueryVariable("env")
        .label("env")
        .datasource(DATASOURCE)
        .query(f'label_values({m.PRODUCTION}{{{m.PROMPT_NAME}="$prompt"}}, {m.ENV})')
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(True)
        .all_value(".*"),
    ]


def build() -> dash.Dashboard:
    board = (
        dash.Dashboard("prompt-rollback: prompt versions")
        .uid(UID)
        .tags(["prompt-rollback", "langfuse"])
        .description("Generated by `python -m prompt_rollback.detection` from detection/triggers.py.")
        .time("now-6h", "now")
        .refresh("1m")
        .tooltip(DashboardCursorSync.CROSSHAIR)
    )
    for variable in _variables():
        board = board.with_variable(variable)
    for name, (expression, color) in ANNOTATIONS.items():
        board = board.annotation(
            dash.AnnotationQuery()
            .name(name)
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color(color)
            .expr(expression)
        )
    # Open rows, as Grafana saves them: each row a divider, its panels after it at the top level.
    board = board.with_row(dash.Row("Each version: the rollback triggers").collapsed(False))
    for trigger in TRIGGERS:
        board = board.with_panel(version_panel(trigger))
    board = board.with_row(dash.Row("Rollout: canary against stable").collapsed(False))
    for panel in (share_panel(), *(canary_panel(trigger) for trigger in TRIGGERS)):
        board = board.with_panel(panel)
    return board


def render() -> str:
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def expressions(rendered: str) -> list[str]:
    """Every PromQL expression in a rendered dashboard: panel targets and annotations."""
    board = json.loads(rendered)
    found = [str(a["expr"]) for a in board.get("annotations", {}).get("list", []) if a.get("expr")]
    panels = [*board.get("panels", [])]
    for row in list(panels):
        panels.extend(row.get("panels", []))
    found += [str(t["expr"]) for panel in panels for t in panel.get("targets", []) if t.get("expr")]
    return found
