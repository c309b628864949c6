"""The embedded store's webhook sender: waiting for it says whether every delivery was attempted,
so a caller that needs a quiet service (the bench, a test) can tell a drained sender from a timeout."""

from __future__ import annotations

import socket

from local_mode.langfuse_webhooks import WebhookSender


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_waiting_for_the_webhooks_tells_a_timeout_from_a_drained_sender() -> None:
    sender = WebhookSender()
    # Nobody listens: the delivery is retried with backoff (about 1.5 s) before it gives up.
    sender.subscribe(f"http://127.0.0.1:{_closed_port()}/langfuse/events", "lf-whsec_test")
    try:
        sender.prompt_version_changed("updated", {"name": "support-answer", "version": 7}, user=None)
        assert sender.wait_idle(timeout=0.05) is False
        assert sender.wait_idle(timeout=10) is True
        assert [status for _, status in sender.delivered] == [0]
    finally:
        sender.stop()
