"""The split contract: which version of a prompt a unit (user, session) is served during a rollout.
A public contract, duplicated on purpose in clients/python and docs/rollout.md; the shared vectors
in docs/rollout-vectors.json keep every copy in step."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

STABLE_LABEL = "production"
DEFAULT_CANDIDATE_LABEL = "canary"
MIN_SHARE = 1
MAX_SHARE = 99

Arm = Literal["stable", "candidate"]


@dataclass(frozen=True)
class Assignment:
    """The arm a request is served from; `sticky` is False when no unit id was given (a random draw)."""

    arm: Arm
    sticky: bool


def share_label(share: int, candidate_label: str = DEFAULT_CANDIDATE_LABEL) -> str:
    """The label a rollout step adds to the candidate, e.g. `canary-25`."""
    if not MIN_SHARE <= share <= MAX_SHARE:
        raise ValueError(f"a share is {MIN_SHARE} to {MAX_SHARE} percent, not {share}")
    return f"{candidate_label}-{share}"


def candidate_share(labels: Iterable[str], candidate_label: str = DEFAULT_CANDIDATE_LABEL) -> int:
    """The candidate's share in percent: the largest N among its `canary-N` labels, 0 without one."""
    prefix = f"{candidate_label}-"
    shares = [0]
    for label in labels:
        digits = label.removeprefix(prefix) if label.startswith(prefix) else ""
        # Plain decimal only ("canary-05" is not 5): every copy of the rule must read labels alike.
        if digits.isascii() and digits.isdigit() and not digits.startswith("0"):
            share = int(digits)
            if share <= MAX_SHARE:
                shares.append(share)
    return max(shares)


def unit_draw(prompt: str, candidate_version: int, unit: str) -> float:
    """The unit's fixed place in [0, 1) for this candidate: a new candidate draws afresh."""
    digest = hashlib.sha256(f"{prompt}:{candidate_version}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def unit_arm(prompt: str, candidate_version: int, unit: str, share: int) -> Arm:
    """The arm of a unit: the candidate when its draw falls below the share."""
    return "candidate" if unit_draw(prompt, candidate_version, unit) < share / 100 else "stable"


def assign(
    prompt: str,
    candidate_version: int,
    share: int,
    unit: str | None,
    draw: random.Random | None = None,
) -> Assignment:
    """The arm of one request; without a unit id (None or empty) a random draw per request."""
    if unit:
        return Assignment(unit_arm(prompt, candidate_version, unit, share), sticky=True)
    # Not security-relevant: a traffic split, which is why the plain generator is fine.
    chance = (draw or random).random()
    return Assignment("candidate" if chance < share / 100 else "stable", sticky=False)
