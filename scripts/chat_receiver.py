"""A local chat webhook for `make demo`: what a `json://` alert route delivers, written to files.

Enters: `python scripts/chat_receiver.py PORT FOLDER`; HTTP POSTs on 127.0.0.1:PORT with a JSON body
(Apprise's `json://` payload: `version`, `title`, `message`, `type`) and an `X-Idempotency-Key`.
Leaves: one file per alert in FOLDER, `<X-Idempotency-Key>.json` (a re-sent alert overwrites its
own file, as a receiver that drops copies would), holding the headers that matter and the body as
received; 200 for a JSON object, 400 otherwise. Runs until killed.
"""

from __future__ import annotations

import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

KEY = re.compile(r"[A-Za-z0-9_-]{1,80}")
MAX_BODY = 1 << 20


def handler(folder: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(min(length, MAX_BODY)))
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self.answer(400)
                return
            key = self.headers.get("X-Idempotency-Key") or ""
            name = key if KEY.fullmatch(key) else f"no-key-{time.monotonic_ns()}"
            received = {
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "idempotency_key": key or None,
                "body": body,
            }
            text = json.dumps(received, ensure_ascii=False, indent=2)
            (folder / f"{name}.json").write_text(text + "\n", encoding="utf-8")
            self.answer(200)

        def answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Quiet: the files are the log."""

    return Handler


def main(port: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ThreadingHTTPServer(("127.0.0.1", port), handler(folder)).serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
