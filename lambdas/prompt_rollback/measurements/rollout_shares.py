"""Which version each prompt's rollout serves as its candidate, and to what share: the split contract
(domain/rollout_split.py) read from the prompts-list page of the versions holding the candidate label."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from prompt_rollback.domain.rollout_split import candidate_share

if TYPE_CHECKING:
    from langfuse.api import PromptMeta


def rollout_shares(
    candidate_metas: Iterable[PromptMeta], production: Mapping[str, int], candidate_label: str
) -> dict[tuple[str, int], int]:
    """(prompt name, candidate version) -> share in percent, for the prompts splitting traffic now.
    A list filtered on a label aggregates only the versions holding it, and a label lives on one
    version at a time, so each entry's versions and labels are the candidate's own."""
    shares: dict[tuple[str, int], int] = {}
    for meta in candidate_metas:
        stable = production.get(meta.name)
        if stable is None or not meta.versions:
            continue  # no production version: nothing to split against, clients serve no candidate
        candidate = max(meta.versions)
        share = candidate_share(meta.labels or (), candidate_label)
        # An abort moves the candidate label onto stable, a promotion moves production onto the
        # candidate: either way one version holds both, whatever `canary-N` it kept, and nothing splits.
        if candidate != stable and share > 0:
            shares[(meta.name, candidate)] = share
    return shares
