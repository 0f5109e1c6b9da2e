"""Server and TLS plumbing: one https origin on a free loopback port, with its own throwaway CA.

Why https: msal refuses plain-http authorities, and production must be tested with certificate checks on,
so the emulator writes the CA it signed with to ``ca.pem`` for the client to trust.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

import trustme
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """Request handler that keeps the test output quiet (werkzeug logs every request otherwise)."""

    timeout = 30  # a client that connects and sends nothing cannot hold a worker thread forever

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s " + message, type, *args)


class _JoiningServer(ThreadedWSGIServer):
    """werkzeug's threaded server, but stop() waits for its worker threads and cuts idle connections."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._live: set[socket.socket] = set()
        self._live_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._live_lock:
            self._live.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._live_lock:
            self._live.discard(request)
        super().shutdown_request(request)

    def abort_connections(self) -> None:
        with self._live_lock:
            live = list(self._live)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class TlsServer:
    """Serves one WSGI app over https in a background thread; knows the URLs it answers on."""

    def __init__(self, host: str, ca_dir: str | Path | None) -> None:
        self.host = host
        self.port: int | None = None
        self.ca_path: str | None = None
        self._ca_dir = Path(ca_dir) if ca_dir is not None else None
        self._own_dir: str | None = None
        self._server: _JoiningServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        """``https://127.0.0.1:PORT``."""
        if self.port is None:
            raise RuntimeError("MsEmulator is not started")
        return f"https://{self.host}:{self.port}"

    @property
    def login_url(self) -> str:
        return self.origin

    @property
    def graph_url(self) -> str:
        return f"{self.origin}/v1.0"

    def start(self, app: Any) -> None:
        """Create the CA and certificate, bind a free port and serve ``app`` in a background thread."""
        if self._server is not None:
            return
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(ctx)
        if self._ca_dir is None:
            self._own_dir = tempfile.mkdtemp(prefix="ms-emulator-")
            directory = Path(self._own_dir)
        else:
            directory = self._ca_dir
            directory.mkdir(parents=True, exist_ok=True)
        ca_file = directory / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        self.ca_path = str(ca_file)
        server = _JoiningServer(self.host, 0, app, handler=_QuietHandler)
        # Wrap ourselves with a lazy handshake: the handshake then runs in the worker thread, so a client
        # that connects and stalls (or speaks plain http) cannot block the accept loop.
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        server.ssl_context = ctx
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"ms-emulator:{self.port}"
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, wait for every worker thread, and remove the temporary CA directory."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.abort_connections()
        server.server_close()  # joins the worker threads
        if thread is not None:
            thread.join(timeout=10)
        self._server = None
        self._thread = None
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None
