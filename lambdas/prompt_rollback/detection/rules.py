"""Render deploy/prometheus/rules/langfuse-regressions.yml from the trigger table, as text (not
through a YAML library) so the file keeps its comments and this module needs only the stdlib."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from prompt_rollback.detection import metric_names as m
from prompt_rollback.detection.triggers import (
    EXPORTER_ALERT_FOR,
    EXPORTER_JOB,
    EXPORTER_STALE_INTERVALS,
    TRIGGERS,
    Comparison,
    Trigger,
)

RULES_PATH = Path("deploy") / "prometheus" / "rules" / "langfuse-regressions.yml"
ALERT_NAME = "PromptRegression"
KEYS = "env, prompt_name, prompt_version"
RUNBOOK = "https://runbooks.example.com/prompt-rollback/detection"


def duration(value: timedelta) -> str:
    """A Prometheus duration (`90m` -> `1h30m`, `0s` for zero)."""
    seconds = int(value.total_seconds())
    if seconds < 0 or seconds != value.total_seconds():
        raise ValueError(f"a rule duration must be whole, non-negative seconds: {value}")
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _by(metric: str, selector: str = "") -> str:
    """One value per prompt version, whatever job/instance labels the scrape added."""
    return f"max by ({KEYS}) ({metric}{selector})"


def _observations(selector: str = "") -> str:
    return f"sum by ({KEYS}) ({m.OBSERVATIONS}{selector})"


def _in_production() -> str:
    return f"and on ({KEYS})\n{_by(m.PRODUCTION)} == 1"


def expression(trigger: Trigger) -> str:
    """The alert expression of one trigger: condition, low-traffic guard, production only."""
    score = "{" + f'{m.SCORE}="{m.EXACT_MATCH_SCORE}"' + "}"
    feedback = "{" + f'{m.SCORE}="{m.FEEDBACK_SCORE}"' + "}"
    errors = "{" + f'{m.LEVEL}="ERROR"' + "}"
    if trigger.name == "exact_match":
        condition = (
            f"(\n  {_by(m.SCORE_AVG, score)}\n  - on ({KEYS})\n  {_by(m.SCORE_BASELINE, score)}\n)"
            f" < -{trigger.threshold:g}"
        )
        guard = f"{_by(m.SCORE_COUNT, score)} >= {trigger.min_samples}"
    elif trigger.name == "latency_p99":
        condition = (
            f"(\n  {_by(m.LATENCY_P99)}\n  / on ({KEYS})\n  {_by(m.LATENCY_P99_BASELINE)}\n)"
            f" > {trigger.threshold:g}"
        )
        guard = f"{_observations()} >= {trigger.min_samples}"
    elif trigger.name == "error_rate":
        condition = (
            f"(\n  {_observations(errors)}\n  / on ({KEYS})\n  {_observations()}\n) > {trigger.threshold:g}"
        )
        guard = f"{_observations()} >= {trigger.min_samples}"
    elif trigger.name == "thumbs_down":
        condition = (
            f"(\n  {_by(m.FEEDBACK_DOWN_COUNT, feedback)}\n  / on ({KEYS})\n"
            f"  {_by(m.SCORE_COUNT, feedback)}\n) > {trigger.threshold:g}"
        )
        guard = f"{_by(m.SCORE_COUNT, feedback)} >= {trigger.min_samples}"
    else:
        raise ValueError(f"no rule expression for trigger {trigger.name!r}")
    return f"{condition}\nand on ({KEYS})\n{guard}\n{_in_production()}"


def _limit(trigger: Trigger) -> str:
    if trigger.comparison is Comparison.DROP_BELOW_BASELINE:
        return f"more than {trigger.threshold:g} below the previous version's"
    if trigger.comparison is Comparison.RATIO_ABOVE_BASELINE:
        return f"more than {trigger.threshold:g}x the previous version's"
    return f"above {trigger.threshold:.0%}"


def _value_format(trigger: Trigger) -> str:
    if trigger.comparison is Comparison.DROP_BELOW_BASELINE:
        return '{{ printf "%+.3f" $value }} vs the previous version'
    if trigger.comparison is Comparison.RATIO_ABOVE_BASELINE:
        return '{{ printf "%.2f" $value }}x the previous version'
    return "{{ $value | humanizePercentage }}"


def _quote(text: str) -> str:
    """A single-quoted YAML scalar (no escapes but the doubled quote)."""
    return "'" + text.replace("'", "''") + "'"


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in text.splitlines())


def _alert(trigger: Trigger) -> str:
    summary = (
        "{{ $labels.prompt_name }} v{{ $labels.prompt_version }}: "
        f"{trigger.measure} {_value_format(trigger)}"
    )
    description = (
        f"The {trigger.measure} of prompt {{{{ $labels.prompt_name }}}} version "
        "{{ $labels.prompt_version }}{{ with $labels.env }} (env {{ . }}){{ end }}, "
        f"the version holding production, measured by the Langfuse exporter over {duration(trigger.window)}, "
        f"is {_limit(trigger)} for {duration(trigger.for_duration)}, on at least {trigger.min_samples} "
        f"{trigger.samples}. prompt-rollback moves the production label off this version."
    )
    anchor = trigger.name.replace("_", "-")
    return "\n".join(
        [
            f"- alert: {ALERT_NAME}",
            "  expr: |",
            _indent(expression(trigger), 4),
            f"  for: {duration(trigger.for_duration)}",
            "  labels:",
            "    severity: critical",
            f"    trigger: {trigger.name}",
            "    provider: langfuse",
            "  annotations:",
            f"    summary: {_quote(summary)}",
            f"    description: {_quote(description)}",
            f"    runbook_url: {RUNBOOK}#langfuse-{anchor}",
        ]
    )


def _exporter_alerts() -> str:
    stale = f"(time() - {m.LAST_SUCCESS})\n> {EXPORTER_STALE_INTERVALS} * {m.REFRESH_INTERVAL}"
    down = f'up{{job="{EXPORTER_JOB}"}} == 0\nor\nabsent(up{{job="{EXPORTER_JOB}"}})'
    for_ = duration(EXPORTER_ALERT_FOR)
    return "\n".join(
        [
            "- alert: LangfuseExporterDown",
            "  expr: |",
            _indent(down, 4),
            f"  for: {for_}",
            "  labels:",
            "    severity: warning",
            "  annotations:",
            f"    summary: 'The Langfuse exporter (job {EXPORTER_JOB}) cannot be scraped'",
            "    description: 'Prometheus has not scraped the Langfuse exporter for "
            f"{for_}: no Langfuse regression can raise an alert until it is back.'",
            f"    runbook_url: {RUNBOOK}#langfuse-exporter",
            "- alert: LangfuseExporterStale",
            "  expr: |",
            _indent(stale, 4),
            f"  for: {for_}",
            "  labels:",
            "    severity: warning",
            "  annotations:",
            "    summary: 'The Langfuse exporter on {{ $labels.instance }} has not refreshed from Langfuse'",
            "    description: 'The last successful refresh from Langfuse was more than "
            f"{EXPORTER_STALE_INTERVALS} refresh intervals ago: the exporter has dropped its prompt series, "
            "so no Langfuse regression can raise an alert. Its log and "
            f"{m.REFRESH_ERRORS}_total say why.'",
            f"    runbook_url: {RUNBOOK}#langfuse-exporter",
        ]
    )


def render(triggers: Iterable[Trigger] = TRIGGERS) -> str:
    """The whole rules file."""
    triggers = tuple(triggers)
    table = "\n".join(
        f"#   {t.name:<12} {t.measure}: {_limit(t)}; window {duration(t.window)}, "
        f"at least {t.min_samples} {t.samples}, for {duration(t.for_duration)}"
        for t in triggers
    )
    header = f"""\
# GENERATED from lambdas/prompt_rollback/detection/triggers.py by
# `PYTHONPATH=lambdas python -m prompt_rollback.detection`: edit the table, not this file
# (tests/detection/test_langfuse_rules.py fails when the two differ).
#
# Rollback rules over the metrics of the Langfuse exporter (`prompt-rollback-exporter`,
# docs/detection.md). No code in the LLM app: the exporter reads generations and scores from
# Langfuse, grouped by prompt name and version, and publishes on each production version the
# same measure of the version before it (`*_baseline`), so the rules compare without a join.
#
# Every alert is `PromptRegression` with the labels the webhook reads: prompt_name,
# prompt_version, provider="langfuse", trigger, severity (and env when the exporter filters on
# a Langfuse environment). Only the version holding `production` can fire.
#
{table}
#
# The windows live in the exporter (its values already cover them); Langfuse's v2 metrics may
# lag 5-10 minutes, which is why they are longer than the app-metric rules' windows.
# Scrape the exporter as job "{EXPORTER_JOB}" for the exporter alerts below.
groups:
  - name: langfuse-regressions.alerts
    rules:
"""
    alerts = "\n\n".join(_indent(_alert(t), 6) for t in triggers)
    exporter = f"""
  - name: langfuse-exporter.alerts
    rules:
{_indent(_exporter_alerts(), 6)}
"""
    return header + alerts + "\n" + exporter
