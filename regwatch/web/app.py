"""The web application: search page, document page, digest archive, JSON API and Atom feeds.

Enters: a validated `Config` and HTTP GET requests. Leaves: HTML pages rendered from
`regwatch/web/templates` (one Jinja environment, autoescape on, `StrictUndefined`; snippets are
rebuilt from their text with only `<b>` kept), JSON (`/api/search`,
`/api/documents/{source}/{id}`), Atom (`/feed.atom?…` for any search, `@NAME` included) and the
files of `digest.output_dir`. Every request opens the archive read-only through the step
functions, so the server never writes and sees what writers commit. A query that cannot be
searched is a friendly message on the page (400) and `{"error": …}` with status 400 from the API;
so are an unknown path (404) and a method other than GET or HEAD (405: it only reads).
No page runs a script; a Content-Security-Policy forbids them, and every answer (404, 405 and
refused Host included) forbids framing and type sniffing. Served on a loopback address, it
answers only requests naming a loopback host (a page rebinding its own name to 127.0.0.1 must not
read the archive).
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import mimetypes
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict
from datetime import UTC, date, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from feedgen.feed import FeedGenerator
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive import ArchiveError, QueryError
from regwatch import steps
from regwatch.config import Config, ConfigError
from regwatch.inert import error_text, http_url, json_text, one_line, plain_text, template_value
from regwatch.showtext import damaged_line
from regwatch.web import params as p

HEADERS = {  # on every answer, the 404, 405 and refused-Host ones too
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
DIGEST_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.(?:html|txt|md)")  # a file name
FEED_ID = "tag:regwatch.invalid,2026:search/"
FEED_SIZE = 50
REFUSALS = {  # {0}: the method, {1}: the path
    404: "no page {1}: the pages are /, /documents/SOURCE/ID, /digests, /api/search, "
    "/api/documents/SOURCE/ID and /feed.atom",
    405: "{0} {1} is refused: regwatch serve only reads (GET or HEAD)",
}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


class Reader:
    """The archive opened read-only once and kept (opening costs tens of ms); dropped after an
    archive failure so the next request opens it again (a rebuilt index, a restored file)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._archive: Any = None

    def get(self) -> Any:
        if self._archive is None:
            self._archive = steps.open_archive(self.config, readonly=True)
        return self._archive

    def drop(self) -> None:
        archive, self._archive = self._archive, None
        if archive is not None:
            archive.close()


def create_app(
    config: Config, today: Callable[[], date] = date.today, host: str | None = None
) -> Starlette:
    """The application for `config`; `today` decides which comment periods are still open;
    served on `host`, a loopback address, it answers only requests naming a loopback host.

    Handlers are coroutines: they run one at a time on the event loop's thread, the only thread
    that touches the shared reader.
    """
    env = _environment()
    reader = Reader(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            reader.drop()

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        body = env.get_template(name).render(**context)
        return HTMLResponse(body, status_code=status)

    def run_search(request: Request, facets: bool, limit: int | None = None) -> tuple[Any, Any]:
        arguments = p.search_arguments(request.query_params, facets=facets)
        if limit:
            arguments.update(limit=limit, offset=0)
        text = arguments.pop("text")
        search = steps.search_request(config, text, today=today(), **arguments)
        try:
            return search, steps.search(config, search, check_index=False, reader=reader.get())
        except ArchiveError:
            reader.drop()
            raise

    async def search_page(request: Request) -> HTMLResponse:
        query = request.query_params
        context = {"params": query, "q": query.get("q", ""), "message": None}
        context |= {"link": p.link, "facet_link": p.facet_link}
        context |= {"active": p.active_filters(query), "result": None, "search": None}
        context |= {"page_size": p.PAGE_SIZE, "page": 1}
        try:
            if p.is_blank(query):
                p.search_arguments(query)  # nothing asked, but a page or sort given is checked
                return page("search.html", **context)
            search, result = run_search(request, facets=True)
            context |= {"search": search, "result": result, "page": p.page_number(query)}
        except (QueryError, ConfigError) as exc:
            return page("search.html", 400, **context | {"message": error_text(exc)})
        except ArchiveError as exc:
            return page("search.html", 503, **context | {"message": error_text(exc)})
        return page("search.html", **context)

    def show(request: Request) -> dict[str, Any]:
        source, source_id = request.path_params["source"], request.path_params["source_id"]
        try:
            return steps.show(config, source_id, source, reader=reader.get(), today=today())
        except ArchiveError:
            reader.drop()
            raise

    async def document_page(request: Request) -> HTMLResponse:
        try:
            doc = show(request)
        except QueryError as exc:
            return page("message.html", 404, title="Not found", message=error_text(exc))
        except ArchiveError as exc:
            return page("message.html", 503, title="Archive unavailable", message=error_text(exc))
        return page("document.html", doc=doc, doc_link=doc_link, damaged=damaged_line(doc))

    async def digests_page(request: Request) -> HTMLResponse:
        folder = Path(config["digest.output_dir"])
        names = [f.name for f in folder.glob("*")] if folder.is_dir() else []
        files = sorted((n for n in names if digest_path(folder, n)), reverse=True)
        return page("digests.html", files=files, folder=str(folder))

    async def digest_file(request: Request) -> Response:
        name = request.path_params["name"]
        path = digest_path(Path(config["digest.output_dir"]), name)
        try:
            body = path.read_bytes() if path else None
        except OSError as exc:
            unreadable = error_text(f"cannot read digest file {name}: {exc.strerror}")
            return page("message.html", 503, title="Digest unavailable", message=unreadable)
        if body is None:
            missing = error_text(f"no digest file {name}")
            return page("message.html", 404, title="Not found", message=missing)
        kind = mimetypes.guess_type(name)[0] or "text/plain"
        media = kind if kind == "text/html" else "text/plain"
        return Response(body, media_type=f"{media}; charset=utf-8")

    async def api_search(request: Request) -> JSONResponse:
        try:
            search, result = run_search(request, facets=True)
        except (QueryError, ConfigError) as exc:
            return api_error(exc, 400)
        except ArchiveError as exc:
            return api_error(exc, 503)
        body = {
            "query": search.text,
            "total": result.total,
            "offset": search.offset,
            "hits": [asdict(hit) for hit in result.hits],
            "facets": {k: [[v, n] for v, n in counts] for k, counts in result.facets.items()},
            "notes": result.notes,
        }
        return InertJSONResponse(body)

    async def api_document(request: Request) -> JSONResponse:
        try:
            doc = show(request)
        except QueryError as exc:
            return api_error(exc, 404)
        except ArchiveError as exc:
            return api_error(exc, 503)
        return InertJSONResponse(doc)

    async def feed(request: Request) -> Response:
        try:
            search, result = run_search(request, facets=False, limit=FEED_SIZE)
        except (QueryError, ConfigError) as exc:
            return api_error(exc, 400)
        except ArchiveError as exc:
            return api_error(exc, 503)
        body = atom(str(request.url), search.text, result.hits, str(request.base_url))
        return Response(body, media_type="application/atom+xml")

    def trouble(request: Request, status: int, message: str) -> Response:
        """`message` with `status`: `{"error"}` under /api/, else a page."""
        if request.url.path.startswith("/api/"):
            return api_error(message, status)
        return page("message.html", status, title=HTTPStatus(status).phrase, message=message)

    async def refused(request: Request, exc: HTTPException) -> Response:
        """An unknown path (404) or a method other than GET and HEAD (405), in the route's form."""
        text = REFUSALS[exc.status_code].format(request.method, request.url.path)
        answer = trouble(request, exc.status_code, error_text(text))
        answer.headers.update(exc.headers or {})
        return answer

    async def crashed(request: Request, exc: Exception) -> Response:
        """A fault of this server (none known) in the route's form, one line, with `HEADERS`
        itself: Starlette answers it outside the middleware that adds them."""
        text = f"regwatch serve failed on {request.url.path}: {type(exc).__name__}: {exc}"
        answer = trouble(request, 500, error_text(text))
        answer.headers.update(HEADERS)
        return answer

    routes = [
        Route("/", search_page),
        Route("/documents/{source}/{source_id:path}", document_page),
        Route("/digests", digests_page),
        Route("/digests/{name}", digest_file),
        Route("/api/search", api_search),
        Route("/api/documents/{source}/{source_id:path}", api_document),
        Route("/feed.atom", feed),
    ]
    hosts = Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(host))
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(Headers), hosts],
        exception_handlers={404: refused, 405: refused, Exception: crashed},
    )


def allowed_hosts(host: str | None) -> list[str]:
    """The Host names a server on address `host` answers: on a loopback address the loopback
    names only (DNS rebinding), else any (it was served to a network on purpose)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback or host is None:
        return ["*"]
    return list(dict.fromkeys((*LOOPBACK_NAMES, f"[{host}]" if ":" in host else host)))


def digest_path(folder: Path, name: str) -> Path | None:
    """`folder / name` if `name` is a digest file name and what it reaches, links followed, is a
    file inside `folder`; else None (a link placed there to /etc/passwd or ~/.ssh is no digest)."""
    path = folder / name
    if not DIGEST_FILE.fullmatch(name):
        return None
    try:
        inside = path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a loop of links
        return None
    return path if inside and path.is_file() else None


class Headers:
    """ASGI middleware: `HEADERS` on every answer, the router's 404 and 405 and the Host check's
    400 included (a page of the archive framed by another site, or sniffed as script, is none)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


class InertJSONResponse(JSONResponse):
    """JSON whose control and bidi characters are `\\u` escapes (`json_text`): the same data,
    inert when `curl` prints it to a terminal."""

    def render(self, content: Any) -> bytes:
        return json_text(content, allow_nan=False, separators=(",", ":")).encode("utf-8")


def api_error(exc: object, status: int, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """`{"error": …}` (`error_text`: one line of at most `ERROR_WIDTH` characters) with `status`."""
    return InertJSONResponse({"error": error_text(exc)}, status_code=status, headers=headers)


def doc_link(source: str, source_id: str) -> str:
    """The document page's path."""
    return f"/documents/{quote(source, safe='')}/{quote(source_id, safe='')}"


def highlight(snippet: str) -> Markup:
    """A search snippet as safe HTML: its text escaped again, only `<b>` and `</b>` kept."""
    parts = re.split(r"(</?b>)", snippet)
    return Markup(
        "".join(
            part if part in ("<b>", "</b>") else html.escape(plain_text(html.unescape(part)))
            for part in parts
        )
    )


def atom(self_url: str, text: str, hits: list[Any], base: str) -> bytes:
    """An Atom feed of search hits (newest first when the search sorts so)."""
    feed = FeedGenerator()
    feed.id(FEED_ID + quote(self_url, safe=""))
    feed.title(one_line(f"regwatch search: {text}" if text else "regwatch search"))
    feed.author({"name": "regwatch"})
    feed.link(href=self_url, rel="self")
    days = [_day(hit.publication_date) for hit in hits]
    newest = max(filter(None, days), default=datetime(1970, 1, 1, tzinfo=UTC))
    feed.updated(newest)
    for hit, day in zip(hits, days, strict=True):
        entry = feed.add_entry(order="append")
        entry.id(f"{FEED_ID}{quote(hit.source, safe='')}/{quote(hit.source_id, safe='')}")
        entry.title(one_line(hit.title))
        entry.updated(day or newest)
        entry.link(href=http_url(hit.url) or base.rstrip("/") + doc_link(hit.source, hit.source_id))
        entry.summary(_summary(hit, day), type="text")
    return feed.atom_str(pretty=True)


def _day(iso: str) -> datetime | None:
    """The publication date at midnight UTC; None if the stored text is no date (hand-edited)."""
    try:
        return datetime.fromisoformat(iso).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _summary(hit: Any, day: datetime | None) -> str:
    """The hit's snippet as text (no `<b>`, entities read), after a line naming its publication
    date when it cannot be read (`day` None: the entry is dated as the newest)."""
    text = html.unescape(re.sub(r"</?b>", "", hit.snippet))
    if day is None:
        text = (
            f"{hit.source} {hit.source_id}: stored publication_date {hit.publication_date!r} "
            f"cannot be read (damaged): restore regwatch.db from a backup\n{text}"
        )
    return plain_text(text)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("regwatch.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=template_value,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(highlight=highlight, http_url=http_url)
    env.globals.update(doc_link=doc_link)
    return env
