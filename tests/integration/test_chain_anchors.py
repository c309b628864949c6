"""Chain heads anchored in an Object Lock bucket (moto): a deleted last ledger item is found."""

from __future__ import annotations

import boto3
import pytest
from prompt_rollback import wiring
from prompt_rollback.adapters.chain_anchor import AnchoredLedger
from prompt_rollback.domain.audit import verify_against_anchors, verify_chain

from tests.integration.conftest import Stack, reset_wiring


@pytest.fixture
def anchored(stack: Stack) -> Stack:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="trail-bucket", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket="trail-bucket",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    stack.monkeypatch.setenv("ANCHOR_BUCKET_NAME", "trail-bucket")
    reset_wiring()
    return stack


def test_every_append_is_anchored_and_a_deleted_head_is_a_finding(anchored: Stack, firing_body):
    stack = anchored
    stack.set_policy(dry_run=False, allowed_prompts=["*"])
    stack.monkeypatch.setenv("ANCHOR_BUCKET_NAME", "trail-bucket")
    assert stack.post(firing_body)[0] == 202
    stack.drain()
    ledger = wiring.audit_ledger()
    assert isinstance(ledger, AnchoredLedger)
    key = "langfuse#support-answer"
    records = list(ledger.chain(key))
    assert [r["kind"] for r in records] == ["intent", "decision"]
    anchors = ledger.anchors.anchors(key)
    assert {a.seq for a in anchors} == {1, 2}
    assert verify_against_anchors(records, anchors) == []
    assert list(ledger.anchors.prompt_keys()) == [key]

    # Someone with table rights removes the last record: the chain alone still looks intact.
    table = boto3.resource("dynamodb").Table(stack.resources.audit_table)
    table.delete_item(Key={"prompt_key": key, "seq": 2})
    cut = list(ledger.chain(key))
    assert verify_chain(cut) == []
    [problem] = verify_against_anchors(cut, ledger.anchors.anchors(key))
    assert "truncated" in problem.problem
    # And the anchor itself cannot be removed before its retention ends.
    s3 = boto3.client("s3")
    [version] = [
        v for v in s3.list_object_versions(Bucket="trail-bucket")["Versions"] if v["Key"].endswith("2.json")
    ]
    with pytest.raises(s3.exceptions.ClientError):
        s3.delete_object(Bucket="trail-bucket", Key=version["Key"], VersionId=version["VersionId"])
