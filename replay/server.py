"""A local HTTP server replaying the Federal Register API from recorded data.

Enters: a replay directory (default `RECORDINGS`, shipped in this package, holding
`federal_register/` with `store.jsonl.gz`,
`api.json`, `recorded/`, `synthetic/`, `scenarios/`) and optionally a scenario: a route table (a
scenario name under `federal_register/scenarios/`, a path to a JSON file, or the dict itself).
Leaves: HTTP answers on 127.0.0.1. `/api/v1/documents.json` and `/api/v1/documents?…&format=json`
answer searches from the store (see `replay.federal_register`); public inspection
(`/api/v1/public-inspection-documents/current.json`, `…documents.json?conditions[available_on]=`)
from the recorded filings (`replay.public_inspection`); full text
(`/documents/full_text/text|html/YYYY/MM/DD/<number>.txt|html`) from the files `api.json` names
(the recorded raw text of 93-32104, synthetic bodies), any other a 404 HTML page (synthetic);
`next_page_url` points back at
this server's own host (the one the client used in `Host`), with the real path and query. A
scenario route `{"path", "query": {name: value}, "times": [n, …], "status", "file", "headers",
"truncate_at"}` answers the n-th matching request with a file (relative to `federal_register/`);
`truncate_at` declares the full Content-Length but sends only that many bytes. `"overrides"` names
a JSON-lines file of document changes applied to the store (a corrected version of a document);
`"pi_filings"` a JSON file of extra public-inspection filings, `"pi_withdrawn"` the document
numbers taken off public inspection. The Consolidated Screening List download and the eCFR
versioner API are answered from `csl/` and `ecfr/` (`replay.csl`, `replay.ecfr`; options per
source under the scenario's `"sources"`, e.g. `{"csl": {"snapshot":
"synthetic-consolidated-2.json"}}`); `base_url(source)` is the base URL to configure for each.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from replay import csl, ecfr
from replay import federal_register as fr
from replay.public_inspection import InspectionDesk

SOURCE_DIR = "federal_register"
RECORDINGS = Path(__file__).resolve().with_name("recordings")
JSON_TYPE = "application/json; charset=utf-8"
CONTENT_TYPES = {".json": JSON_TYPE, ".html": "text/html; charset=utf-8", ".txt": "text/plain"}


@dataclass(slots=True)
class Route:
    """One scenario rule: which requests it catches and what it answers."""

    status: int
    file: str | None = None
    path: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    times: list[int] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    truncate_at: int | None = None
    seen: int = 0

    def catches(self, path: str, pairs: list[tuple[str, str]]) -> bool:
        """Count a request matching path and query; True if this occurrence is answered here."""
        if self.path not in (None, path) or any((k, v) not in pairs for k, v in self.query.items()):
            return False
        self.seen += 1
        return self.times is None or self.seen in self.times


@dataclass(slots=True)
class Scenario:
    routes: list[Route] = field(default_factory=list)
    overrides: str | None = None
    pi_filings: str | None = None
    pi_withdrawn: list[str] = field(default_factory=list)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_scenario(source_dir: Path, scenario: str | Path | dict[str, Any] | None) -> Scenario:
    """Resolve a scenario given by name, file path or dict."""
    if scenario is None:
        return Scenario()
    if isinstance(scenario, str) and not scenario.endswith(".json"):
        scenario = source_dir / "scenarios" / f"{scenario}.json"
    if not isinstance(scenario, dict):
        scenario = json.loads(Path(scenario).read_text(encoding="utf-8"))
    routes = [Route(**r) for r in scenario.get("routes", [])]
    return Scenario(
        routes=routes,
        overrides=scenario.get("overrides"),
        pi_filings=scenario.get("pi_filings"),
        pi_withdrawn=list(scenario.get("pi_withdrawn", [])),
        sources=scenario.get("sources", {}),
    )


class ReplayServer(ThreadingHTTPServer):
    """The HTTP server; `url` is the base URL to configure (`http://127.0.0.1:PORT/api/v1/`)."""

    daemon_threads = True

    def __init__(self, directory: Path, host: str, port: int, scenario: Scenario) -> None:
        super().__init__((host, port), Handler)
        self.source_dir = Path(directory) / SOURCE_DIR
        self.api = fr.load_api(self.source_dir / "api.json")
        overrides = self.source_dir / scenario.overrides if scenario.overrides else None
        self.store = fr.DocumentStore.load(self.source_dir / "store.jsonl.gz", overrides)
        filings = self.source_dir / scenario.pi_filings if scenario.pi_filings else None
        self.desk = InspectionDesk.load(self.source_dir, self.api, filings, scenario.pi_withdrawn)
        self.full_text = re.compile(self.api["full_text"]["path_pattern"])
        self.scenario = scenario
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self.user_agents: list[str] = []
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/api/v1/"

    def base_url(self, source: str) -> str:
        """The base URL to configure for `source` (federal_register, csl or ecfr)."""
        host, port = self.server_address[:2]
        paths = {"csl": csl.BASE_PATH, "ecfr": ecfr.BASE_PATH}
        return f"http://{host}:{port}{paths[source]}" if source in paths else self.url

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def route_for(
        self, path: str, pairs: list[tuple[str, str]], target: str, agent: str
    ) -> Route | None:
        """Log the request and return the scenario route answering it, if any."""
        with self.lock:
            self.requests.append(target)
            self.user_agents.append(agent)
            return next((r for r in self.scenario.routes if r.catches(path, pairs)), None)


class Handler(BaseHTTPRequestHandler):
    server: ReplayServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        agent = self.headers.get("User-Agent", "")
        route = self.server.route_for(parts.path, pairs, self.path, agent)
        other = self._other_source(parts.path, pairs)
        if route is not None:
            self._send_route(route)
        elif other is not None:
            status, body, kind = other
            self._send(status, body, {"Content-Type": kind})
        elif parts.path in self.server.api["search_paths"]:
            reply = fr.search(self.server.store, self.server.api, pairs, self._origin())
            self._send(reply.status, reply.body, {"Content-Type": JSON_TYPE})
        elif parts.path in self._inspection_paths():
            self._send_inspection(parts.path, pairs)
        elif match := self.server.full_text.match(parts.path):
            self._send_full_text(match.group(2), match.group(3))
        else:
            body = fr.dump(self.server.api["bodies"]["not_found"])
            self._send(404, body, {"Content-Type": JSON_TYPE})

    def _inspection_paths(self) -> list[str]:
        facts = self.server.api["public_inspection"]
        return [facts["current_path"], *facts["search_paths"]]

    def _send_inspection(self, path: str, pairs: list[tuple[str, str]]) -> None:
        desk = self.server.desk
        try:
            reply = desk.current() if path.endswith("/current.json") else desk.search(pairs)
        except fr.ApiError as error:
            reply = fr.Reply(error.status, fr.dump(error.body))
        self._send(reply.status, reply.body, {"Content-Type": JSON_TYPE})

    def _send_full_text(self, number: str, suffix: str) -> None:
        """The body file of `number` as text/plain (`.txt` only), else the synthetic 404 page."""
        facts = self.server.api["full_text"]
        name = facts["files"].get(number) if suffix == "txt" else None
        status, name = (200, name) if name else (404, facts["missing"])
        path = self.server.source_dir / name
        self._send(status, path.read_bytes(), {"Content-Type": CONTENT_TYPES[path.suffix]})

    def _other_source(self, path: str, pairs: list[tuple[str, str]]) -> tuple | None:
        """The CSL or eCFR reply to this request, or None if it is for neither."""
        recordings, options = self.server.source_dir.parent, self.server.scenario.sources
        with self.server.lock:  # this request is logged already
            served = sum(urlsplit(r).path == csl.PATH for r in self.server.requests) - 1
        return csl.answer(recordings, path, options.get("csl", {}), served) or ecfr.answer(
            recordings, path, pairs, options.get("ecfr", {})
        )

    def _origin(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def _send_route(self, route: Route) -> None:
        path = self.server.source_dir / route.file if route.file else None
        body = path.read_bytes() if path else b""
        kind = CONTENT_TYPES.get(path.suffix, JSON_TYPE) if path else JSON_TYPE
        self._send(route.status, body, {"Content-Type": kind, **route.headers}, route.truncate_at)

    def _send(
        self, status: int, body: bytes, headers: dict[str, str], truncate_at: int | None = None
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if truncate_at is None else body[:truncate_at])
        self.close_connection = truncate_at is not None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        """Silence per-request logging; `ReplayServer.requests` records every request."""


def serve(
    directory: Path | str,
    host: str = "127.0.0.1",
    port: int = 0,
    scenario: str | Path | dict[str, Any] | None = None,
) -> ReplayServer:
    """Start a replay server in a background thread; stop it with `.stop()` or use `with`."""
    source_dir = Path(directory) / SOURCE_DIR
    return ReplayServer(Path(directory), host, port, load_scenario(source_dir, scenario)).start()


def run_forever(
    directory: Path | str = RECORDINGS, port: int = 8400, scenario: str | None = None
) -> None:
    """Serve until interrupted, printing the base URL to configure (the CLI's `replay-server`);
    `scenario` names one of `federal_register/scenarios/` (ValueError listing them if unknown)."""
    source_dir = Path(directory) / SOURCE_DIR
    if not (source_dir / "store.jsonl.gz").is_file():
        raise ValueError(f"{directory}: no {SOURCE_DIR}/store.jsonl.gz (see replay/recordings)")
    known = sorted(path.stem for path in (source_dir / "scenarios").glob("*.json"))
    if scenario is not None and scenario not in known:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(known)}")
    server = ReplayServer(Path(directory), "127.0.0.1", port, load_scenario(source_dir, scenario))
    print(f"replaying the Federal Register API at {server.url} (Ctrl-C to stop)", flush=True)
    print(f"  CSL at {server.base_url('csl')}, eCFR at {server.base_url('ecfr')}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
