"""The Consolidated Screening List source: parse tests on the synthetic snapshots of
`replay/recordings/csl/`, crawl tests (Scrapy in a child process against the replay server, rows in
a real SQLite archive): a snapshot pair's delta, the join of Entity List records to the Federal
Register rule that added them, the digest line and alert built from it, and hostile downloads.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from archive import Archive, RouteFilter
from archive.screening import citations, name_key
from crawlers.api_spider import Untrusted
from crawlers.run import crawl
from crawlers.sources import source_spec
from crawlers.spiders.csl import json_body, snapshot
from digests.chat import message
from digests.period import iso_week
from digests.render import render
from digests.select import build_digest
from replay.csl import PATH
from replay.server import RECORDINGS, serve

CONTACT = "csl-tests@example.org"
FAST = {"DOWNLOAD_DELAY": 0, "RETRY_BACKOFF_BASE": 0.001, "RETRY_TIMES": 1}
CSL_DIR = RECORDINGS / "csl"
RULE = "2025-00704"  # real Entity List rule; the replay gives it the synthetic citation below
CITATION = "90 FR 3687"
SENTENCE = "adds 3 parties in 2 countries; 1 already on other screening lists; revises 1 entry"
SECOND = {"sources": {"csl": {"snapshot": "synthetic-consolidated-2.json"}}}


def read(name: str) -> dict:
    return json_body((CSL_DIR / name).read_bytes())


def run(home: Path, server, source: str = "csl", **extra):
    settings = {**FAST, **extra.pop("settings", {})}
    return crawl(
        home,
        source=source,
        base_url=server.base_url(source),
        contact=CONTACT,
        settings=settings,
        **extra,
    )


# --- parse tests ---------------------------------------------------------------------------------


def test_a_snapshot_is_normalised_by_id_with_list_codes_countries_and_citations():
    snap = snapshot(read("synthetic-consolidated-2.json"), source_spec("csl")["lists"])
    by_name = {r.name: r for r in snap.records}
    assert len(snap.records) == 6
    assert snap.published_at == "2025-01-17T05:00:00+00:00"
    assert len(snap.sources_used) == 13
    ghoura = by_name["Abdul Satar Ghoura"]
    assert ghoura.record_id == "b6e959b59898e975daaae8fae3a8da1ec522f9f888cafc0e6401a16d"
    assert (ghoura.list, ghoura.countries) == ("EL", ("AF",))
    micro = by_name["Synthetic Example Microelectronics Co., Ltd."]
    assert micro.alt_names == ("Shen Zhen Synthetic Example Microelectronics",)
    assert by_name["SYNTHETIC EXAMPLE TRADING LIMITED"].list == "SDN"
    assert citations("84 FR 0002, 90 FR 3687") == ["84 FR 2", CITATION]
    assert name_key("Synthetic  Example Trading, Limited.") == "synthetic example trading limited"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda body: body.update(total=99), "total 99 is not the 4 results received"),
        (lambda body: body["results"][0].pop("id"), "results[0] has no id"),
        (lambda body: body["results"].append(7), "results[4] is a number, not a record"),
        (lambda body: body["results"][1].update(addresses="Moscow"), "results[1].addresses is not"),
        (lambda body: body["results"][0].update(name=["a"]), "results[0].name is a list, not text"),
    ],
)
def test_a_hostile_download_refuses_the_whole_snapshot(change, problem):
    body = read("synthetic-consolidated-1.json")
    change(body)
    body["total"] = body["total"] if "total 99" in problem else len(body["results"])
    with pytest.raises(Untrusted, match=problem.replace("[", r"\[").replace("]", r"\]")):
        snapshot(body, source_spec("csl")["lists"])


def test_the_same_id_twice_is_kept_once_if_identical_and_refused_if_not():
    body = read("synthetic-consolidated-1.json")
    body["results"].append(dict(body["results"][0]))
    body["total"] = 5
    assert len(snapshot(body, {}).records) == 4
    body["results"][-1]["name"] = "Someone Else"
    with pytest.raises(Untrusted, match="appears twice, differently"):
        snapshot(body, {})


# --- crawl tests: a snapshot pair into a real archive ---------------------------------------------


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """FR rule 2025-00704 crawled (with its replay citation), then CSL snapshots 1 and 2."""
    home = tmp_path_factory.mktemp("csl") / "home"
    servers = [serve(RECORDINGS, scenario={"overrides": "synthetic/synthetic-ear-rules.jsonl"})]
    servers.append(serve(RECORDINGS, scenario=SECOND))
    try:
        fr = run(home, servers[0], "federal_register", since="2025-01-16", until="2025-01-16")
        first = run(home, servers[0])
        second = run(home, servers[1])
        again = run(home, servers[1])
    finally:
        for server in servers:
            server.stop()
    assert fr.ok and fr.inserted == 1, fr
    return home, first, second, again


def test_the_first_snapshot_is_a_baseline_without_delta_rows(crawled):
    home, first, _, _ = crawled
    assert first.ok and (first.inserted, first.updated) == (4, 0), first
    with sqlite3.connect(home / "regwatch.db") as conn:
        baseline = conn.execute("SELECT baseline, total FROM screening_snapshots WHERE id = 1")
        assert baseline.fetchone() == (1, 4)
        assert (
            conn.execute("SELECT COUNT(*) FROM screening_deltas WHERE snapshot_id = 1").fetchone()[
                0
            ]
            == 0
        )


def test_a_snapshot_pair_stores_the_delta_added_removed_and_changed_fields(crawled):
    home, _, second, again = crawled
    assert second.ok and (second.inserted, second.updated, second.unchanged) == (4, 1, 1)
    assert again.ok and (again.inserted, again.updated, again.unchanged) == (0, 0, 6)
    with Archive.open(home, readonly=True) as archive:
        snap = archive.latest_screening_snapshot()
        delta = archive.screening_delta(snap)
    assert snap == 2  # the identical third download wrote no snapshot
    kinds = sorted((row["kind"], row["name"]) for row in delta)
    assert kinds == [
        ("added", "Synthetic Example Computing Research Institute"),
        ("added", "Synthetic Example Microelectronics Co., Ltd."),
        ("added", "Synthetic Example Revised Entity"),
        ("added", "Synthetic Example Trading Limited"),
        ("changed", "Abdul Satar Ghoura"),
        ("removed", "Synthetic Example Removed Entity"),
        ("removed", "Synthetic Example Revised Entity"),
    ]
    changed = next(row for row in delta if row["kind"] == "changed")
    old, new = changed["fields"]["addresses"]
    assert list(changed["fields"]) == ["addresses"]
    assert [a["city"] for a in old] == ["Kabul"] and [a["city"] for a in new] == ["Kabul", "Herat"]


def test_entity_list_records_join_the_rule_by_its_federal_register_citation(crawled):
    home = crawled[0]
    with Archive.open(home, readonly=True) as archive:
        [rule] = archive.publications_citing("90 FR 3687")
        assert archive.publications_citing("90 F.R. 3687") == [rule]
        summary = archive.screening_summary(rule)
        (pub,) = [p for p in archive.publications() if p["id"] == rule]
    assert pub["source_id"] == RULE
    assert (summary.parties, summary.countries, summary.already_listed) == (3, ("CN", "HK"), 1)
    assert summary.revised == 1 and summary.lists == ("EL",)
    assert summary.sentence == SENTENCE


def test_the_watch_list_hook_lists_the_added_names_and_countries(crawled):
    with Archive.open(crawled[0], readonly=True) as archive:
        parties = archive.screening_delta_parties()
        assert archive.screening_delta_parties(1) == []  # the baseline has no delta
    added = {(p.name, p.countries, p.alt_names) for p in parties}
    assert ("Synthetic Example Trading Limited", ("HK",), ()) in added
    assert (
        "Synthetic Example Microelectronics Co., Ltd.",
        ("CN",),
        ("Shen Zhen Synthetic Example Microelectronics",),
    ) in added
    assert {p.kind for p in parties} == {"added"} and len(parties) == 4


def test_the_digest_item_and_the_alert_of_the_joined_rule_say_adds_n_parties(crawled, tmp_path):
    home = crawled[0]
    result = {"tags": ["export_control"], "evidence": {}, "entities": {}, "dates": {}}
    with Archive.open(home) as archive:
        for batch in archive.documents_to_tag("t"):
            archive.store_tags([(item, result) for item in batch], "t")
        route = RouteFilter("team")
        archive.register_routes([route.name])
        assert archive.backfill_alerts([route], "2000-01-01") == 1
        [alert] = archive.pending_alerts()
        pages = render(build_digest(archive, iso_week("2025-W03")))
    assert f"Screening lists: {SENTENCE}" in pages.text
    assert f"Screening lists: {SENTENCE}" in pages.markdown
    assert f"Screening lists: {SENTENCE}" in pages.html
    assert alert.payload["screening"] == SENTENCE
    assert f"Screening lists: {SENTENCE}" in message(alert.payload)


# --- hostile downloads: the rules of issue 11 apply ---------------------------------------------


def _route(**answer) -> dict:
    return {"routes": [{"path": PATH, **answer}]}


def assert_refused(home: Path, result, problem: str) -> None:
    assert not result.ok and problem in result.error, result.error
    assert "\n" not in result.error
    with Archive.open(home, readonly=True) as archive:
        assert archive.latest_screening_snapshot() is None
        assert archive.watermark("csl") is None


def test_a_download_listing_no_party_is_refused_not_read_as_every_party_removed(tmp_path, replay):
    """SYNTHETIC: a well-formed envelope with no record (`total` 0), as a failed export writes."""
    home = tmp_path / "home"
    first = run(home, replay())
    assert first.ok, first.error
    with Archive.open(home, readonly=True) as archive:
        stored = archive.latest_screening_snapshot()
    body = read("synthetic-consolidated-1.json") | {"results": [], "total": 0}
    (tmp_path / "synthetic-empty.json").write_text(json.dumps(body), encoding="utf-8")
    empty = run(home, replay(_route(status=200, file=str(tmp_path / "synthetic-empty.json"))))
    assert not empty.ok
    assert "lists no record at all" in empty.error, empty.error
    with Archive.open(home, readonly=True) as archive:
        assert archive.latest_screening_snapshot() == stored  # no snapshot removing them all


def test_a_download_missing_a_whole_list_keeps_its_parties_and_fails_loudly(tmp_path, replay):
    """SYNTHETIC: snapshot 1 without its Entity List rows, as when that list's export breaks, and
    with one new party on another list. The Entity List parties stay listed (not reported
    delisted), the new party is recorded (the other lists keep being watched), and the crawl
    fails naming the list, again when the same download comes again."""
    home = tmp_path / "home"
    assert run(home, replay()).ok
    body = read("synthetic-consolidated-1.json")
    body["results"] = [r for r in body["results"] if not r["source"].startswith("Entity List")]
    added = dict(body["results"][0], id="synthetic-new-sdn", name="SYNTHETIC NEW PARTY LIMITED")
    body["results"].append(added)
    body["total"] = len(body["results"])
    (tmp_path / "synthetic-no-entity-list.json").write_text(json.dumps(body), encoding="utf-8")
    route = _route(status=200, file=str(tmp_path / "synthetic-no-entity-list.json"))
    warning = (
        "csl: the download holds no record of Entity List (EL) - Bureau of Industry and Security"
        " (3 parties): the parties are kept as listed, not read as delisted (the list's export"
        " upstream is probably broken)"
    )
    for _ in range(2):
        result = run(home, replay(route))
        assert (result.ok, result.error) == (False, warning)
    with sqlite3.connect(home / "regwatch.db") as conn:
        listed = conn.execute(
            "SELECT list, name FROM screening_records WHERE removed_snapshot IS NULL ORDER BY name"
        ).fetchall()
        deltas = conn.execute("SELECT record_id, kind FROM screening_deltas").fetchall()
    assert [row for row in listed if row[0] == "EL"] == [
        ("EL", "Abdul Satar Ghoura"),
        ("EL", "Synthetic Example Removed Entity"),
        ("EL", "Synthetic Example Revised Entity"),
    ]
    assert ("SDN", "SYNTHETIC NEW PARTY LIMITED") in listed
    assert deltas == [("synthetic-new-sdn", "added")]


def test_a_download_over_the_size_cap_fails_and_stores_nothing(tmp_path, replay):
    server = replay(SECOND)
    result = run(tmp_path / "home", server, settings={"DOWNLOAD_MAXSIZE": 4096})
    assert_refused(tmp_path / "home", result, "4096")


def test_a_redirect_off_the_api_host_is_refused(tmp_path, replay):
    server = replay(_route(status=302, headers={"Location": "http://192.0.2.1/consolidated.json"}))
    result = run(tmp_path / "home", server)
    assert_refused(tmp_path / "home", result, "not on the API host")
    assert not any("192.0.2.1" in request for request in server.requests)


def test_a_malformed_download_fails_in_one_line(tmp_path, replay):
    server = replay(_route(status=200, file="synthetic/synthetic-malformed.json"))
    result = run(tmp_path / "home", server)
    assert_refused(tmp_path / "home", result, "malformed JSON")


def test_the_registry_entry_and_replay_route_use_the_real_path():
    spec = source_spec("csl")
    assert spec["base_url"] + spec["path"] == (
        "https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.json"
    )
    assert PATH.endswith(spec["path"])
    assert json.loads((CSL_DIR / "synthetic-consolidated-1.json").read_text())["offset"] == 0
