"""Chain heads anchored in an Object Lock bucket (moto) by the ledger stream's consumer, not by the
ledger writers: a deleted or rewritten ledger item is found, and reported as it happens."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from prompt_rollback import wiring
from prompt_rollback.adapters.chain_anchor import S3ChainAnchors
from prompt_rollback.domain.audit import ChainAnchor, record_hash, verify_against_anchors, verify_chain
from prompt_rollback.errors import AnchorConflict

from tests.integration.conftest import Stack, reset_wiring
from tests.integration.ledger_stream import run_anchors

BUCKET = "trail-bucket"
KEY = "langfuse#support-answer"


def metric_total(out: str, name: str) -> float:
    documents = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    values = [document[name] for document in documents if name in document]
    return sum(sum(value) if isinstance(value, list) else value for value in values)


@pytest.fixture
def anchored(stack: Stack) -> Stack:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    # As the stack sets it for the anchors function; the ledger writers do not read it any more.
    stack.monkeypatch.setenv("ANCHOR_BUCKET_NAME", BUCKET)
    reset_wiring()
    stack.set_policy(dry_run=False, allowed_prompts=["*"])
    return stack


def test_the_stream_consumer_anchors_every_append_and_a_deleted_head_is_a_finding(
    anchored: Stack, firing_body, capsys
):
    stack = anchored
    assert stack.post(firing_body)[0] == 202
    stack.drain()
    anchors = S3ChainAnchors(boto3.client("s3"), BUCKET)
    assert anchors.anchors(KEY) == []  # the worker wrote none: two calls fewer per rollback

    assert run_anchors(stack.resources.audit_table) == {"batchItemFailures": []}
    ledger = wiring.audit_ledger()
    records = list(ledger.chain(KEY))
    assert [r["kind"] for r in records] == ["intent", "decision"]
    assert {a.seq for a in anchors.anchors(KEY)} == {1, 2}
    assert verify_against_anchors(records, anchors.anchors(KEY)) == []
    assert list(anchors.prompt_keys()) == [KEY]
    assert metric_total(capsys.readouterr().out, "LedgerRewrites") == 0

    # Someone with table rights removes the last record: the chain alone still looks intact.
    table = boto3.resource("dynamodb").Table(stack.resources.audit_table)
    table.delete_item(Key={"prompt_key": KEY, "seq": 2})
    cut = list(ledger.chain(KEY))
    assert verify_chain(cut) == []
    [problem] = verify_against_anchors(cut, anchors.anchors(KEY))
    assert "truncated" in problem.problem
    # The stream reports the removal as it happens (the LedgerRewrites alarm pages).
    assert run_anchors(stack.resources.audit_table) == {"batchItemFailures": []}
    assert metric_total(capsys.readouterr().out, "LedgerRewrites") == 1
    # And the anchor itself cannot be removed before its retention ends.
    s3 = boto3.client("s3")
    [version] = [v for v in s3.list_object_versions(Bucket=BUCKET)["Versions"] if v["Key"].endswith("2.json")]
    with pytest.raises(s3.exceptions.ClientError):
        s3.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])


def test_an_overwritten_ledger_item_is_reported_and_keeps_its_first_anchor(
    anchored: Stack, firing_body, capsys
):
    stack = anchored
    assert stack.post(firing_body)[0] == 202
    stack.drain()
    run_anchors(stack.resources.audit_table)
    table = boto3.resource("dynamodb").Table(stack.resources.audit_table)
    decision = table.get_item(Key={"prompt_key": KEY, "seq": 2})["Item"]
    # PutItem without its condition overwrites (IAM cannot require the condition), re-hashed so the
    # chain itself still adds up at this item.
    forged = {**decision, "reason": "nothing to see here"}
    table.put_item(Item={**forged, "hash": record_hash(forged)})
    capsys.readouterr()

    assert run_anchors(stack.resources.audit_table) == {"batchItemFailures": []}
    assert metric_total(capsys.readouterr().out, "LedgerRewrites") == 1
    anchors = S3ChainAnchors(boto3.client("s3"), BUCKET).anchors(KEY)
    assert [a.hash for a in anchors if a.seq == 2] == [decision["hash"]]
    [problem] = verify_against_anchors(list(wiring.audit_ledger().chain(KEY)), anchors)
    assert problem.seq == 2 and "rewritten" in problem.problem


def test_a_failed_anchor_write_is_a_batch_item_failure_and_a_metric(anchored: Stack, firing_body, capsys):
    stack = anchored
    assert stack.post(firing_body)[0] == 202
    stack.drain()
    stack.monkeypatch.setenv("ANCHOR_BUCKET_NAME", "no-such-bucket")
    reset_wiring()
    capsys.readouterr()

    # Every record failed: the invocation fails (the Errors alarm), Lambda retries the batch, halves
    # it, and after its retries parks it in the on-failure queue; nothing after it is skipped.
    with pytest.raises(BatchProcessingError, match="All records failed"):
        run_anchors(stack.resources.audit_table)
    assert metric_total(capsys.readouterr().out, "AnchorWriteFailures") == 2

    stack.monkeypatch.setenv("ANCHOR_BUCKET_NAME", BUCKET)
    reset_wiring()
    assert run_anchors(stack.resources.audit_table) == {"batchItemFailures": []}
    assert {a.seq for a in S3ChainAnchors(boto3.client("s3"), BUCKET).anchors(KEY)} == {1, 2}


def test_an_anchor_is_written_once_with_if_none_match(anchored: Stack):
    s3 = boto3.client("s3")
    sent: list[bytes | None] = []
    s3.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: sent.append(request.headers.get("If-None-Match"))
    )
    anchors = S3ChainAnchors(s3, BUCKET)
    head = ChainAnchor(KEY, 1, "a" * 64)
    anchors.anchor(head)
    anchors.anchor(head)  # a retried stream record: the same head, nothing to do
    with pytest.raises(AnchorConflict, match="seq 1 is anchored with hash aaaaaaaaaaaa"):
        anchors.anchor(ChainAnchor(KEY, 1, "b" * 64))
    assert sent == [b"*", b"*", b"*"]
    assert anchors.anchors(KEY) == [head]  # S3 refused the others: not even a second version
