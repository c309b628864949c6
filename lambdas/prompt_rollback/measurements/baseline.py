"""Choosing the baseline of a production version: plain Python, no I/O."""

from __future__ import annotations

from collections.abc import Mapping

from prompt_rollback.measurements.records import BaselineValue


def previous_version_baseline(
    production_version: int, by_version: Mapping[int, tuple[float, int]], min_samples: int
) -> BaselineValue | None:
    """The highest version below production with at least `min_samples` samples, or None.

    `by_version` maps a version to (value, samples) over the baseline window. A version that
    barely ran (a canary that was pulled at once) is skipped rather than trusted.
    """
    candidates = [
        (version, value, samples)
        for version, (value, samples) in by_version.items()
        if version < production_version and samples >= min_samples
    ]
    if not candidates:
        return None
    version, value, samples = max(candidates)
    return BaselineValue(version=version, value=value, samples=samples)
