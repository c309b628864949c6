"""Amazon Managed Service for Prometheus: an alert manager notification delivered through SNS.
Reads our `printf "%q"` JSON template, AWS's documented JSON template when it parses, and skips
AMP's default text and truncated messages with a reason (docs/sources.md says which and why)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError, field_validator

from prompt_rollback.domain.alertmanager import Alert, AlertGroup
from prompt_rollback.domain.intake import SkipKind, SkippedAlert
from prompt_rollback.domain.sources import Converted, problem_locations, quoted

TEMPLATE_HINT = (
    "set template_files.default_template to the sns.default.message template in "
    "deploy/amp/alertmanager.yaml (docs/sources.md#amazon-managed-service-for-prometheus)"
)
TRUNCATED_ATTRIBUTE = "truncated"
MODIFIED_ATTRIBUTE = "modified"
MAX_GROUP_KEY_LENGTH = 4096

# Go's time.Time String(): "2006-01-02 15:04:05.999999999 -0700 MST", maybe with a monotonic "m=+1.2".
_GO_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2}) (?P<clock>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r" (?P<offset>[+-]\d{4})(?: [A-Za-z0-9+-]{1,10})?(?: m=[+-]\d+(?:\.\d+)?)?$"
)
_TEXT_FORMAT_MARKERS = ("Alerts Firing:", "Alerts Resolved:")
_TEXT_LABEL_LINE = re.compile(r"^\s*-\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*)$")
# In a message cut short, the complete `"labels": {...}` objects still name the alerts it held.
_JSON_LABELS = re.compile(r'"labels":\s*\{(?P<pairs>[^{}]*)\}')
_JSON_PAIR = re.compile(r'"(?P<name>[A-Za-z_][A-Za-z0-9_]*)":\s*"(?P<value>(?:[^"\\]|\\.)*)"')


def _moment(value: Any) -> Any:
    """RFC 3339 (our template) as is; Go's time.Time text (AWS's template) rewritten to RFC 3339."""
    if not isinstance(value, str):
        return value
    match = _GO_TIME.match(value.strip())
    if not match:
        return value
    fraction = (match["fraction"] or "")[:6]
    offset = match["offset"]
    return f"{match['date']}T{match['clock']}{'.' + fraction if fraction else ''}{offset[:3]}:{offset[3:]}"


class AmpAlert(Alert):
    # Checked when the body is converted, so a bad one is skipped with the reason that says so.
    fingerprint: str

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _go_time(cls, value: Any) -> Any:
        return _moment(value)

    @field_validator("ends_at")
    @classmethod
    def _zero_is_none(cls, value: datetime | None) -> datetime | None:
        # A firing alert's EndsAt is Go's zero time (year 1) in AWS's template.
        return None if value is not None and value.year == 1 else value

    def in_utc(self) -> AmpAlert:
        return self.model_copy(
            update={
                "starts_at": self.starts_at.astimezone(UTC),
                "ends_at": self.ends_at.astimezone(UTC) if self.ends_at else None,
            }
        )


class AmpMessage(AlertGroup):
    """The JSON that deploy/amp's template (or AWS's documented one) renders."""

    alerts: list[AmpAlert]


def _go_escapes_as_json(text: str) -> str:
    """Rewrite the escapes Go's %q emits but JSON lacks (\\a \\v \\xHH \\UHHHHHHHH \\') inside strings."""
    out: list[str] = []
    index = 0
    in_string = False
    length = len(text)
    while index < length:
        char = text[index]
        if not in_string:
            in_string = char == '"'
            out.append(char)
            index += 1
            continue
        if char == '"':
            in_string = False
            out.append(char)
            index += 1
            continue
        if char != "\\" or index + 1 >= length:
            out.append(char)
            index += 1
            continue
        escape = text[index + 1]
        if escape == "a":
            out.append("\\u0007")
            index += 2
        elif escape == "v":
            out.append("\\u000b")
            index += 2
        elif escape == "'":
            out.append("'")
            index += 2
        elif escape == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", text[index + 2 : index + 4]):
            # Go writes \xHH for a byte that is not valid UTF-8: it becomes U+FFFD, as decoding would.
            byte = int(text[index + 2 : index + 4], 16)
            out.append(f"\\u{byte:04x}" if byte < 0x80 else "\\ufffd")
            index += 4
        elif escape == "U" and re.fullmatch(r"[0-9A-Fa-f]{8}", text[index + 2 : index + 10]):
            code_point = int(text[index + 2 : index + 10], 16)
            out.append(json.dumps(chr(code_point) if code_point <= 0x10FFFF else "\ufffd")[1:-1])
            index += 10
        else:  # a JSON escape (or garbage json.loads will refuse): copied as it is
            out.append(text[index : index + 2])
            index += 2
    return "".join(out)


def _load_json(message: str) -> Any:
    """The message as JSON, tolerating raw control characters and Go's extra escapes; None if not JSON."""
    for candidate in (message, _go_escapes_as_json(message)):
        try:
            return json.loads(candidate, strict=False)
        except (ValueError, RecursionError):  # RecursionError: absurd nesting, still untrusted input
            continue
    return None


def _text_format_alerts(message: str) -> list[dict[str, str]]:
    """The label sets of AMP's default text format ("Labels:" then " - name = value" lines)."""
    alerts: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in message.splitlines():
        stripped = line.strip()
        if stripped == "Labels:":
            current = {}
            alerts.append(current)
        elif stripped in ("Annotations:",) or stripped.startswith("Source:"):
            current = None
        elif current is not None:
            match = _TEXT_LABEL_LINE.match(line)
            if match:
                current[match["name"]] = match["value"].strip()
    return alerts


def _json_fragment_alerts(message: str) -> list[dict[str, str]]:
    """The label sets of the alerts in JSON that cannot be parsed as a whole (cut short, unescaped)."""
    return [
        {pair["name"]: pair["value"] for pair in _JSON_PAIR.finditer(found["pairs"])}
        for found in _JSON_LABELS.finditer(message)
    ]


def _all_skipped(message_id: str, reason: str, message: str) -> list[SkippedAlert]:
    """One entry per alert the message names (so each alertname shows up), or one for the message."""
    found = _text_format_alerts(message) or _json_fragment_alerts(message)
    named = [labels for labels in found if labels.get("alertname")]
    if not named:
        return [SkippedAlert(message_id, "", reason, SkipKind.MISCONFIGURED)]
    return [
        SkippedAlert(
            message_id, quoted(labels["alertname"]), reason + _prompt_named(labels), SkipKind.MISCONFIGURED
        )
        for labels in named
    ]


def _prompt_named(labels: dict[str, str]) -> str:
    if not labels.get("prompt_name"):
        return ""
    version = f" v{quoted(labels['prompt_version'], 20)}" if labels.get("prompt_version") else ""
    return f" [prompt {quoted(labels['prompt_name'])}{version}]"


def _group_key(message: AmpMessage) -> str:
    # AMP's template data has no group key; receiver + group labels identify the group the same way.
    labels = ",".join(f"{name}={value!r}" for name, value in sorted(message.group_labels.items()))
    return f"amp:{message.receiver}:{{{labels}}}"[:MAX_GROUP_KEY_LENGTH]


def convert_amp_message(message: str, attributes: Mapping[str, str], message_id: str) -> Converted:
    """One SNS message from AMP's alert manager: the webhook body to triage, or why there is none.

    `attributes` are the SNS message attributes (name → string value); `message_id` is SNS's id
    of the message, quoted in skip entries so a person can find the delivery in the logs.
    """
    message_id = quoted(message_id, 64)
    if attributes.get(TRUNCATED_ATTRIBUTE, "").strip().lower() == "true":
        why = attributes.get(MODIFIED_ATTRIBUTE, "")
        reason = (
            "AMP truncated this SNS message at the 256 KB limit, so its alerts were not read "
            f"({quoted(why) if why else 'no reason given'}). Keep notifications small: group_by "
            "[alertname, prompt_name] in the AMP route, and set the template from deploy/amp/"
        )
        return Converted(source="amp", body=None, skipped=_all_skipped(message_id, reason, message))
    stripped = message.strip()
    if any(marker in stripped for marker in _TEXT_FORMAT_MARKERS) and not stripped.startswith("{"):
        reason = f"AMP sent its default text format, which names no alert precisely enough: {TEMPLATE_HINT}"
        return Converted(source="amp", body=None, skipped=_all_skipped(message_id, reason, message))
    document = _load_json(message)
    if document is None:
        why = attributes.get(MODIFIED_ATTRIBUTE, "")
        reason = (
            "AMP message is not JSON"
            + (f" (AMP says: {quoted(why)})" if why else "")
            + ": a label or annotation value with a quote or backslash breaks AWS's documented "
            f"template; {TEMPLATE_HINT}"
        )
        return Converted(source="amp", body=None, skipped=_all_skipped(message_id, reason, message))
    try:
        parsed = AmpMessage.model_validate(document)
    except ValidationError as error:
        reason = (
            f"AMP message is JSON but not an alert notification (problems at: {problem_locations(error)}); "
            f"{TEMPLATE_HINT}"
        )
        return Converted(
            source="amp", body=None, skipped=[SkippedAlert(message_id, "", reason, SkipKind.MISCONFIGURED)]
        )
    return _as_webhook(parsed, message_id)


def _as_webhook(parsed: AmpMessage, message_id: str) -> Converted:
    try:
        body = parsed.as_webhook(_group_key(parsed), [alert.in_utc() for alert in parsed.alerts])
    except ValidationError as error:
        reason = (
            f"AMP alerts do not fit the Alertmanager webhook model (problems at: {problem_locations(error)})"
        )
        return Converted(
            source="amp", body=None, skipped=[SkippedAlert(message_id, "", reason, SkipKind.MISCONFIGURED)]
        )
    return Converted(source="amp", body=body)
