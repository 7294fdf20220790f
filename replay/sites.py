"""A local HTTP server replaying one web site (bis.gov, ntia.gov) from a route table.

Enters: a replay directory (default `replay.server.RECORDINGS`), a site name (`bis`, `ntia`: the
folder under it holding `routes.json`, `scenarios/` and the `synthetic-*` files), and optionally a
scenario (a name under `<site>/scenarios/`, a path to a JSON file, or the dict itself) whose
routes are tried before the site's own.
Leaves: HTTP answers on 127.0.0.1 with the real paths (`/news-updates`, `/press-release/{slug}`,
`/rss.xml`, …), so a crawl only changes the host. A route is the replay server's (`path`, `query`,
`times`, `status`, `file`, `headers`, `truncate_at`); a route whose headers carry `ETag` or
`Last-Modified` answers a request repeating them (`If-None-Match`, `If-Modified-Since`) with 304
and no body, as a web server does. Anything else gets 404.
"""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from replay.server import RECORDINGS, Handler, ReplayServer, Route, Scenario, load_scenario

SITES = ("bis", "ntia")


class SiteServer(ReplayServer):
    """One site's replay; `url` is the base URL to configure (`http://127.0.0.1:PORT/`)."""

    def __init__(self, directory: Path, site: str, host: str, port: int, scenario: Scenario):
        ThreadingHTTPServer.__init__(self, (host, port), SiteHandler)
        self.source_dir = Path(directory) / site
        table = json.loads((self.source_dir / "routes.json").read_text(encoding="utf-8"))
        own = [Route(**route) for route in table["routes"]]
        self.scenario = Scenario(routes=[*scenario.routes, *own])
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self.user_agents: list[str] = []
        self.conditional: list[str] = []  # requests that carried a validator
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class SiteHandler(Handler):
    server: SiteServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        agent = self.headers.get("User-Agent", "")
        route = self.server.route_for(parts.path, pairs, self.path, agent)
        if route is None:
            self._send(404, b"Not Found", {"Content-Type": "text/plain; charset=utf-8"})
        elif self._unchanged(route):
            self._send(304, b"", {k: v for k, v in route.headers.items() if k != "Content-Type"})
        else:
            self._send_route(route)

    def _unchanged(self, route: Route) -> bool:
        """Whether the request's validators match the route's (a conditional GET to answer 304)."""
        etag, since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if etag or since:
            with self.server.lock:
                self.server.conditional.append(self.path)
        if etag is not None:
            return etag == route.headers.get("ETag")
        return since is not None and since == route.headers.get("Last-Modified")


def serve_site(
    site: str,
    directory: Path | str = RECORDINGS,
    scenario: str | Path | dict[str, Any] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> SiteServer:
    """Start a replay of `site` in a background thread; stop it with `.stop()` or use `with`."""
    site_dir = Path(directory) / site
    return SiteServer(Path(directory), site, host, port, load_scenario(site_dir, scenario)).start()
