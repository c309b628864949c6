"""A Slack incoming-webhook endpoint on loopback: records what it is sent, can fail on demand."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


class SlackWebhookServer:
    """Answers like hooks.slack.com: 200 "ok", or the queued failures (status, Retry-After)."""

    path = "/services/T000/B000/sEcReTwEbHoOkToKeN"

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.attempts = 0
        self._failures: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}{self.path}"

    def fail_next(self, status: int, count: int = 1, retry_after: str | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        with self._lock:
            self.attempts += 1
            failure = self._failures.pop(0) if self._failures else None
            if failure is None and environ.get("PATH_INFO") == self.path:
                self.messages.append(json.loads(body))
        if failure is not None:
            status, retry_after = failure
            headers = [("Retry-After", retry_after)] if retry_after else []
            start_response(f"{status} Failure", [("Content-Type", "text/plain"), *headers])
            return [b"rate_limited" if status == 429 else b"internal_error"]
        if environ.get("PATH_INFO") != self.path:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no_service"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def start(self) -> SlackWebhookServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
