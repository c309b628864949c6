"""The exporter's metric and label names: a public contract (docs/detection.md). Rules,
dashboards and the watcher depend on these strings; renaming one is a breaking change."""

from __future__ import annotations

# Per prompt version, labelled prompt_name, prompt_version (and env when the exporter filters on one).
OBSERVATIONS = "langfuse_prompt_observations"  # + level; generations in the window
LATENCY_P99 = "langfuse_prompt_latency_p99_seconds"
LATENCY_P99_BASELINE = "langfuse_prompt_latency_p99_baseline_seconds"
SCORE_AVG = "langfuse_prompt_score_avg"  # + score; boolean scores: the true-rate
SCORE_COUNT = "langfuse_prompt_score_count"  # + score
SCORE_BASELINE = "langfuse_prompt_score_baseline"  # + score
FEEDBACK_DOWN_COUNT = "langfuse_prompt_feedback_down_count"  # + score; ratings equal to the thumbs-down value
PRODUCTION = "langfuse_prompt_production"  # 1 on the version holding the `production` label
# The rollout candidate's share in percent (its `canary-N` label), on that version, only while it
# splits traffic with production. The dashboard's canary panels and rollout-step annotations read it.
ROLLOUT_SHARE = "langfuse_prompt_rollout_share"

# The exporter's own health.
LAST_SUCCESS = "langfuse_exporter_last_refresh_success_timestamp_seconds"
REFRESH_INTERVAL = "langfuse_exporter_refresh_interval_seconds"
REFRESH_ERRORS = "langfuse_exporter_refresh_errors"  # counter, exported as ..._total; + reason
REFRESH_DURATION = "langfuse_exporter_refresh_duration_seconds"  # histogram
API_CALLS = "langfuse_exporter_api_calls"  # counter, exported as ..._total; + endpoint, status

# Label names.
PROMPT_NAME = "prompt_name"
PROMPT_VERSION = "prompt_version"
ENV = "env"
LEVEL = "level"
SCORE = "score"

# The `score` label values the rules select: the exporter maps the configured Langfuse score
# names onto these, so the shipped rules hold whatever the scores are called in Langfuse.
EXACT_MATCH_SCORE = "exact_match"
FEEDBACK_SCORE = "user_feedback"
