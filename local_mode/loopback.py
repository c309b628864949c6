"""A WSGI app served on a loopback port from a daemon thread: local mode's embedded servers."""

from __future__ import annotations

import errno
import socket
import ssl
import threading
from wsgiref.types import WSGIApplication

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class PortInUse(OSError):
    """The port is taken; raised in the caller's thread (werkzeug would `sys.exit` in its own)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"{host}:{port} is in use by another program")
        self.host = host
        self.port = port


class _QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        """Tests and local mode print what matters themselves."""


class LoopbackServer:
    def __init__(
        self, app: WSGIApplication, host: str, port: int, name: str, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        # Bound here rather than by werkzeug, whose bind failure prints and calls sys.exit: in a
        # server thread (moto's) that ends only the thread and leaves the caller waiting forever.
        try:
            listening = socket.create_server((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(host, port) from error
            raise
        with listening:  # werkzeug serves a duplicate of this socket
            self._server: BaseWSGIServer = make_server(
                host,
                port,
                app,
                threaded=True,
                request_handler=_QuietRequestHandler,
                fd=listening.fileno(),
                ssl_context=ssl_context,
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=name, daemon=True
        )

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
