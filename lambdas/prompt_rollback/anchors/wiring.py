"""Composition of the anchors function: the Object Lock bucket's anchors behind the anchor writer."""

from __future__ import annotations

from functools import cache

from prompt_rollback import wiring
from prompt_rollback.adapters.chain_anchor import S3ChainAnchors
from prompt_rollback.anchors.service import AnchorWriter
from prompt_rollback.settings import AnchorsEnvironment


@cache
def anchor_writer() -> AnchorWriter:
    bucket = wiring.environment(AnchorsEnvironment).anchor_bucket_name
    return AnchorWriter(S3ChainAnchors(wiring.aws_client("s3"), bucket))


wiring.on_reset(anchor_writer.cache_clear)
