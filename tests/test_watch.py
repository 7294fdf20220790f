"""The watch-list: matches and silences on real Federal Register sentences, configuration errors,
hits stored with the tags, the digest section, the watch-list alert sent once to a real local
receiver, and the re-match after a watch-list change (reported, not alerted unless asked).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import nlp.watch
from archive import Archive, Publication
from nlp import load_tagger
from nlp.watch import WatchError, WatchList, watch_item
from nlp.watchnames import NameRuleError, load_name_rules
from regwatch.cli import main
from tests.receiver import Receiver

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "watch" / "real_abstracts.jsonl"
RAW_TEXT = REPO / "replay/recordings/federal_register/recorded/raw-text-93-32104.txt"


def real(number: str) -> dict:
    for path in (FIXTURE, REPO / "data/fr_labeled_dev.jsonl", REPO / "data/fr_check_set_2.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            document = json.loads(line)
            if document["document_number"] == number:
                return document
    raise KeyError(number)


@pytest.fixture(scope="module")
def tagger():
    return load_tagger()


def hits(tagger, number: str, *items) -> list[dict]:
    document = real(number)
    return WatchList([watch_item(*item) for item in items]).match(
        document, tagger.tag(document).entities
    )


def test_eccns_match_with_paragraphs_and_wildcards_on_real_sentences(tagger):
    found = hits(tagger, "2022-04300", ("eccn", "5A992"), ("eccn", "5d992*"), ("eccn", "5A002"))
    assert [(h["item"], h["matched"], h["field"]) for h in found] == [
        ("5A992", "5A992.c", "abstract"),
        ("5D992*", "5D992.c", "abstract"),
    ]
    assert "ECCN 5A992.c and 5D992.c unless for Russian" in found[0]["quote"]
    abstract = real("2022-04300")["abstract"]
    assert abstract[found[0]["start"] : found[0]["end"]] == "5A992.c"
    later = hits(tagger, "2023-22299", ("eccn", "9E003"), ("eccn", "9E001.a"), ("eccn", "9E002"))
    assert [(h["item"], h["matched"]) for h in later] == [
        ("9E003", "9E003.k"),
        ("9E001.a", "9E001"),
    ]


def test_a_cfr_section_matches_a_citation_of_one_of_its_paragraphs(tagger):
    found = hits(tagger, "96-25240", ("cfr", "19 CFR 353.28"), ("cfr", "19 CFR 353.2"))
    assert [(h["item"], h["text"]) for h in found] == [("19 CFR 353.28", "19 CFR 353.28")]
    assert found[0]["quote"].endswith("in accordance with 19 CFR 353.28(c).")


def test_a_country_group_matches_the_extracted_one(tagger):
    document = next(
        json.loads(line)
        for line in (REPO / "data/fr_check_set_2.jsonl").read_text().splitlines()
        if "Nicaragua to Country Group D:5" in line
    )
    entities = tagger.tag(document).entities
    found = WatchList([watch_item("country_group", "d:5")]).match(document, entities)
    assert found[0]["matched"] == "D:5"
    assert "BIS adds Nicaragua to Country Group D:5." in found[0]["quote"]


def test_a_name_with_its_corporate_suffix_matches_and_is_quoted(tagger):
    found = hits(tagger, "2020-03144", ("counterparty", "HUAWEI TECHNOLOGIES CO., LTD", "China"))
    assert [(h["item"], h["matched"], h["score"]) for h in found] == [
        ("HUAWEI TECHNOLOGIES CO., LTD (China)", "Huawei Technologies Co., Ltd", 100.0)
    ]
    assert found[0]["quote"] == (
        "The U.S. Government has decided to extend through April 1, 2020, the temporary general "
        "license to Huawei Technologies Co., Ltd. (Huawei) and one hundred and fourteen of its "
        "non-U.S. affiliates on the Entity List."
    )


def test_transliteration_variants_match(tagger):
    ovns = hits(
        tagger, "2020-07641", ("counterparty", "Shen Zhen OVNS Technology Co., Ltd.", "China")
    )
    assert [h["matched"] for h in ovns] == ["Shenzhen OVNS Technology Co., Ltd"]
    city = hits(tagger, "2025-20382", ("counterparty", "Shenzhen Julonghui Trading Co., Ltd."))
    assert [h["matched"] for h in city] == ["ShenzhenShi Julonghui Trading Co., Ltd"]


def test_a_common_word_stays_silent(tagger):
    assert real("2020-02336")["title"].endswith("Extension of the Target Date")
    assert hits(tagger, "2020-02336", ("counterparty", "Target Corporation", "United States")) == []


def test_similar_but_different_companies_stay_silent(tagger):
    fiber = ("counterparty", "Shinkong Synthetic Fiber Corporation", "Taiwan")
    assert hits(tagger, "2022-01599", fiber) == []  # names only Shinkong Materials Technology
    assert [h["matched"] for h in hits(tagger, "2025-19412", fiber)] == [
        "Shinkong Synthetic Fiber Corporation"
    ]
    jinko = ("counterparty", "Jinko Solar Co., Ltd.")  # the text has Yuhuan / Zhejiang Jinko Solar
    assert hits(tagger, "2024-05401", jinko) == []
    huawei_device = ("counterparty", "Huawei Device Co., Ltd.")
    assert hits(tagger, "2020-03144", huawei_device) == []


def test_a_counterparty_in_a_sentence_naming_another_country_stays_silent(tagger):
    wrong = ("counterparty", "Shenzhen OVNS Technology", "Vietnam")
    assert hits(tagger, "2020-07641", wrong) == []


def test_a_real_unrelated_text_stays_silent():
    text = RAW_TEXT.read_text(encoding="utf-8")
    watchlist = WatchList(
        [
            watch_item("counterparty", "Egypt Air Co."),
            watch_item("counterparty", "Defense Technology Co., Ltd.", "Egypt"),
            watch_item("counterparty", "General Dynamics Corporation"),
            watch_item("term", "entity list"),
            watch_item("eccn", "0A*"),
        ]
    )
    assert watchlist.match({"title": "Drawdown", "body": text}, {}) == []


@pytest.mark.parametrize(
    ("kind", "value", "country", "message"),
    [
        ("eccn", "3A09", None, "watch.x[0]: eccn '3A09' is not an ECCN"),
        ("cfr", "744.23", None, "watch.x[0]: cfr '744.23' is not a CFR part or section"),
        ("license_exception", "XYZ", None, "is not a known license exception"),
        ("country_group", "F:9", None, "is not a country group"),
        ("counterparty", "Co., Ltd.", None, "is only a legal form: give the name"),
        ("counterparty", "Acme", "Atlantis", "unknown country 'Atlantis'"),
        ("eccn", "4E091", "China", "only a counterparty takes a country"),
    ],
)
def test_bad_items_are_refused_with_where_they_were_given(kind, value, country, message):
    with pytest.raises(WatchError, match=re.escape(message)):
        watch_item(kind, value, country, origin="watch.x[0]")


def test_the_name_rules_are_checked_when_loaded(tmp_path):
    names = tmp_path / "names.jsonl"
    names.write_text('{"id": "legal.co", "kind": "legal_form", "tokens": "co"}\n{"id": "x"}\n')
    common = tmp_path / "common.txt"
    common.write_text("the\n")
    with pytest.raises(NameRuleError, match="names.jsonl line 2: kind must be one of"):
        load_name_rules(names, common)
    names.write_text('{"id": "legal.co", "kind": "legal_form", "tokens": "co"}\n')
    common.write_text("the\nNot A Word\n")
    with pytest.raises(NameRuleError, match="common.txt: 'Not A Word' is not a lower-case word"):
        load_name_rules(names, common)
    common.write_bytes(b"the\nstra\xdfe\n")  # Latin-1, not UTF-8
    with pytest.raises(ValueError, match=r"^common.txt: not UTF-8 \(byte 9\)$"):
        load_name_rules(names, common)


# End to end: the tag step, the digest, alerts and the re-match, on a real SQLite file.


def write_config(tmp_path: Path, receiver: Receiver, watch: str = "") -> Path:
    path = tmp_path / "regwatch.toml"
    path.write_text(
        f'[archive]\nhome = "{tmp_path / "home"}"\n'
        f'[digest]\noutput_dir = "{tmp_path / "out"}"\n'
        "[alerts]\nbackoff_seconds = 0.0\ntimeout_seconds = 2.0\n"
        '[[alerts.routes]]\nname = "watchers"\n'
        f'url = "json://127.0.0.1:{receiver.port}/hook"\ntags = ["ai"]\nwatch = true\n' + watch,
        encoding="utf-8",
    )
    return path


WATCH = (
    '[watch]\neccns = ["4E091"]\ncsv = "{csv}"\n'
    '[[watch.counterparties]]\nname = "Huawei Technologies Co., Ltd."\ncountry = "China"\n'
)


def store_real(home: Path, numbers: list[str]) -> None:
    with Archive.open(home) as archive:
        past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat(timespec="seconds")
        archive.log_crawl("federal_register", started_at=past, finished_at=past, ok=True, stats={})
        archive.register_routes(["watchers"])
        archive.store(
            [
                Publication(
                    source="federal_register",
                    source_id=d["document_number"],
                    title=d["title"],
                    publication_date=d["publication_date"],
                    url=d["html_url"],
                    abstract=d["abstract"],
                )
                for d in map(real, numbers)
            ]
        )


def rows(home: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(home / "regwatch.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def invoke(config: Path, *args: str):
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


@pytest.fixture
def receiver():
    started = Receiver()
    yield started
    started.stop()


def test_a_watch_list_hit_is_stored_listed_first_and_alerted_once(tmp_path, receiver):
    team_csv = tmp_path / "team.csv"
    team_csv.write_text(
        "kind,value,country,note\ncounterparty,Shen Zhen OVNS Technology,China,distributor\n"
    )
    config = write_config(tmp_path, receiver, WATCH.format(csv=team_csv))
    home = tmp_path / "home"
    store_real(home, ["2020-03144", "2020-07641", "2022-01599"])
    tagged = invoke(config, "tag")
    assert tagged.exit_code == 0, tagged.output
    priority = "SELECT p.source_id, w.priority FROM watch_priority w JOIN publications p "
    priority += "ON p.id = w.publication_id ORDER BY 1"
    assert rows(home, priority) == [("2020-03144", 1), ("2020-07641", 1)]
    delivered = invoke(config, "alert")
    assert "alerts: 2 sent" in delivered.output
    messages = sorted(r.body["message"] for r in receiver.accepted)
    assert messages[0].startswith("Watch-list hit: Huawei Technologies Co., Ltd. (China)\n")
    assert "“The U.S. Government has decided to extend through April 1, 2020" in messages[0]
    assert messages[1].startswith("Watch-list hit: Shen Zhen OVNS Technology (China)\n")
    assert invoke(config, "alert").output.startswith("alerts: 0 sent")
    assert len(receiver.requests) == 2
    written = invoke(config, "digest", "--until", "2020-04-30", "--days", "90")
    assert written.exit_code == 0, written.output
    text = next((tmp_path / "out").glob("digest-*.txt")).read_text(encoding="utf-8")
    top = text.index("== Touches your watch-list ==")
    assert top < text.index("== Source health and coverage ==") < text.index("== Export control")
    section = text[top : text.index("== Source health")]
    assert "Watch-list hit: Shen Zhen OVNS Technology (China) (abstract): " in section
    assert "Shinkong" not in section
    html = next((tmp_path / "out").glob("digest-*.html")).read_text(encoding="utf-8")
    assert "Touches your watch-list" in html and "Huawei Technologies Co., Ltd. (China)" in html
    shown = invoke(config, "watch")
    assert shown.exit_code == 0
    assert (
        "counterparty Shen Zhen OVNS Technology (China) - distributor  [watch.csv " in shown.output
    )
    assert "2020-07641 counterparty Shen Zhen OVNS Technology (China): “Notice is" in shown.output


def store_full_text_only(home: Path, number: str, body: str) -> None:
    """A synthetic document whose title and abstract name nobody, holding `body` as full text."""
    with Archive.open(home) as archive:
        archive.store(
            [
                Publication(
                    source="federal_register",
                    source_id=number,
                    title="Synthetic notice with a neutral title",
                    publication_date="2020-04-01",
                    url=f"https://www.federalregister.gov/d/{number}",
                    abstract="A synthetic abstract naming nobody.",
                    body_text=body,
                )
            ]
        )


def test_a_counterparty_or_term_named_only_in_the_full_text_is_a_hit(tmp_path, receiver):
    team_csv = tmp_path / "team.csv"
    team_csv.write_text(
        "kind,value,country,note\ncounterparty,Shen Zhen OVNS Technology,China,\n"
        "term,limited exclusion order,,\n"
    )
    config = write_config(tmp_path, receiver, WATCH.format(csv=team_csv))
    home = tmp_path / "home"
    body = real("2020-07641")["abstract"]  # the real sentences, as the rule's full text
    store_full_text_only(home, "synthetic-1", body)
    assert invoke(config, "tag").exit_code == 0
    found = rows(home, 'SELECT kind, field, start, "end" FROM watch_hits ORDER BY kind')
    assert [(kind, field) for kind, field, _, _ in found] == [
        ("counterparty", "body"),
        ("term", "body"),
    ]
    (_, _, start, end), _ = found
    assert body[start:end] == "Shenzhen OVNS Technology Co., Ltd"


def test_an_archive_tagged_by_the_older_matcher_is_rematched_for_full_text_hits(
    tmp_path, receiver, monkeypatch
):
    """The matcher read no full text before (it looked for `body_text`, a field the tag step
    never sends). An archive tagged then gets no full-text hits from re-tagging alone (its
    documents are up to date): the matcher's version is in the watch-list fingerprint, so the
    next tag run re-matches the documents of `watch.rematch_days` and finds them."""
    team_csv = tmp_path / "team.csv"
    team_csv.write_text("kind,value,country,note\nterm,limited exclusion order,,\n")
    config = write_config(tmp_path, receiver, WATCH.format(csv=team_csv))
    home = tmp_path / "home"
    store_full_text_only(home, "synthetic-2", real("2020-07641")["abstract"])
    with monkeypatch.context() as older:
        older.setattr(nlp.watch, "MATCHER_VERSION", 1)
        older.setattr(nlp.watch, "TEXT_FIELDS", ("title", "action", "abstract", "body_text"))
        assert invoke(config, "tag").exit_code == 0
    assert rows(home, "SELECT COUNT(*) FROM watch_hits") == [(0,)]
    upgraded = invoke(config, "tag")
    assert upgraded.exit_code == 0, upgraded.output
    assert "tagged 0 documents" in upgraded.output
    assert rows(home, "SELECT kind, field FROM watch_hits") == [("term", "body")]


def test_a_watch_list_change_rematches_recent_documents_without_alerting(tmp_path, receiver):
    home = tmp_path / "home"
    store_real(home, ["2020-03144", "2020-07641"])
    config = write_config(tmp_path, receiver)
    assert invoke(config, "tag").exit_code == 0
    assert rows(home, "SELECT COUNT(*) FROM alert_outbox") == [(0,)]
    team_csv = tmp_path / "team.csv"
    team_csv.write_text("kind,value,country,note\n")
    config = write_config(tmp_path, receiver, WATCH.format(csv=team_csv))
    changed = invoke(config, "tag")
    assert changed.exit_code == 0, changed.output
    assert "re-matched 2 documents of the last 90 days: 1 newly touch the watch-list, 0 alerts" in (
        changed.output
    )
    assert "federal_register 2020-03144 Temporary General License" in changed.output
    assert rows(home, "SELECT COUNT(*) FROM alert_outbox") == [(0,)]
    assert "re-matched" not in invoke(config, "tag").output  # once per change
    team_csv.write_text("kind,value,country,note\ncounterparty,Shenzhen OVNS,,\n")
    asked = invoke(config, "watch", "--rematch", "--alert")
    assert "2 documents of the last 90 days: 1 newly touch the watch-list, 1 alerts queued" in (
        asked.output
    )
    assert invoke(config, "alert").output.startswith("alerts: 1 sent")
    assert receiver.accepted[0].body["message"].startswith("Watch-list hit: Shenzhen OVNS\n")


def test_a_first_run_with_a_watch_list_matches_once_and_says_nothing_of_a_change(
    tmp_path, receiver
):
    home = tmp_path / "home"
    store_real(home, ["2020-03144", "2020-07641"])
    team_csv = tmp_path / "team.csv"
    team_csv.write_text("kind,value,country,note\ncounterparty,Shenzhen OVNS,,\n")
    config = write_config(tmp_path, receiver, WATCH.format(csv=team_csv))
    first = invoke(config, "tag")
    assert first.exit_code == 0, first.output
    assert "watch-list changed" not in first.output and "re-matched" not in first.output
    assert rows(home, "SELECT COUNT(DISTINCT publication_id) FROM watch_hits") == [(2,)]


def test_configuration_errors_are_one_line_naming_the_key_or_csv_line(tmp_path, receiver):
    config = write_config(tmp_path, receiver, '[watch]\neccns = ["4E091", "3A09"]\n')
    result = invoke(config, "watch")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: watch.eccns[1]: eccn '3A09' is not an ECCN (e.g. 4E091, 4A090.a, or 3A090* for "
        "3A090 and its paragraphs)"
    ]
    team_csv = tmp_path / "team.csv"
    team_csv.write_text("kind,value,country,note\neccn,4E091,,\ncounterparty,Acme,Atlantis,\n")
    config = write_config(tmp_path, receiver, f'[watch]\ncsv = "{team_csv}"\n')
    Archive.open(tmp_path / "home").close()  # `tag` makes none
    result = invoke(config, "tag")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: watch.csv {team_csv} line 3: unknown country 'Atlantis' "
        "(use the English short name)"
    )
    team_csv.write_text("type,value\n")
    assert "line 1: the header must be kind,value,country,note" in invoke(config, "watch").output


@pytest.mark.parametrize(
    ("csv_path", "reason"),
    [("/dev/zero", "it is a device, not a regular file"), ("pipe", "it is a named pipe")],
)
def test_a_watch_csv_that_is_no_file_is_one_line_not_a_hang(tmp_path, receiver, csv_path, reason):
    os.mkfifo(tmp_path / "pipe")  # a named pipe nobody writes to: reading it blocks for ever
    named = csv_path if csv_path.startswith("/") else str(tmp_path / csv_path)
    config = write_config(tmp_path, receiver, f'[watch]\ncsv = "{named}"\n')
    result = invoke(config, "watch")
    assert result.exit_code == 1
    assert result.output == f"Error: watch.csv {named}: cannot read: {reason}" + (
        "\n" if csv_path.startswith("/") else ", not a regular file\n"
    )


def test_a_damaged_tag_result_never_stops_rematching_the_others(tmp_path, receiver):
    """A stored tag result that is not JSON (a damaged or hand-edited row) stopped
    `watch --rematch` (and the tag run after a watch-list change) for every document with a
    bare parser error; now every document is matched again, that one without its entities."""
    home = tmp_path / "home"
    store_real(home, ["2020-03144", "2020-07641"])
    config = write_config(tmp_path, receiver)
    assert invoke(config, "tag").exit_code == 0
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.execute(
            "UPDATE tag_results SET result = '[1' WHERE publication_id = "
            "(SELECT id FROM publications WHERE source_id = '2020-07641')"
        )
    team_csv = tmp_path / "team.csv"
    team_csv.write_text("kind,value,country,note\ncounterparty,Shenzhen OVNS,,\n")
    config = write_config(tmp_path, receiver, WATCH.format(csv=team_csv))
    result = invoke(config, "watch", "--rematch")
    assert result.exit_code == 0, result.output
    assert "2 documents of the last 90 days: 2 newly touch the watch-list" in result.output
    assert "federal_register 2020-03144 " in result.output
    assert "federal_register 2020-07641 " in result.output
