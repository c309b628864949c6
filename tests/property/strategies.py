"""Hypothesis strategies for what Alertmanager (or anyone who has the token) might send."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

# Text meant to break things: Slack mentions and links, path traversal, control and bidi
# characters, look-alike digits, markup.
NASTY = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<#C123|general>",
    "<!subteam^S123>",
    "@channel",
    "@here",
    "@everyone",
    "<https://evil.example|click me>",
    "javascript:alert(1)",
    "..",
    "../",
    "../../etc/passwd",
    "/..",
    "a/../b",
    "%2e%2e%2f",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\u2028",
    "\u202e",
    "\u200b",
    "\ufeff",
    "\ud7ff",
    "٣",
    "\uff17",  # fullwidth 7
    "&amp;",
    "*bold*",
    "`code`",
    "|",
    "support-answer",
    "team/support-answer",
    "7",
    "6",
    " 7",
    "0",
    "-1",
    "1e3",
    "langfuse",
    "bedrock",
    "LANGFUSE",
]

untrusted_text = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(NASTY)), max_size=5).map("".join)

LABEL_NAMES = [
    "alertname",
    "prompt_name",
    "prompt_version",
    "provider",
    "rollback_to",
    "env",
    "severity",
    "bedrock_agent_id",
    "bedrock_agent_alias_id",
    "bedrock_flow_id",
    "bedrock_flow_alias_id",
    "prompt_parameter",
]
ANNOTATION_NAMES = ["summary", "description", "runbook_url", "rollback_to"]

any_labels = st.dictionaries(
    st.one_of(st.sampled_from(LABEL_NAMES), st.text(max_size=12)), untrusted_text, max_size=8
)
prompt_names = st.one_of(
    st.sampled_from(["support-answer", "team/support-answer", "a", "x.y", "team//a", "team/./a"]),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 _.:@+\-/]{0,40}", fullmatch=True),
    untrusted_text,
)
small_numbers = st.integers(min_value=1, max_value=30).map(str)
versions = st.one_of(small_numbers, small_numbers, untrusted_text)
# Labels that name a prompt and a version, so a good share of alerts gets as far as a request.
prompt_labels = st.tuples(
    any_labels,
    st.fixed_dictionaries(
        {"alertname": untrusted_text, "prompt_name": prompt_names, "prompt_version": versions},
        optional={
            "provider": st.one_of(
                st.sampled_from(["langfuse", "LANGFUSE", " langfuse ", "bedrock"]), untrusted_text
            ),
            "rollback_to": versions,
            "env": untrusted_text,
        },
    ),
).map(lambda pair: {**pair[0], **pair[1]})
label_maps = st.one_of(prompt_labels, prompt_labels, any_labels)
annotation_maps = st.dictionaries(
    st.one_of(st.sampled_from(ANNOTATION_NAMES), st.text(max_size=12)), untrusted_text, max_size=4
)

timestamps = st.one_of(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)).map(
        lambda d: d.isoformat().replace("+00:00", "Z")
    ),
    st.just("0001-01-01T00:00:00Z"),
    st.text(max_size=30),
)

fingerprints = st.one_of(
    st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
    st.text(max_size=70),
)

alerts = st.fixed_dictionaries(
    {
        "status": st.one_of(st.sampled_from(["firing", "resolved"]), st.text(max_size=8)),
        "labels": label_maps,
        "annotations": annotation_maps,
        "startsAt": timestamps,
        "fingerprint": fingerprints,
    },
    optional={
        "endsAt": timestamps,
        "generatorURL": untrusted_text,
        "silenceURL": untrusted_text,
    },
)


START = datetime(2026, 4, 17, 14, 0, tzinfo=UTC)


def _well_formed(alert: dict) -> dict:
    """Mostly valid alerts, so most bodies get past validation to the interesting part."""
    fingerprint = alert["fingerprint"]
    return {
        **{k: v for k, v in alert.items() if k != "endsAt"},
        "status": alert["status"] if alert["status"] in ("firing", "resolved") else "firing",
        "startsAt": (START + timedelta(seconds=len(str(alert)))).isoformat(),
        "fingerprint": fingerprint if re.fullmatch(r"[0-9A-Za-z]{1,64}", fingerprint) else "0123456789abcdef",
    }


bodies = st.fixed_dictionaries(
    {
        "version": st.one_of(st.just("4"), st.just("4"), st.just("4"), st.text(max_size=3)),
        "groupKey": untrusted_text,
        "status": st.sampled_from(["firing", "resolved"]),
        "receiver": untrusted_text,
        "alerts": st.one_of(
            st.lists(alerts.map(_well_formed), max_size=6),
            st.lists(alerts.map(_well_formed), max_size=6),
            st.lists(st.one_of(alerts, alerts.map(_well_formed)), max_size=6),
        ),
    },
    optional={
        "groupLabels": label_maps,
        "commonLabels": label_maps,
        "commonAnnotations": annotation_maps,
        "externalURL": untrusted_text,
        "truncatedAlerts": st.integers(min_value=-2, max_value=5),
    },
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | untrusted_text | st.just("\ud800"),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
