"""A real webhook receiver on 127.0.0.1 for alert tests (HTTP, or HTTPS with a self-signed cert).

Enters: a script of status codes to answer (then 200; a 3xx points `Location` at `/moved`, whose
GET is answered 200), an optional delay before answering, an
optional `hold_after` (requests after that many accepted ones wait for `release()` and are
then refused), an optional TLS certificate.
Leaves: `requests` (every request: method, path, headers, JSON or form body) and `accepted`
(the requests answered 2xx), plus `wait_for(condition)` polling with a timeout.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class Receiver:
    def __init__(
        self,
        statuses: list[int] | None = None,
        *,
        delay: float = 0.0,
        hold_after: int | None = None,
        cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.statuses = list(statuses or [])
        self.delay = delay
        self.hold_after = hold_after
        self.requests: list[Request] = []
        self.accepted: list[Request] = []
        self.holding = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        if cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*cert)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def keys(self) -> list[str]:
        """Idempotency keys of the accepted requests, in arrival order."""
        return [r.headers.get("X-Idempotency-Key", "") for r in self.accepted]

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; received {len(self.requests)} requests")
            time.sleep(0.01)

    def _answer(self, request: Request) -> int:
        with self._lock:
            self.requests.append(request)
            held = self.hold_after is not None and len(self.accepted) >= self.hold_after
            status = self.statuses.pop(0) if self.statuses and not held else 200
        if held:
            self.holding.set()
            self._release.wait(30)
            return 503
        if 200 <= status < 300:
            with self._lock:
                self.accepted.append(request)
        if self.delay:
            time.sleep(self.delay)
        return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                kind = self.headers.get("Content-Type", "")
                body = parse_qs(raw) if "form" in kind else json.loads(raw or "null")
                status = receiver._answer(Request("POST", self.path, dict(self.headers), body))
                self._reply(status)

            def do_GET(self) -> None:  # noqa: N802 - where a redirected client lands
                self._reply(receiver._answer(Request("GET", self.path, dict(self.headers), None)))

            def _reply(self, status: int) -> None:
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/moved")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
