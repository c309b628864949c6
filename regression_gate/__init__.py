"""Regression gate: compare a candidate prompt's evaluation results with a baseline.
Run it as `python -m regression_gate --baseline base.jsonl --candidate new.jsonl`; docs/detection.md
has the input format, the rules and the exit codes."""

from regression_gate.gate import GateConfig, GateResult, Verdict, evaluate
from regression_gate.loader import InputError, Sample, load_samples

__all__ = [
    "GateConfig",
    "GateResult",
    "InputError",
    "Sample",
    "Verdict",
    "evaluate",
    "load_samples",
]
