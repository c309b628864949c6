"""Where the local alert-to-label time goes: the webhook until the message is queued, the wait for
the queue poll, and the worker until Langfuse answers the move; the embedded AWS (moto) and
Langfuse store's time inside the handlers is counted apart from the product's own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_QUEUEING = frozenset({"SendMessage", "SendMessageBatch"})


@dataclass
class AlertTimes:
    """One alert's moments and seconds (local mode runs its handlers one at a time)."""

    posted: float = 0.0
    answered: float = 0.0  # the HTTP answer reached the bench
    queued: float = 0.0  # the webhook's SendMessage returned
    worker_started: float = 0.0
    label_moved: float = 0.0  # the worker holds Langfuse's answer to the move
    embedded_aws: float = 0.0  # the handlers' requests to moto, answered in-process
    embedded_langfuse: float = 0.0  # the worker's requests to the Langfuse-compatible store

    def has_label_moved(self) -> bool:
        return bool(self.label_moved)

    @property
    def total(self) -> float:
        return self.label_moved - self.posted

    @property
    def poll_wait(self) -> float:
        return self.worker_started - self.queued

    @property
    def product(self) -> float:
        return self.total - self.poll_wait - self.embedded_aws - self.embedded_langfuse


@dataclass
class LocalPath:
    """Instruments a started LocalService; `alert()` opens the record of the next alert."""

    current: AlertTimes = field(default_factory=AlertTimes)
    _inside: threading.local = field(default_factory=threading.local)

    def alert(self) -> AlertTimes:
        self.current = AlertTimes(posted=time.perf_counter())
        return self.current

    def _in_handler(self, handler: Callable[..., Any], worker: bool) -> Callable[..., Any]:
        def run(event: Any, context: Any) -> Any:
            if worker and not self.current.worker_started:
                self.current.worker_started = time.perf_counter()
            self._inside.handler = True
            try:
                return handler(event, context)
            finally:
                self._inside.handler = False

        return run

    @contextmanager
    def installed(self, service: Any) -> Iterator[None]:
        import botocore.endpoint
        import httpx

        endpoint: Any = botocore.endpoint.Endpoint
        transport: Any = httpx.HTTPTransport
        webhook, worker = service._webhook, service.poller._handler
        aws_send, langfuse_send = endpoint._do_get_response, transport.handle_request
        service._webhook = self._in_handler(webhook, worker=False)
        service.poller._handler = self._in_handler(worker, worker=True)
        endpoint._do_get_response = self._timed(aws_send, self._aws_done)
        transport.handle_request = self._timed(langfuse_send, self._langfuse_done)
        try:
            yield
        finally:
            service._webhook, service.poller._handler = webhook, worker
            endpoint._do_get_response, transport.handle_request = aws_send, langfuse_send

    def _counted(self) -> bool:
        # Inside a handler (not the poller's long poll, not the bench's reads) and before the move.
        return bool(getattr(self._inside, "handler", False)) and not self.current.label_moved

    def _aws_done(self, seconds: float, ended: float, args: tuple[Any, ...]) -> None:
        if self._counted():
            self.current.embedded_aws += seconds
            if args[2].name in _QUEUEING and not self.current.queued:
                self.current.queued = ended

    def _langfuse_done(self, seconds: float, ended: float, args: tuple[Any, ...]) -> None:
        if self._counted():
            self.current.embedded_langfuse += seconds
            if args[1].method == "PATCH":
                self.current.label_moved = ended

    @staticmethod
    def _timed(
        original: Callable[..., Any], done: Callable[[float, float, tuple[Any, ...]], None]
    ) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                ended = time.perf_counter()
                done(ended - started, ended, args)

        return timed
