"""Stickiness of the split: a unit once in stays in as the share grows, each candidate version draws
its own units, and the share of units in tends to N %. For the service's rule and the client's."""

from __future__ import annotations

import math

import prompt_rollout.split as client_rule
from hypothesis import given
from hypothesis import strategies as st
from prompt_rollback.domain import rollout_split as domain_rule

from tests.property.conftest import bounded

rules = st.sampled_from([domain_rule, client_rule])
prompts = st.text(min_size=1, max_size=40)
versions = st.integers(min_value=1, max_value=10_000)
units = st.text(min_size=1, max_size=60)
shares = st.integers(min_value=1, max_value=99)
POPULATION = [f"user-{i}" for i in range(4000)]


@bounded(300, shared_stack=False)
@given(rules, prompts, versions, units, shares, shares)
def test_a_unit_in_at_a_smaller_share_stays_in_at_a_larger_one(rule, prompt, version, unit, first, second):
    smaller, larger = sorted((first, second))
    if rule.unit_arm(prompt, version, unit, smaller) == "candidate":
        assert rule.unit_arm(prompt, version, unit, larger) == "candidate"
    if rule.unit_arm(prompt, version, unit, larger) == "stable":
        assert rule.unit_arm(prompt, version, unit, smaller) == "stable"


@bounded(300, shared_stack=False)
@given(rules, prompts, versions, units)
def test_the_five_percent_of_a_rollout_are_in_at_twenty_five(rule, prompt, version, unit):
    if rule.unit_arm(prompt, version, unit, 5) == "candidate":
        assert rule.unit_arm(prompt, version, unit, 25) == "candidate"


@bounded(25, shared_stack=False)
@given(rules, prompts, versions, st.integers(min_value=1, max_value=10_000))
def test_another_candidate_version_draws_other_units(rule, prompt, version, offset):
    first = {u for u in POPULATION if rule.unit_arm(prompt, version, u, 25) == "candidate"}
    second = {u for u in POPULATION if rule.unit_arm(prompt, version + offset, u, 25) == "candidate"}
    assert first != second
    # Independent draws: about a quarter of one rollout's units are in the next (not all, not none).
    overlap = len(first & second) / len(first)
    assert 0.25 - 0.06 < overlap < 0.25 + 0.06


@bounded(25, shared_stack=False)
@given(rules, prompts, versions, shares)
def test_the_share_of_units_in_tends_to_n_percent(rule, prompt, version, share):
    inside = sum(rule.unit_arm(prompt, version, u, share) == "candidate" for u in POPULATION)
    expected = share / 100
    # Within 4.5 standard deviations of a binomial draw of 4,000 units.
    tolerance = 4.5 * math.sqrt(expected * (1 - expected) / len(POPULATION))
    assert abs(inside / len(POPULATION) - expected) < tolerance
