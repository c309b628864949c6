"""Always-valid p-values: in [0, 1] and never rising from one look to the next, whatever the data."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from prompt_rollback.domain.canary.analysis import (
    ArmObservations,
    Proportion,
    StepRequirements,
    StepWindow,
    judge_look,
)
from prompt_rollback.domain.canary.sequential import Difference, always_valid_p_value

from tests.property.conftest import bounded

REQUIREMENTS = StepRequirements(min_duration=timedelta(minutes=10), min_samples_per_arm=200)


@st.composite
def minute_of_arm(draw: st.DrawFn) -> ArmObservations:
    requests = draw(st.integers(0, 600))
    matches = draw(st.integers(0, requests))
    return ArmObservations(
        requests=requests,
        errors=draw(st.integers(0, requests)),
        exact_match=Proportion(trials=requests, successes=matches),
    )


def plus(a: ArmObservations, b: ArmObservations) -> ArmObservations:
    assert a.exact_match is not None and b.exact_match is not None
    return ArmObservations(
        requests=a.requests + b.requests,
        errors=a.errors + b.errors,
        exact_match=Proportion(
            trials=a.exact_match.trials + b.exact_match.trials,
            successes=a.exact_match.successes + b.exact_match.successes,
        ),
    )


@bounded(200, shared_stack=False)
@given(
    st.lists(st.tuples(minute_of_arm(), minute_of_arm(), st.booleans()), min_size=1, max_size=25),
)
def test_p_values_stay_in_the_unit_interval_and_never_rise(minutes):
    """Each look adds a minute to the current step (or starts a new step when the flag says so)."""
    windows: list[StepWindow] = []
    previous: dict = {}
    shares = iter([5, 25, 50, 75] + [90] * 25)
    for canary, stable, new_step in minutes:
        if new_step or not windows:
            windows.append(StepWindow(share=next(shares), canary=canary, stable=stable))
        else:
            last = windows[-1]
            windows[-1] = last.model_copy(
                update={"canary": plus(last.canary, canary), "stable": plus(last.stable, stable)}
            )
        verdict = judge_look(windows, timedelta(minutes=len(minutes)), REQUIREMENTS, previous=previous)
        p_values = verdict.p_values()
        assert set(p_values) >= {"error_rate", "exact_match"}
        for metric, p in p_values.items():
            assert 0.0 <= p <= 1.0
            assert p <= previous.get(metric, 1.0)
        previous = p_values


@bounded(300, shared_stack=False)
@given(
    st.lists(
        st.tuples(st.floats(-1, 1), st.floats(1e-9, 0.5)),
        min_size=1,
        max_size=30,
    ),
    st.floats(0, 0.1),
    st.floats(1e-6, 1.0),
)
def test_the_p_value_of_any_sequence_of_estimates_is_monotone(estimates, margin, mixing_variance):
    p = 1.0
    for worse_by, variance in estimates:
        following = always_valid_p_value(Difference(worse_by, variance), margin, p, mixing_variance)
        assert 0.0 <= following <= p <= 1.0
        p = following
