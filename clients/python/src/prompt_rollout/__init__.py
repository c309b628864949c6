"""Serve each user the prompt version of their arm while prompt-rollback rolls a new version out.
`rollout_prompt(langfuse, "support-answer", unit=session_id)`; see the README of this package."""

from prompt_rollout.client import RolloutPrompt, rollout_prompt
from prompt_rollout.split import Arm, candidate_share, unit_arm

__all__ = ["Arm", "RolloutPrompt", "candidate_share", "rollout_prompt", "unit_arm"]
