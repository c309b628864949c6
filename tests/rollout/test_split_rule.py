"""The split rule, in the service's domain and in the client library, against the shared vectors."""

from __future__ import annotations

import hashlib
import random

import prompt_rollout.split as client_rule
import pytest
from prompt_rollback.domain import rollout_split as domain_rule

from tests.rollout.vectors import ASSIGNMENTS, SHARES, vector_id

RULES = pytest.mark.parametrize("rule", [domain_rule, client_rule], ids=["domain", "client"])


def test_the_vectors_cover_the_edges():
    assert len(ASSIGNMENTS) >= 50
    shares = {vector["share"] for vector in ASSIGNMENTS}
    assert {0, 1, 99} <= shares
    assert {"stable", "candidate"} == {vector["arm"] for vector in ASSIGNMENTS}
    assert any(not vector["unit"].isascii() for vector in ASSIGNMENTS)
    boundary = [
        v for v in ASSIGNMENTS if "just below" in v.get("note", "") or "just above" in v.get("note", "")
    ]
    for vector in boundary:
        # Each boundary vector's draw sits within a few millionths of its share.
        assert abs(int(vector["hash64"]) / 2**64 - vector["share"] / 100) < 1e-4


@pytest.mark.parametrize("vector", ASSIGNMENTS, ids=vector_id)
def test_hash64_is_the_first_eight_bytes_of_the_sha256(vector):
    text = f"{vector['prompt']}:{vector['version']}:{vector['unit']}".encode()
    assert int(vector["hash64"]) == int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


@RULES
@pytest.mark.parametrize("vector", ASSIGNMENTS, ids=vector_id)
def test_each_unit_lands_in_the_arm_of_its_vector(rule, vector):
    assert (
        rule.unit_arm(vector["prompt"], vector["version"], vector["unit"], vector["share"]) == vector["arm"]
    )


@RULES
@pytest.mark.parametrize("vector", SHARES, ids=vector_id)
def test_the_share_is_the_largest_share_label(rule, vector):
    candidate_label = vector.get("candidate_label", "canary")
    assert rule.candidate_share(vector["labels"], candidate_label) == vector["share"]


def test_a_unit_id_makes_the_assignment_sticky():
    vector = next(v for v in ASSIGNMENTS if v["arm"] == "candidate")
    for _ in range(3):
        assigned = domain_rule.assign(vector["prompt"], vector["version"], vector["share"], vector["unit"])
        assert assigned == domain_rule.Assignment(vector["arm"], sticky=True)


@pytest.mark.parametrize("unit", [None, ""])
def test_without_a_unit_each_request_is_drawn_at_random_and_says_so(unit):
    draws = random.Random(7)
    assigned = [domain_rule.assign("support-answer", 8, 50, unit, draws) for _ in range(400)]
    assert not any(a.sticky for a in assigned)
    in_candidate = sum(a.arm == "candidate" for a in assigned)
    assert 150 < in_candidate < 250


def test_share_labels_are_named_as_the_rule_reads_them():
    assert domain_rule.share_label(25) == "canary-25"
    assert domain_rule.share_label(5, "beta") == "beta-5"
    assert domain_rule.candidate_share(["canary", domain_rule.share_label(99)]) == 99
    for share in (0, 100):
        with pytest.raises(ValueError, match="1 to 99 percent"):
            domain_rule.share_label(share)
