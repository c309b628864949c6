"""The watcher's state table (moto DynamoDB): round trip, and every write conditional on what was read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws
from prompt_rollback.adapters.watch_state_store import DynamoDBWatchStateStore
from prompt_rollback.domain.watch import Phase, Signal, SignalKind, WatchKey, WatchState
from prompt_rollback.ports import StateConflict

from local_mode.watcher import provision_state_table

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEY = WatchKey("folder/support-answer", 7, "exact_match", "prod")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBWatchStateStore]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        name = provision_state_table("watch-states")
        yield DynamoDBWatchStateStore(boto3.resource("dynamodb").Table(name))


def firing() -> WatchState:
    signal = Signal(SignalKind.FIRING, KEY, T0, value=-0.3, summary="support-answer v7: -0.300")
    return WatchState(KEY, Phase.FIRING, T0, fired_at=T0, value=-0.3, summary="s", outbox=(signal,))


def test_round_trip_keeps_every_field(store):
    saved = store.save(firing(), expected_revision=0)
    assert saved.revision == 1
    (loaded,) = store.load_all()
    assert loaded == saved


def test_a_second_first_write_conflicts(store):
    store.save(firing(), expected_revision=0)
    with pytest.raises(StateConflict):
        store.save(firing(), expected_revision=0)


def test_writes_and_deletes_from_a_stale_read_conflict(store):
    saved = store.save(firing(), expected_revision=0)
    newer = store.save(replace(saved, outbox=()), expected_revision=saved.revision)
    with pytest.raises(StateConflict):
        store.save(replace(saved, phase=Phase.RESOLVED), expected_revision=saved.revision)
    with pytest.raises(StateConflict):
        store.delete(saved)
    store.delete(newer)
    assert store.load_all() == []


def test_load_all_pages_through_the_table(store):
    for version in range(1, 31):
        key = replace(KEY, prompt_version=version)
        store.save(WatchState(key, Phase.PENDING, T0, summary="x" * 40_000), expected_revision=0)
    assert len(store.load_all()) == 30  # 1.2 MB: more than one 1 MB scan page
