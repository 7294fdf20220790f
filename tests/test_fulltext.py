"""Full texts: queued by tag score, fetched from the replay server, stored, indexed and re-tagged.

Real text: the recorded raw text of FR Doc. 93-32104. Synthetic bodies (named so) are built from
real sentences: abstracts of FR Docs. 2024-28270, 2024-20529 and 2024-22587 and the BIS press
release of April 11, 2024 (`../shared/sources/samples/bis/`).
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import zlib
from pathlib import Path

import brotli
import pytest
from backports import zstd
from click.testing import CliRunner

from archive import Archive
from crawlers.run import crawl as run_crawl
from crawlers.spiders.federal_register_fulltext import plain_text
from nlp import load_tagger
from nlp.rules import primary_tags
from regwatch import steps
from regwatch.cli import main
from regwatch.config import Config
from tests.conftest import REPLAY_DIR
from tests.test_public_inspection import crawl, make_config, query

FR_DIR = REPLAY_DIR / "federal_register"
FULLTEXT = "federal_register_fulltext"
DEV = Path(__file__).resolve().parent.parent / "data" / "fr_labeled_dev.jsonl"


def served_body(number: str) -> str:
    api = json.loads((FR_DIR / "api.json").read_text())
    return plain_text((FR_DIR / api["full_text"]["files"][number]).read_text(encoding="utf-8"))


def bodies(config: Config) -> dict[str, tuple[str, int]]:
    rows = query(
        config,
        "SELECT p.source_id, b.state, b.attempts FROM body_fetches b "
        "JOIN publications p ON p.id = b.publication_id",
    )
    return {number: (state, attempts) for number, state, attempts in rows}


def result_of(config: Config, number: str) -> dict:
    (row,) = query(
        config,
        "SELECT t.result FROM tag_results t JOIN publications p ON p.id = t.publication_id "
        "WHERE p.source = 'federal_register' AND p.source_id = ?",
        number,
    )
    return json.loads(row[0])


def test_the_recorded_raw_text_becomes_plain_paragraphs():
    raw = (FR_DIR / "recorded" / "raw-text-93-32104.txt").read_text(encoding="utf-8")
    text = plain_text(raw)
    assert "<pre>" not in text and "<html>" not in text
    assert (
        "Pursuant to the authority vested in me by section 552(c)(2) of the Foreign Assistance "
        "Act of 1961, as amended, 22 U.S.C. 2348a(c)(2) (the ``Act''), I hereby determine that:"
    ) in text.split("\n\n")


def test_a_body_adds_the_ai_reason_the_title_lacked(tmp_path, replay):
    config = make_config(tmp_path)
    server = replay()
    crawl(config, "federal_register", "2026-08-24", server.url)
    steps.tag(config)
    before = result_of(config, "2026-17231")
    assert "ai" not in before["tags"] and "export_control" in before["tags"]
    assert bodies(config)["2026-17231"] == ("pending", 0)
    (fetched,) = steps.fulltext(config, base_url=server.url)
    assert fetched.ok, fetched.error
    assert any(
        t.endswith("/documents/full_text/text/2026/08/24/2026-17231.txt") for t in server.requests
    )
    assert not any("/documents/2026/08/24/" in t for t in server.requests)  # never html_url
    assert bodies(config)["2026-17231"] == ("fetched", 1)
    retagged = steps.tag(config)
    assert retagged.tagged == 1
    after = result_of(config, "2026-17231")
    assert "ai" in after["tags"] and after["scores"]["ai"] >= 0.5
    body = served_body("2026-17231")
    ai = {e["text"]: e for e in after["evidence"]["ai"] if e["field"] == "body"}
    assert {"artificial intelligence", "advanced computing"} <= set(ai)
    found = ai["artificial intelligence"]
    assert body[found["start"] : found["end"]] == "artificial intelligence"
    hits = steps.search(config, steps.search_request(config, '"computing clusters"')).hits
    assert [hit.source_id for hit in hits] == ["2026-17231"]
    (version,) = query(config, "SELECT version FROM publications WHERE source_id = '2026-17231'")
    assert version == (2,)
    history = query(
        config,
        "SELECT v.version, v.changed FROM publication_versions v JOIN publications p "
        "ON p.id = v.publication_id WHERE p.source_id = '2026-17231' ORDER BY v.version",
    )
    assert history == [(1, "[]"), (2, '["body_text"]')]  # `show` tells what the fetch changed


def test_a_body_that_fails_is_recorded_retried_and_the_abstract_stays_searchable(tmp_path, replay):
    config = make_config(tmp_path)
    server = replay("first-body-404")
    crawl(config, "federal_register", "2024-10-02", server.url)
    steps.tag(config)
    (first,) = steps.fulltext(config, base_url=server.url)
    assert first.ok, first.error  # a failed body is not a failed crawl, but it is told
    assert (first.bodies, first.bodies_failed) == (0, 1)
    state, attempts = bodies(config)["2024-22587"]
    assert (state, attempts) == ("failed", 1)
    (error,) = query(
        config, "SELECT last_error FROM body_fetches WHERE last_error LIKE 'HTTP 404%'"
    )
    assert "synthetic 404" in error[0]
    assert "2024-22587" in [
        h.source_id
        for h in steps.search(config, steps.search_request(config, '"Data Center VEU"')).hits
    ]
    status = CliRunner().invoke(main, ["--config", str(tmp_path / "regwatch.toml"), "status"])
    assert "full texts: 0 pending, 0 fetched, " in status.output
    again = CliRunner().invoke(
        main,
        [
            "--config",
            str(tmp_path / "regwatch.toml"),
            "crawl",
            "--source",
            "federal_register_fulltext",
            "--base-url",
            server.url,
        ],
    )
    assert again.exit_code == 0, again.output
    assert again.output.endswith(": 1 full texts read, 0 failed (ok)\n"), again.output
    assert bodies(config)["2024-22587"] == ("fetched", 2)
    (body,) = query(config, "SELECT body_text FROM publications WHERE source_id = '2024-22587'")
    assert body[0] == served_body("2024-22587")


HOST_DOWN = {
    "description": "SYNTHETIC. Every full-text request of 2024-22587 answers HTTP 503.",
    "routes": [
        {
            "path": "/documents/full_text/text/2024/10/02/2024-22587.txt",
            "status": 503,
            "file": "synthetic/synthetic-404.html",
        }
    ],
}
FAST = {"DOWNLOAD_DELAY": 0, "RETRY_BACKOFF_BASE": 0.001, "RETRY_TIMES": 1}


@pytest.mark.parametrize("outage", ["HTTP 503", "no answer"])
def test_a_run_in_which_the_host_serves_no_full_text_fails_loudly(tmp_path, replay, outage):
    config = make_config(tmp_path)
    server = replay()
    crawl(config, "federal_register", "2024-10-02", server.url)
    steps.tag(config)
    if outage == "HTTP 503":
        host = replay(HOST_DOWN).url
    else:
        host = server.url
        server.stop()  # the host refuses connections
    home = Path(config.home)
    failed = run_crawl(home, source=FULLTEXT, base_url=host, contact="t@example.org", settings=FAST)
    assert not failed.ok  # not "(ok)": the run read nothing because the host served nothing
    assert failed.error.startswith("no full text read: the host served none of the 1 asked for")
    assert failed.error.endswith(
        "(an outage uses up no text's attempts until the text has failed for 7 days)"
    )
    assert outage.split()[0] in failed.error or "Connection" in failed.error, failed.error
    assert bodies(config)["2024-22587"] == ("failed", 0)  # asked again; no attempt used up
    (logged,) = query(config, "SELECT ok FROM crawl_log WHERE source = ?", FULLTEXT)
    assert logged == (0,)
    served = replay().url
    recovered = run_crawl(home, source=FULLTEXT, base_url=served, contact="t@example.org")
    assert recovered.ok and recovered.bodies == 1, recovered.error


ERROR_PAGE_200 = {
    "description": "SYNTHETIC. The raw text of 2024-22587 is an HTML error page, HTTP 200.",
    "routes": [
        {
            "path": "/documents/full_text/text/2024/10/02/2024-22587.txt",
            "status": 200,
            "file": "synthetic/synthetic-404.html",
            "headers": {"Content-Type": "text/plain; charset=utf-8"},
        }
    ],
}


def test_an_html_error_page_served_as_a_raw_text_is_never_stored_as_the_text(tmp_path, replay):
    """A raw text is plain text or GPO's `<pre>` wrapper; an HTML page without `<pre>` (a
    maintenance or error page with HTTP 200) is the host not serving it, so it is asked again."""
    config = make_config(tmp_path)
    server = replay()
    crawl(config, "federal_register", "2024-10-02", server.url)
    steps.tag(config)
    home = Path(config.home)
    host = replay(ERROR_PAGE_200).url
    failed = run_crawl(home, source=FULLTEXT, base_url=host, contact="t@example.org", settings=FAST)
    assert not failed.ok and failed.bodies == 0
    assert "an HTML page without the text's <pre>" in failed.error, failed.error
    (body,) = query(config, "SELECT body_text FROM publications WHERE source_id = '2024-22587'")
    assert body == (None,)
    assert bodies(config)["2024-22587"] == ("failed", 0)
    recovered = run_crawl(home, source=FULLTEXT, base_url=server.url, contact="t@example.org")
    assert recovered.ok and recovered.bodies == 1, recovered.error


PACK = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstd.compress,
}


@pytest.mark.parametrize("encoding", PACK)
def test_a_compressed_full_text_cut_short_is_never_stored_as_the_text(tmp_path, replay, encoding):
    """SYNTHETIC: the raw text of 2024-22587 arrives compressed, its stream cut off halfway (its
    Content-Length says that is all): inflated as far as it goes it reads as a shorter text, and
    stored it would never be asked for again."""
    config = make_config(tmp_path)
    server = replay()
    crawl(config, "federal_register", "2024-10-02", server.url)
    steps.tag(config)
    text = (FR_DIR / "synthetic" / "synthetic-raw-text-2024-22587.txt").read_bytes()
    packed = PACK[encoding](text)
    cut = tmp_path / "synthetic-cut-short.bin"
    cut.write_bytes(packed[: len(packed) // 2])
    route = {
        "path": "/documents/full_text/text/2024/10/02/2024-22587.txt",
        "status": 200,
        "file": str(cut),
        "headers": {"Content-Type": "text/plain; charset=utf-8", "Content-Encoding": encoding},
    }
    home = Path(config.home)
    host = replay({"routes": [route]}).url
    failed = run_crawl(home, source=FULLTEXT, base_url=host, contact="t@example.org", settings=FAST)
    assert failed.bodies == 0 and failed.bodies_failed == 1, failed
    (body,) = query(config, "SELECT body_text FROM publications WHERE source_id = '2024-22587'")
    assert body == (None,)
    (error,) = query(config, "SELECT last_error FROM body_fetches")
    assert "cut short" in error[0], error
    recovered = run_crawl(home, source=FULLTEXT, base_url=server.url, contact="t@example.org")
    assert recovered.ok and recovered.bodies == 1, recovered.error


def test_an_outage_longer_than_the_attempt_limit_loses_no_full_text(tmp_path, replay):
    config = make_config(tmp_path)
    server = replay()
    crawl(config, "federal_register", "2024-10-02", server.url)
    steps.tag(config)
    home, down = Path(config.home), replay(HOST_DOWN).url
    for _ in range(6):  # one more run than the 5 attempts a text has
        failed = run_crawl(
            home, source=FULLTEXT, base_url=down, contact="t@example.org", settings=FAST
        )
        assert not failed.ok and failed.bodies_failed == 1
    assert bodies(config)["2024-22587"] == ("failed", 0)
    recovered = run_crawl(home, source=FULLTEXT, base_url=server.url, contact="t@example.org")
    assert recovered.ok and recovered.bodies == 1, recovered.error
    assert bodies(config)["2024-22587"] == ("fetched", 1)


def test_a_text_failing_through_a_week_of_outage_uses_up_its_attempts(tmp_path, replay):
    """Bounded: a URL the host never serves stops being asked for once the grace has passed."""
    config = make_config(tmp_path)
    crawl(config, "federal_register", "2024-10-02", replay().url)
    steps.tag(config)
    home, down = Path(config.home), replay(HOST_DOWN).url
    run_crawl(home, source=FULLTEXT, base_url=down, contact="t@example.org", settings=FAST)
    with sqlite3.connect(home / "regwatch.db") as conn:  # its first failure, months ago
        conn.execute("UPDATE body_fetches SET failing_since = '2026-01-01T00:00:00.000000Z'")
    for attempts in range(1, 6):
        run_crawl(home, source=FULLTEXT, base_url=down, contact="t@example.org", settings=FAST)
        assert bodies(config)["2024-22587"] == ("failed", attempts)
    last = run_crawl(home, source=FULLTEXT, base_url=down, contact="t@example.org", settings=FAST)
    assert last.ok and last.bodies_failed == 0  # given up: no longer asked for


def test_a_text_the_host_fails_while_serving_others_uses_an_attempt(tmp_path, replay):
    config = make_config(tmp_path)
    server = replay()
    for day in ("2024-10-02", "2026-08-24"):
        crawl(config, "federal_register", day, server.url)
    steps.tag(config)
    home = Path(config.home)
    down = replay(HOST_DOWN).url
    run = run_crawl(home, source=FULLTEXT, base_url=down, contact="t@example.org", settings=FAST)
    assert run.ok and run.bodies >= 1, run.error  # the host served another text
    assert bodies(config)["2024-22587"] == ("failed", 1)  # this URL, not the host


def test_a_recrawl_keeps_the_fetched_body(tmp_path, replay):
    config = make_config(tmp_path)
    server = replay()
    crawl(config, "federal_register", "2026-08-24", server.url)
    steps.tag(config)
    steps.fulltext(config, base_url=server.url)
    again = crawl(config, "federal_register", "2026-08-24", server.url)
    assert (again.updated, again.unchanged) == (0, 2)
    (body,) = query(config, "SELECT body_text FROM publications WHERE source_id = '2026-17231'")
    assert body[0] == served_body("2026-17231")


def test_no_dev_set_document_loses_a_correct_tag_when_its_body_is_read():
    api = json.loads((FR_DIR / "api.json").read_text())
    labelled = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    with_body = [r for r in labelled if r.get("document_number") in api["full_text"]["files"]]
    assert with_body, "no dev-set document has a served body"
    tagger = load_tagger()
    for record in with_body:
        without = set(tagger.tag(record).tags)
        read = set(tagger.tag({**record, "body": served_body(record["document_number"])}).tags)
        correct = {tag for tag in ("ai", "export_control") if record[tag] and tag in without}
        assert correct <= read, record["document_number"]


def test_tag_input_and_eval_read_a_plain_text_body(tmp_path):
    body = served_body("2026-17231")
    line = {
        "document_number": "2026-17231",
        "title": "Revisions to the Entity List",
        "publication_date": "2026-08-24",
        "body": body,
        "ai": True,
        "export_control": True,
        "borderline": True,
    }
    source = tmp_path / "docs.jsonl"
    source.write_text(json.dumps(line) + "\n", encoding="utf-8")
    out = tmp_path / "tagged.jsonl"
    runner = CliRunner()
    done = runner.invoke(main, ["tag", "--input", str(source), "--output", str(out)])
    assert done.exit_code == 0, done.output
    tagged = json.loads(out.read_text(encoding="utf-8"))
    assert "ai" in tagged["tags"]
    assert {e["field"] for e in tagged["evidence"]["ai"]} == {"body"}
    report = runner.invoke(main, ["eval", str(source), "--json"])
    assert report.exit_code == 0, report.output
    figures = json.loads(report.output)
    assert figures["figures"]["tagger"]["all"]["ai"]["tp"] == 1


def test_status_counts_bodies_in_a_new_archive(tmp_path):
    config = make_config(tmp_path)
    Archive.open(config.home).close()  # as a first crawl makes it
    assert steps.status(config).bodies == {"pending": 0, "fetched": 0, "failed": 0}
    with sqlite3.connect(Path(config.home) / "regwatch.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM body_fetches").fetchone() == (0,)


def test_a_damaged_tag_result_never_stops_queueing_the_other_full_texts(tmp_path, replay):
    """A stored tag result that is not JSON (a damaged or hand-edited row) failed every `tag`
    and `run` with SQLite's "malformed JSON" when queueing full texts; now the others are
    queued (queued here directly: a `tag` run tags such a document again first)."""
    config = make_config(tmp_path)
    crawl(config, "federal_register", "2026-08-24", replay().url)
    steps.tag(config)
    with sqlite3.connect(config.home / "regwatch.db") as conn:
        conn.execute("DELETE FROM body_fetches")
        conn.execute(
            "UPDATE tag_results SET result = '{\"scores\": [' WHERE publication_id IN "
            "(SELECT id FROM publications WHERE source_id != '2026-17231')"
        )
    with Archive.open(config.home) as archive:
        archive.queue_bodies(["federal_register"], primary_tags(), config["fulltext.min_score"])
    assert bodies(config) == {"2026-17231": ("pending", 0)}
