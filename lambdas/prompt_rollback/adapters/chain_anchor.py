"""Chain heads anchored outside the ledger table: write-once objects in the Object Lock bucket.
After every append the new head (prompt key, seq, hash) goes to `ledger-anchors/<prompt key>/<seq>.json`,
so a role that could delete the newest ledger item cannot hide it from `verify`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, overload
from urllib.parse import quote, unquote

from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger
from prompt_rollback.domain.audit import ChainAnchor
from prompt_rollback.domain.audit_record import AuditRecord, LedgerRecord
from prompt_rollback.domain.changes import ProductionChange
from prompt_rollback.ports import LedgerHead

ANCHOR_PREFIX = "ledger-anchors/"
_log = logging.getLogger(__name__)


def _key(prompt_key: str, seq: int) -> str:
    return f"{ANCHOR_PREFIX}{quote(prompt_key, safe='')}/{seq:012d}.json"


class S3ChainAnchors:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    # The bucket's default COMPLIANCE retention keeps every object version for years, and the functions'
    # roles may only put objects under ANCHOR_PREFIX: they cannot delete or shorten an anchor.
    def anchor(self, record: LedgerRecord) -> None:
        body = {"prompt_key": record.prompt_key, "seq": record.seq, "hash": record.hash}
        self._s3.put_object(
            Bucket=self._bucket,
            Key=_key(record.prompt_key, record.seq),
            Body=json.dumps(body, sort_keys=True).encode(),
            ContentType="application/json",
        )

    # Writing again under the same key only adds a version; every version is checked.
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
                content = json.loads(obj["Body"].read())
                found.append(
                    ChainAnchor(str(content["prompt_key"]), int(content["seq"]), str(content["hash"]))
                )
        return found

    def prompt_keys(self) -> Iterator[str]:
        """Every prompt that has an anchor (so one whose records all vanished is still known)."""
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=ANCHOR_PREFIX, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                yield unquote(common["Prefix"].removeprefix(ANCHOR_PREFIX).rstrip("/"))


class AnchoredLedger:
    """The ledger, anchoring each new head. An anchor that cannot be written is logged, not raised:
    the record is already in the chain, and the next append's anchor covers it (hashes chain)."""

    def __init__(self, ledger: DynamoDBAuditLedger, anchors: S3ChainAnchors) -> None:
        self._ledger = ledger
        self.anchors = anchors

    def recent(self, prompt_key: str, limit: int) -> list[LedgerRecord]:
        return self._ledger.recent(prompt_key, limit)

    def head(self, prompt_key: str) -> LedgerHead:
        return self._ledger.head(prompt_key)

    def of_request(self, prompt_key: str, request_id: str) -> list[LedgerRecord]:
        return self._ledger.of_request(prompt_key, request_id)

    @overload
    def append(self, record: AuditRecord, after: LedgerRecord | None) -> AuditRecord: ...

    @overload
    def append(self, record: ProductionChange, after: LedgerRecord | None) -> ProductionChange: ...

    def append(self, record: LedgerRecord, after: LedgerRecord | None) -> LedgerRecord:
        sealed = self._ledger.append(record, after)
        try:
            self.anchors.anchor(sealed)
        except Exception as error:
            _log.warning(
                "could not anchor %s seq %s: %s", sealed.prompt_key, sealed.seq, type(error).__name__
            )
        return sealed

    def chain(self, prompt_key: str) -> Iterator[Mapping[str, Any]]:
        return self._ledger.chain(prompt_key)

    def between(self, prompt_name: str, start: datetime, end: datetime) -> Iterator[LedgerRecord]:
        return self._ledger.between(prompt_name, start, end)
