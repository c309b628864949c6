"""Canary analysis: always-valid sequential tests of a candidate against stable over the same minutes.
`analysis.judge_look` is the entry point; `sequential` holds the mSPRT arithmetic."""
