"""The split contract of prompt-rollback, in plain Python: which arm a unit is served.
A copy of the service's rule on purpose (a public contract); docs/rollout-vectors.json keeps the
copies in step."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from typing import Literal

Arm = Literal["stable", "candidate"]
MAX_SHARE = 99


def candidate_share(labels: Iterable[str], candidate_label: str = "canary") -> int:
    """The candidate's share in percent: the largest N among its `canary-N` labels, 0 without one."""
    prefix = f"{candidate_label}-"
    shares = [0]
    for label in labels:
        digits = label.removeprefix(prefix) if label.startswith(prefix) else ""
        # Plain ASCII decimal only ("canary-05" is not 5), as every copy of the rule reads it.
        if digits.isascii() and digits.isdigit() and not digits.startswith("0") and int(digits) <= MAX_SHARE:
            shares.append(int(digits))
    return max(shares)


def unit_arm(prompt: str, candidate_version: int, unit: str, share: int) -> Arm:
    """The candidate when the unit's draw for this candidate version falls below the share."""
    digest = hashlib.sha256(f"{prompt}:{candidate_version}:{unit}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    return "candidate" if draw < share / 100 else "stable"


def random_arm(share: int) -> Arm:
    """A draw per request, for callers without a unit id: not sticky."""
    # A traffic split, not a secret: the plain generator is what we mean.
    return "candidate" if random.random() < share / 100 else "stable"  # noqa: S311
