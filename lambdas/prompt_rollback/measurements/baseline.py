"""Choosing the baseline of a production version: plain Python, no I/O."""

from __future__ import annotations

from collections.abc import Mapping

from prompt_rollback.measurements.records import BaselineValue

ON_RECORD = "previous production on record"
UNKNOWN = "previous production unknown"


def previous_version_baseline(
    production_version: int,
    by_version: Mapping[int, tuple[float, int]],
    min_samples: int,
    known_previous: int | None = None,
) -> BaselineValue | None:
    """The version production replaced, as the ledger knows it (`known_previous`), when it has at
    least `min_samples` samples; else the highest version below production that has; else None.

    `by_version` maps a version to (value, samples) over the baseline window. A version that
    barely ran (a canary that was pulled at once) is skipped rather than trusted.
    """
    known = by_version.get(known_previous) if known_previous is not None else None
    if known_previous is not None and known is not None and known[1] >= min_samples:
        return BaselineValue(known_previous, known[0], known[1], basis=ON_RECORD)
    candidates = [
        (version, value, samples)
        for version, (value, samples) in by_version.items()
        if version < production_version and samples >= min_samples
    ]
    if not candidates:
        return None
    version, value, samples = max(candidates)
    why = UNKNOWN if known_previous is None else f"v{known_previous}, the {ON_RECORD}, has too few samples"
    return BaselineValue(version, value, samples, basis=f"highest earlier version with enough samples; {why}")
