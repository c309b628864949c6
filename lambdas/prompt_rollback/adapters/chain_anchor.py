"""Chain heads anchored outside the ledger table: write-once objects in the Object Lock bucket,
`ledger-anchors/<prompt key>/<seq>.json`, put with If-None-Match so none is ever overwritten; a
role that could delete the newest ledger item cannot hide it from `verify`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

from botocore.exceptions import ClientError

from prompt_rollback.domain.audit import ChainAnchor
from prompt_rollback.errors import AnchorConflict

ANCHOR_PREFIX = "ledger-anchors/"


def _key(prompt_key: str, seq: int) -> str:
    return f"{ANCHOR_PREFIX}{quote(prompt_key, safe='')}/{seq:012d}.json"


def _anchor_of(body: bytes) -> ChainAnchor:
    content = json.loads(body)
    return ChainAnchor(str(content["prompt_key"]), int(content["seq"]), str(content["hash"]))


class S3ChainAnchors:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    # The bucket's default COMPLIANCE retention keeps every object version for years, and only the
    # anchors function may put objects under ANCHOR_PREFIX: nobody can delete or shorten an anchor.
    def anchor(self, head: ChainAnchor) -> None:
        body = {"prompt_key": head.prompt_key, "seq": head.seq, "hash": head.hash}
        key = _key(head.prompt_key, head.seq)
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=json.dumps(body, sort_keys=True).encode(),
                ContentType="application/json",
                # A conditional write: S3 refuses (412) when the key exists, so a second head for
                # one seq cannot even add a version beside the first.
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
                raise
            existing = _anchor_of(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())
            if existing != head:  # not a retry of the same stream record
                raise AnchorConflict(
                    f"{head.prompt_key} seq {head.seq} is anchored with hash {existing.hash[:12]}, "
                    f"the ledger now says {head.hash[:12]}"
                ) from error

    def anchors(self, prompt_key: str) -> list[ChainAnchor]:
        """Every anchor ever written for one prompt, every version of every object."""
        found: list[ChainAnchor] = []
        paginator = self._s3.get_paginator("list_object_versions")
        prefix = f"{ANCHOR_PREFIX}{quote(prompt_key, safe='')}/"
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for version in page.get("Versions", []):  # delete markers are not anchors
                obj = self._s3.get_object(
                    Bucket=self._bucket, Key=version["Key"], VersionId=version["VersionId"]
                )
                found.append(_anchor_of(obj["Body"].read()))
        return found

    def prompt_keys(self) -> Iterator[str]:
        """Every prompt that has an anchor (so one whose records all vanished is still known)."""
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=ANCHOR_PREFIX, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                yield unquote(common["Prefix"].removeprefix(ANCHOR_PREFIX).rstrip("/"))
