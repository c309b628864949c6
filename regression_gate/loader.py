"""Read evaluation results, one JSON object per sample: JSON Lines, a JSON array, or `{"samples": [...]}`.
Every field is optional and `null` means absent; unknown fields are ignored, but a sample needs at
least one known field (docs/detection.md, "Input format", lists them)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_FIELDS = ("exact_match", "f1", "judge_score", "latency_ms", "cost_usd", "error", "feedback")
FEEDBACK_VALUES = ("up", "down")
JSONL_SUFFIXES = (".jsonl", ".ndjson")


class InputError(Exception):
    """An input file cannot be read or does not follow the documented format."""


@dataclass(frozen=True)
class Sample:
    """One evaluated example; ``None`` means the field was absent."""

    exact_match: float | None = None
    f1: float | None = None
    judge_score: float | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    error: bool = False
    feedback: str | None = None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field} must be a number, got {json.dumps(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{field} must be finite, got {value}")
    return number


def _parse_sample(raw: Any) -> Sample:
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    if not any(raw.get(field) is not None for field in SAMPLE_FIELDS):
        raise ValueError(f"has none of the fields {', '.join(SAMPLE_FIELDS)}")

    exact_match: float | None = None
    value = raw.get("exact_match")
    if value is not None:
        if isinstance(value, bool):
            exact_match = 1.0 if value else 0.0
        elif isinstance(value, int | float) and value in (0, 1):
            exact_match = float(value)
        else:
            raise ValueError(f"exact_match must be 0, 1, true or false, got {json.dumps(value)}")

    f1: float | None = None
    if raw.get("f1") is not None:
        f1 = _number(raw["f1"], "f1")
        if not 0.0 <= f1 <= 1.0:
            raise ValueError(f"f1 must be in [0, 1], got {raw['f1']}")

    judge_score = None if raw.get("judge_score") is None else _number(raw["judge_score"], "judge_score")

    non_negative: dict[str, float | None] = {}
    for field in ("latency_ms", "cost_usd"):
        if raw.get(field) is None:
            non_negative[field] = None
            continue
        number = _number(raw[field], field)
        if number < 0:
            raise ValueError(f"{field} must be >= 0, got {raw[field]}")
        non_negative[field] = number

    error = False
    value = raw.get("error")
    if value is not None:
        if isinstance(value, bool):
            error = value
        elif isinstance(value, int) and value in (0, 1):
            error = bool(value)
        elif isinstance(value, str):
            error = value.strip() != ""
        else:
            raise ValueError(f"error must be true/false, 0/1 or a message string, got {json.dumps(value)}")

    feedback = raw.get("feedback")
    if feedback is not None and feedback not in FEEDBACK_VALUES:
        raise ValueError(f'feedback must be "up", "down" or null, got {json.dumps(feedback)}')

    return Sample(
        exact_match=exact_match,
        f1=f1,
        judge_score=judge_score,
        latency_ms=non_negative["latency_ms"],
        cost_usd=non_negative["cost_usd"],
        error=error,
        feedback=feedback,
    )


def _jsonl_records(text: str, path: Path) -> Iterator[tuple[str, Any]]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {lineno}", _loads(line)
        except ValueError as exc:
            raise InputError(f"{path}: line {lineno}: invalid JSON: {exc}") from exc


def _records(text: str, path: Path) -> list[tuple[str, Any]]:
    if not text.strip():
        raise InputError(f"{path}: empty file, no samples")
    if path.suffix.lower() in JSONL_SUFFIXES:
        return list(_jsonl_records(text, path))
    try:
        document = _loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # several JSON values: JSON Lines without the suffix
            return list(_jsonl_records(text, path))
        raise InputError(f"{path}: invalid JSON: {exc}") from exc
    except ValueError as exc:
        raise InputError(f"{path}: invalid JSON: {exc}") from exc
    if isinstance(document, dict):
        if "samples" in document:
            document = document["samples"]
        elif any(field in document for field in SAMPLE_FIELDS):
            return [("sample 1", document)]  # a file holding a single sample
        else:
            raise InputError(f'{path}: a JSON object must have a "samples" array')
    if not isinstance(document, list):
        raise InputError(f"{path}: expected a JSON array of samples, got {type(document).__name__}")
    return [(f"sample {index}", item) for index, item in enumerate(document, start=1)]


def load_samples(path: str | Path) -> list[Sample]:
    """Read and validate one results file. Raises :class:`InputError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a directory") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc

    samples: list[Sample] = []
    for where, raw in _records(text, path):
        try:
            samples.append(_parse_sample(raw))
        except ValueError as exc:
            raise InputError(f"{path}: {where}: {exc}") from exc
    if not samples:
        raise InputError(f"{path}: no samples")
    return samples
