"""Alert delivery speed: 1,000 pending alerts to a local `json://` receiver that answers at once.

Enters: `--count` alerts (default 1,000). An archive in a temporary folder gets that many tagged
documents, stored after a first crawl and after the route was added, so each queues one alert.
Leaves: on stdout, how long queueing took (inside `store_tags`), Apprise's one-time plugin loading,
the delivery rate of `digests.alerts.deliver` (alerts/s; goal >= 100), checked against what the
receiver (a thread in the same process) accepted, and, measured in the same run, the rate of bare
`requests.post` calls to the same receiver: the ratio of the two is what the outbox and Apprise
cost beyond HTTP itself, and holds steadier than either rate on a shared machine.

Run: .venv/bin/python bench/alerts.py [--count N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import apprise  # noqa: E402
import requests  # noqa: E402

from archive import Archive, Publication, RouteFilter  # noqa: E402
from digests.alerts import Policy, deliver  # noqa: E402

GOAL = 100  # alerts/s
RESULT = {"tags": ["export_control"], "scores": {"export_control": 0.9}, "evidence": {},
          "entities": {}, "dates": {}}  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Handler.received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def seed(archive: Archive, count: int) -> float:
    """Store and tag `count` documents as a live crawl would; seconds spent tagging."""
    past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat(timespec="seconds")
    archive.log_crawl("federal_register", started_at=past, finished_at=past, ok=True, stats={})
    archive.register_routes(["bench"])
    archive.store(
        [
            Publication("federal_register", f"2030-{i:05d}", f"Export rule {i}", "2030-01-02",
                        url=f"https://www.federalregister.gov/d/2030-{i:05d}")
            for i in range(count)
        ]
    )  # fmt: skip
    start = time.perf_counter()
    for batch in archive.documents_to_tag("bench"):
        archive.store_tags([(item, RESULT) for item in batch], "bench", [RouteFilter("bench")])
    return time.perf_counter() - start


def bare_posts(url: str, count: int) -> float:
    """Requests per second of plain `requests.post` calls (a new connection each, like Apprise)."""
    body = b'{"version": "1.0", "title": "", "message": "Export rule", "type": "info"}'
    start = time.perf_counter()
    for _ in range(count):
        requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=5)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"json://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp, Archive.open(Path(tmp)) as archive:
        queued = seed(archive, args.count)
        start = time.perf_counter()
        apprise.Apprise.instantiate(url)  # Apprise loads its ~260 plugin modules once per process
        loading = time.perf_counter() - start
        start = time.perf_counter()
        result = deliver(archive, {"bench": url}, Policy(timeout_seconds=5.0))
        seconds = time.perf_counter() - start
    assert result.sent == Handler.received == args.count, (result, Handler.received)
    bare = bare_posts(f"http://127.0.0.1:{server.server_address[1]}/hook", args.count)
    server.shutdown()
    rate = result.sent / seconds
    print(f"queued {args.count} alerts while storing tags in {queued:.2f} s")
    print(f"Apprise plugin loading (once per process): {loading:.2f} s")
    print(f"delivered {result.sent} alerts in {seconds:.2f} s: {rate:.0f} alerts/s", end=" ")
    print(f"({rate / GOAL:.2f} × the goal of {GOAL})")
    print(
        f"bare requests.post to the same receiver: {bare:.0f}/s; delivery / bare: {rate / bare:.2f}"
    )


if __name__ == "__main__":
    main()
