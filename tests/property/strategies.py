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


# ---- the input limits: long text, huge numbers, big labels --------------------------------------


def _repeat_to(piece: str, length: int) -> str:
    piece = piece or "x"
    return (piece * (length // len(piece) + 1))[:length]


# Text up to 12,000 characters, built from a short (nasty) piece so hypothesis' data stays small.
long_text = st.one_of(
    untrusted_text,
    st.builds(_repeat_to, untrusted_text, st.integers(min_value=1_000, max_value=8_000)),
)
# Digit strings a version label may hold: small, at and around the bounds, thousands of digits
# (Python's int() refuses more than 4,300), leading zeros.
huge_numbers = st.one_of(
    small_numbers,
    st.integers(min_value=2**31 - 3, max_value=2**31 + 3).map(str),
    st.integers(min_value=1, max_value=2**70).map(str),
    st.integers(min_value=1, max_value=10_000).map(lambda n: "9" * n),
    st.integers(min_value=0, max_value=6_000).map(lambda zeros: "0" * zeros + "7"),
    st.sampled_from(["4301", " 7 ", "0", "-1", "1e3", "٧", "\uff17"]),  # noqa: RUF001
)
# Many labels, long names, long values.
big_labels = st.one_of(
    st.dictionaries(st.one_of(st.text(min_size=1, max_size=12), long_text), long_text, max_size=6),
    st.builds(
        lambda count, width: {f"label_{n:05d}": "v" * width for n in range(count)},
        st.integers(min_value=0, max_value=3_000),
        st.integers(min_value=0, max_value=40),
    ),
)
_targets = st.sampled_from(
    [
        {},
        {"provider": "bedrock", "prompt_parameter": "/prompts/support-answer/production"},
        {"provider": "bedrock"},  # no target: skipped
        {"prompt_parameter": "/prompts/support-answer/production"},  # stray target: skipped
    ]
)
big_prompt_labels = st.tuples(
    big_labels,
    st.fixed_dictionaries(
        {
            "alertname": long_text,
            # Mostly a usable name, so that many alerts get as far as a request.
            "prompt_name": st.one_of(st.just("support-answer"), st.just("team/support-answer"), prompt_names),
            "prompt_version": huge_numbers,
        },
        optional={"rollback_to": huge_numbers, "env": long_text, "bedrock_model_id": long_text},
    ),
    _targets,
).map(lambda parts: {**parts[0], **parts[1], **parts[2]})
big_annotations = st.fixed_dictionaries(
    {},
    optional={
        "summary": long_text,
        "description": long_text,
        "runbook_url": long_text,
        "rollback_to": huge_numbers,
    },
)
big_alerts = st.fixed_dictionaries(
    {
        "status": st.one_of(st.just("firing"), st.just("firing"), st.just("resolved")),
        "labels": big_prompt_labels,
        "annotations": big_annotations,
        "startsAt": st.just(START.isoformat()),
        "fingerprint": st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
    },
    optional={"generatorURL": long_text},
)
big_bodies = st.fixed_dictionaries(
    {
        "version": st.just("4"),
        "groupKey": long_text,
        "status": st.sampled_from(["firing", "resolved"]),
        "receiver": long_text,
        "alerts": st.lists(big_alerts, min_size=1, max_size=5),
    },
    optional={
        "externalURL": long_text,
        "commonLabels": big_labels,
        "truncatedAlerts": st.one_of(st.integers(min_value=0, max_value=10), st.integers(min_value=0)),
    },
)
