"""The crawler against a hostile Federal Register: a local server on 127.0.0.1 answering each way a
source can lie (foreign, `file:`, looping and endless paging, malformed results, lying counts, a
gzip bomb, redirects off the host), plus stopping a crawl's parent and credentials in a base URL.
Every failure must be loud (CrawlResult.ok False or exit 1, one clear line, a failed crawl-log
entry), keep the watermark, store nothing of the failed slice, and send no request off the API host.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from archive import Archive
from crawlers.run import CrawlResult, crawl
from crawlers.urls import redact
from regwatch.cli import main
from tests.processes import alive, children, wait_for

REPO = Path(__file__).resolve().parent.parent
CONTACT = "crawler-tests@example.org"
DAY = "2023-10-25"
BEFORE = "2023-10-24"  # the watermark every test starts from
FAST = {"DOWNLOAD_DELAY": 0, "RETRY_BACKOFF_BASE": 0.001, "RETRY_TIMES": 1}
SECRET = "s3cret-Pa55"

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Hostile:
    """A local HTTP server answering every request with `script(server, path_and_query)`."""

    script: Callable[[Hostile, str], Answer]
    requests: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    httpd: ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.origin}/api/v1/"

    def start(self) -> Hostile:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                server.authorizations.append(self.headers.get("Authorization"))
                status, headers, body = server.script(server, self.path)
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[Hostile, str], Answer]], Hostile]]:
    servers: list[Hostile] = []

    def start(script: Callable[[Hostile, str], Answer]) -> Hostile:
        servers.append(Hostile(script).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def foreign(serve) -> Hostile:
    """Another host: whatever it is asked, the test fails if it is asked anything."""
    return serve(lambda server, path: json_answer({"count": 0, "results": []}))


def doc(n: int) -> dict[str, Any]:
    return {
        "document_number": f"2023-9{n:04d}",
        "title": f"Synthetic notice {n}",
        "publication_date": DAY,
        "type": "Notice",
    }


def json_answer(body: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def page(count: int, results: Any, next_page_url: Any = None) -> Answer:
    body = {"count": count, "results": results}
    if next_page_url is not None:
        body["next_page_url"] = next_page_url
    return json_answer(body)


def first_page_then(later: Callable[[Hostile, str], Answer], first: Answer) -> Callable:
    """The search (`documents.json`) gets `first`; any other request gets `later`."""
    return lambda server, path: first if "/documents.json?" in path else later(server, path)


def start_home(home: Path) -> Path:
    with Archive.open(home) as archive:
        archive.set_watermark("federal_register", BEFORE)
    return home


def run(home: Path, server: Hostile, **settings: Any) -> CrawlResult:
    return crawl(
        home,
        since=DAY,
        until=DAY,
        base_url=server.url,
        contact=CONTACT,
        settings={**FAST, "REGWATCH_PER_PAGE": 2, **settings},
    )


def crawl_log(home: Path) -> list[tuple[bool, dict[str, Any]]]:
    with sqlite3.connect(home / "regwatch.db") as conn:
        rows = conn.execute("SELECT ok, stats FROM crawl_log ORDER BY id").fetchall()
    return [(bool(ok), json.loads(stats)) for ok, stats in rows]


def assert_failed_loudly(home: Path, result: CrawlResult, message: str) -> None:
    """Failed with `message` on one line, watermark kept, nothing stored, the failure logged."""
    assert not result.ok
    assert message in result.error, result.error
    assert "\n" not in result.error
    assert result.watermark == BEFORE
    with Archive.open(home) as archive:
        assert archive.watermark("federal_register") == BEFORE
        assert archive.publications(since=DAY, until=DAY) == []
    (ok, stats), *_ = crawl_log(home)[-1:]
    assert not ok and message in stats["errors"][0]


# --- each lie, one crawl: fails loudly, nothing kept, nothing asked of another host --------------


def test_a_next_link_to_another_host_is_never_followed(tmp_path, serve, foreign):
    link = f"{foreign.url}documents?page=2"
    server = serve(lambda s, path: page(4, [doc(1), doc(2)], link))
    result = run(start_home(tmp_path), server)
    assert_failed_loudly(tmp_path, result, f"next_page_url leaves the API host: '{link}'")
    assert foreign.requests == []
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "link",
    ["file:///etc/passwd", "data:application/json,{}", "ftp://127.0.0.1/x", "/api/v1/documents"],
)
def test_a_next_link_that_is_not_an_absolute_http_url_is_refused(tmp_path, serve, link):
    server = serve(lambda s, path: page(4, [doc(1), doc(2)], link))
    result = run(start_home(tmp_path), server)
    assert_failed_loudly(tmp_path, result, f"next_page_url leaves the API host: '{link}'")
    assert len(server.requests) == 1


def test_a_redirect_off_the_api_host_is_refused_before_it_is_requested(tmp_path, serve, foreign):
    target = f"{foreign.url}documents.json?page=1"
    server = serve(lambda s, path: (302, {"Location": target}, b""))
    result = run(start_home(tmp_path), server)
    assert_failed_loudly(tmp_path, result, f"refused to request '{target}' (a redirect)")
    assert foreign.requests == []


def test_a_redirect_to_a_file_url_fails_the_crawl(tmp_path, serve):
    server = serve(lambda s, path: (302, {"Location": "file:///etc/passwd"}, b""))
    result = run(start_home(tmp_path), server)
    assert_failed_loudly(tmp_path, result, "HTTP 302")


def test_a_self_link_is_a_failed_slice_not_a_silently_dropped_page(tmp_path, serve):
    server = serve(lambda s, path: page(4, [doc(1), doc(2)], s.origin + path))
    result = run(start_home(tmp_path), server)
    assert_failed_loudly(tmp_path, result, "next_page_url repeats a page already read")
    assert len(server.requests) == 1


def test_a_paging_loop_back_to_the_first_page_fails(tmp_path, serve):
    first: list[str] = []

    def script(server: Hostile, path: str) -> Answer:
        if "/documents.json?" in path:
            first.append(server.origin + path)
            return page(6, [doc(1), doc(2)], f"{server.origin}/api/v1/documents?page=2")
        return page(6, [doc(3), doc(4)], first[0])

    server = serve(script)
    result = run(start_home(tmp_path), server)
    assert_failed_loudly(tmp_path, result, "page 2: next_page_url repeats a page already read")
    assert len(server.requests) == 2


def test_a_page_repeating_the_documents_of_an_earlier_page_fails(tmp_path, serve):
    def script(server: Hostile, path: str) -> Answer:
        n = len(server.requests)
        return page(6, [doc(1), doc(2)], f"{server.origin}/api/v1/documents?page={n + 1}")

    server = serve(script)
    result = run(start_home(tmp_path), server)
    assert_failed_loudly(tmp_path, result, "page 2 repeats the documents of page 1")


def test_an_endless_fresh_link_stops_at_the_pages_the_count_needs(tmp_path, serve):
    def script(server: Hostile, path: str) -> Answer:
        n = len(server.requests)
        cursor = f"{server.origin}/api/v1/documents?search_after_cursor=c{n}"
        return page(4, [doc(2 * n), doc(2 * n + 1)], cursor)

    server = serve(script)
    result = run(start_home(tmp_path), server)
    assert_failed_loudly(
        tmp_path, result, "page 2: next_page_url after page 2, but 4 documents fit in 2 pages of 2"
    )
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ({"0": doc(1)}, "results is a object, not a list of documents"),
        ("2023-90001", "results is a string, not a list of documents"),
        ([doc(1), 7], "results holds a number, not a document object"),
        ([doc(1), [doc(2)]], "results holds a list, not a document object"),
    ],
)
def test_results_that_are_not_a_list_of_objects_fail(tmp_path, serve, results, message):
    server = serve(lambda s, path: page(2, results))
    assert_failed_loudly(tmp_path, run(start_home(tmp_path), server), message)


@pytest.mark.parametrize("link", [42, ["http://127.0.0.1/x"], {"url": "x"}, True])
def test_a_next_link_that_is_not_a_string_fails(tmp_path, serve, link):
    server = serve(lambda s, path: page(4, [doc(1), doc(2)], link))
    result = run(start_home(tmp_path), server)
    assert_failed_loudly(tmp_path, result, "next_page_url is a ")
    assert "not a link" in result.error


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (5, "received 3 distinct documents of 5"),
        (1, "received 3 distinct documents of 1"),
    ],
)
def test_a_lying_count_fails_the_slice(tmp_path, serve, count, message):
    def script(server: Hostile, path: str) -> Answer:
        if "/documents.json?" in path:
            return page(count, [doc(1), doc(2)], f"{server.origin}/api/v1/documents?page=2")
        return page(count, [doc(2), doc(3)])

    result = run(start_home(tmp_path), serve(script), REGWATCH_PER_PAGE=2)
    if count == 1:  # one document needs one page: the next link itself is the lie
        message = "next_page_url after page 1, but 1 documents fit in 1 pages of 2"
    assert_failed_loudly(tmp_path, result, message)


def test_an_answer_whose_documents_are_dated_outside_the_asked_dates_fails(tmp_path, serve):
    """SYNTHETIC: asked for 2023-10-25, the server (a stale cache, a query it ignored) answers
    with the documents of the day before, count and all: not one document of the day was read."""
    server = serve(lambda s, path: page(2, [doc(n) | {"publication_date": BEFORE} for n in (1, 2)]))
    result = run(start_home(tmp_path), server)
    assert_failed_loudly(tmp_path, result, "2023-90001 is dated 2023-10-24, outside 2023-10-25")


def test_a_count_without_enough_results_on_one_page_fails(tmp_path, serve):
    server = serve(lambda s, path: page(2, [doc(1), doc(1)]))
    result = run(start_home(tmp_path), server)
    assert_failed_loudly(tmp_path, result, "received 1 distinct documents of 2")


def test_a_decompression_bomb_fails_the_crawl_at_the_size_cap(tmp_path, serve):
    bomb = gzip.compress(b" " * (80 * 1024 * 1024), compresslevel=9)  # 80 MiB in ~80 KiB
    assert len(bomb) < 200_000
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    server = serve(lambda s, path: (200, headers, bomb))
    result = run(start_home(tmp_path), server)  # the shipped DOWNLOAD_MAXSIZE (64 MiB)
    assert_failed_loudly(tmp_path, result, "exceeded DOWNLOAD_MAXSIZE (67108864 B)")


@pytest.mark.parametrize(
    "retry_after",
    ["Wed, 21 Oct 2015 07:28:00 -0000", "\u00b2"],
    ids=["date-in-zone-0000", "superscript-digit"],
)
def test_a_503_with_an_odd_retry_after_is_retried_and_the_crawl_succeeds(
    tmp_path, serve, retry_after
):
    """A Retry-After of an HTTP date in zone -0000 (UTC) or a latin-1 digit that is no number is
    retried as any 503 is, not a failed crawl."""

    def script(server: Hostile, path: str) -> Answer:
        if len(server.requests) == 1:
            return 503, {"Retry-After": retry_after}, b"busy"
        return page(1, [doc(1)])

    server = serve(script)
    result = run(start_home(tmp_path), server)
    assert result.ok, result.error
    assert (result.inserted, len(server.requests)) == (1, 2)


def test_a_document_nested_too_deep_to_store_is_named_never_lost_in_silence(tmp_path, serve):
    """SYNTHETIC: one document a day, each holding a field nested one level deeper than the day
    before (945 to 975 levels, around Python's recursion limit, where reading it works and
    storing it may not): each day's document is stored, or the crawl names it (its dates, or its
    number); none is lost while its day counts as read."""
    days = [date(2023, 10, 1) + timedelta(days=n) for n in range(31)]

    def script(server: Hostile, path: str) -> Answer:
        query = parse_qs(urlsplit(path).query)
        first, last = (
            date.fromisoformat(query[f"conditions[publication_date][{key}]"][0])
            for key in ("gte", "lte")
        )
        if first < last:  # a range: counted, then split into single days
            return page((last - first).days + 1, [])
        n = (first - days[0]).days
        record = json.dumps(doc(n) | {"publication_date": first.isoformat()})[:-1]
        nested = "[" * (945 + n) + "]" * (945 + n)
        body = f'{{"count": 1, "results": [{record}, "x": {nested}}}]}}'
        return 200, {"Content-Type": "application/json"}, body.encode()

    result = crawl(
        tmp_path,
        since=days[0].isoformat(),
        until=days[-1].isoformat(),
        base_url=serve(script).url,
        contact=CONTACT,
        settings={**FAST, "REGWATCH_SLICE_MAX": 1},
    )
    assert not result.ok  # the deepest cannot even be read
    (_, stats), *_ = crawl_log(tmp_path)[-1:]
    told = " ".join(stats["errors"])
    with sqlite3.connect(tmp_path / "regwatch.db") as conn:  # raw this deep: not decoded here
        stored = {number for (number,) in conn.execute("SELECT source_id FROM publications")}
    lost = [
        day.isoformat()
        for n, day in enumerate(days)
        if doc(n)["document_number"] not in stored
        and not re.search(rf"\b{doc(n)['document_number']}\b|{day}\.\.{day}", told)
    ]
    assert lost == []


def crawl_split(home: Path, base_url: str):
    """Crawl 2023-10-24..25 from `base_url` with a range split at 2 documents."""
    return crawl(
        home,
        since="2023-10-24",
        until=DAY,
        base_url=base_url,
        contact=CONTACT,
        settings={**FAST, "REGWATCH_SLICE_MAX": 2},
    )


def test_a_good_slice_next_to_a_lying_one_is_stored_but_the_watermark_stays(tmp_path, serve):
    def script(server: Hostile, path: str) -> Answer:
        if "lte%5D=2023-10-24" in path:
            return page(2, [doc(n) | {"publication_date": "2023-10-24"} for n in (1, 2)])
        return page(3, [doc(3), doc(4)])

    home = start_home(tmp_path)
    result = crawl_split(home, serve(script).url)
    assert (result.ok, result.inserted, result.watermark) == (False, 2, BEFORE)
    assert "publication dates 2023-10-25..2023-10-25: received 2 distinct documents of 3" in (
        result.error
    )


def test_halves_listing_fewer_documents_than_their_range_fail_the_crawl(tmp_path, serve):
    """SYNTHETIC: two days count 3 (split at 2); the first day then lists 1, the second answers
    with the real zero-results body: 2 documents of the range are in neither half."""

    def script(server: Hostile, path: str) -> Answer:
        if "gte%5D=2023-10-24" in path and "lte%5D=2023-10-25" in path:
            return page(3, [doc(1) | {"publication_date": "2023-10-24"}, doc(2)], "x")
        if "lte%5D=2023-10-24" in path:
            return page(1, [doc(1) | {"publication_date": "2023-10-24"}])
        return json_answer({"description": "Documents published on 10/25/2023", "count": 0})

    home = start_home(tmp_path)
    result = crawl_split(home, serve(script).url)
    assert (result.ok, result.inserted, result.watermark) == (False, 1, BEFORE)
    assert result.error == (
        "publication dates 2023-10-24..2023-10-25: count 3, but its halves count 1 together"
    )
    (ok, stats), *_ = crawl_log(home)[-1:]
    assert not ok and stats["errors"] == [result.error]


# --- base URLs and credentials -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["file:///etc/", "ftp://127.0.0.1/api/v1/", "data:,x", "127.0.0.1:8400/api/v1/"]
)
def test_a_base_url_that_is_not_http_is_refused_before_crawling(tmp_path, url):
    with pytest.raises(ValueError, match=r"^base URL must be an http\(s\) URL with a host"):
        crawl(tmp_path, since=DAY, until=DAY, base_url=url, contact=CONTACT)
    assert not (tmp_path / "regwatch.db").exists()


def test_cli_refuses_a_file_base_url_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REGWATCH_CONFIG", raising=False)
    monkeypatch.setenv("REGWATCH_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(main, ["crawl", "--base-url", "file:///etc/"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: base URL must be an http(s) URL with a host, got 'file:///etc/'\n"
    )
    (tmp_path / "regwatch.toml").write_text(
        '[sources.federal_register]\nbase_url = "file:///etc/"\n', encoding="utf-8"
    )
    configured = CliRunner().invoke(main, ["crawl"])
    assert configured.exit_code == 1
    assert configured.output.count("\n") == 1
    assert "sources.federal_register.base_url must be an http(s) URL" in configured.output


def test_redact_hides_user_password_and_secret_query_values():
    assert redact(f"<GET https://ops:{SECRET}@api.example/v1/x?api_key={SECRET}&page=2>") == (
        "<GET https://***@api.example/v1/x?api_key=***&page=2>"
    )
    assert redact(f"http://u:p@ss{SECRET}@h/ and ?token={SECRET}") == "http://***@h/ and ?token=***"
    assert redact("https://www.federalregister.gov/api/v1/documents?page=2") == (
        "https://www.federalregister.gov/api/v1/documents?page=2"
    )


def regwatch(home: Path, *args: str, **popen: Any) -> subprocess.Popen:
    """`python -m regwatch.cli …` from this worktree, with its own home and no config file."""
    env = {**os.environ, "REGWATCH_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("REGWATCH_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "regwatch.cli", *args], cwd=home.parent, env=env, **popen
    )


def test_credentials_in_the_base_url_never_reach_output_or_the_crawl_log(tmp_path, serve):
    """User and password go as Basic auth; a token in a next link is redacted in every log line."""
    bomb = gzip.compress(b" " * (80 * 1024 * 1024))

    def script(server: Hostile, path: str) -> Answer:
        if "/documents.json?" in path:
            link = f"{server.origin}/api/v1/documents?page=2&api_key={SECRET}"
            return page(2000, [doc(1), doc(2)], link)  # two pages of 1,000
        return 200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb

    server = serve(script)
    home = start_home(tmp_path / "home")
    base = server.url.replace("http://", f"http://ops:{SECRET}@")
    cli = regwatch(
        home, "crawl", "--base-url", base, "--since", DAY, "--until", DAY,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    stdout, stderr = cli.communicate(timeout=120)
    assert cli.returncode == 1
    assert stdout.endswith("(FAILED)\n")
    assert stderr.splitlines()[-1].startswith(
        "Error: crawl of federal_register failed: publication dates 2023-10-25..2023-10-25,"
        " page 2: Ignored response <200 http://127.0.0.1:"
    )
    assert "WARNING: Ignored response" in stderr  # Scrapy's own log line, redacted
    assert "documents?page=2&api_key=***> because its body" in stderr
    basic = "Basic " + base64.b64encode(f"ops:{SECRET}".encode()).decode()
    assert server.authorizations == [basic, basic]
    stored = b"".join(f.read_bytes() for f in home.rglob("*") if f.is_file())
    for text in (stdout, stderr, json.dumps(crawl_log(home)), stored.decode("latin-1")):
        assert SECRET not in text


# --- processes: stopping a crawl never leaves its child running ----------------------------------


@pytest.fixture
def slow(serve) -> Iterator[Hostile]:
    """A server that holds every request until the test ends."""
    release = threading.Event()

    def script(server: Hostile, path: str) -> Answer:
        release.wait(120)
        return page(0, [])

    yield serve(script)
    release.set()


def crawl_child(home: Path, server: Hostile) -> tuple[subprocess.Popen, int]:
    """A `regwatch crawl` against `server`, and its crawl child, once the child is mid-request."""
    parent = regwatch(
        home, "crawl", "--base-url", server.url, "--since", DAY, "--until", DAY,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(lambda: server.requests, 60, "the crawl's first request")
    (child,) = children(parent.pid)
    return parent, child


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_sigkill_of_the_parent_leaves_no_crawl_child(tmp_path, slow):
    home = start_home(tmp_path / "home")
    parent, child = crawl_child(home, slow)
    parent.kill()
    parent.wait()
    wait_for(lambda: not alive(child), 30, f"crawl child {child} to end")
    (ok, stats), *_ = crawl_log(home)[-1:]  # the orphaned child logged its stop
    assert (ok, stats["errors"]) == (False, ["the crawl was stopped by SIGTERM"])
    assert re.search(r"last crawl \S+ \(failed\), watermark 2023-10-24", status(home))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_parent_stops_the_child_and_logs_a_failed_crawl(
    tmp_path, slow, signum, interruptible
):
    home = start_home(tmp_path / "home")
    parent, child = crawl_child(home, slow)
    os.kill(parent.pid, signum)
    exit_status = {signal.SIGTERM: 128 + signal.SIGTERM, signal.SIGINT: 1}  # click: "Aborted!"
    assert parent.wait(timeout=120) == exit_status[signum]  # seconds on a loaded 2-core machine
    assert not alive(child)
    assert [(ok, stats["errors"]) for ok, stats in crawl_log(home)] == [
        (False, ["the crawl was stopped by SIGTERM"])  # the parent forwards one SIGTERM
    ]
    assert re.search(r"last crawl \S+ \(failed\), watermark 2023-10-24", status(home))


def status(home: Path) -> str:
    cli = regwatch(home, "status", stdout=subprocess.PIPE, text=True)
    return cli.communicate(timeout=60)[0]


def test_a_timed_out_crawl_is_stopped_and_logged_as_failed(tmp_path, slow):
    home = start_home(tmp_path)
    result = crawl(home, since=DAY, until=DAY, base_url=slow.url, contact=CONTACT, timeout=5)
    assert (result.ok, result.error) == (False, "the crawl took longer than 5 s")
    assert result.logged
    (ok, stats), *_ = crawl_log(home)[-1:]
    assert not ok and stats["until"] == DAY


def test_a_locked_archive_fails_the_crawl_in_one_line_even_when_it_cannot_be_logged(
    tmp_path, serve, monkeypatch
):
    """Storing, logging in the child and logging in the parent all meet a held write lock."""
    home = start_home(tmp_path / "home")
    server = serve(lambda s, path: page(2, [doc(1), doc(2)]))
    lock = sqlite3.connect(home / "regwatch.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("REGWATCH_CONFIG", raising=False)
        monkeypatch.setenv("REGWATCH_HOME", str(home))
        result = CliRunner().invoke(
            main, ["crawl", "--base-url", server.url, "--since", DAY, "--until", DAY]
        )
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert result.exit_code == 1
    assert result.output.startswith("crawled federal_register 2023-10-25 to 2023-10-25: 0 new")
    error = result.output.splitlines()[-1]
    assert error.startswith(
        "Error: crawl of federal_register failed: storing 2 publications failed:"
    )
    assert "database is locked" in error
    assert "; recording it in the crawl log failed too: " in error
    assert crawl_log(home) == []
