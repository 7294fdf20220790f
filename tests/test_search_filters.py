"""Search filters, facets, sorting, saved searches and exports, as a user runs them.

Enters: the 32 real Federal Register documents of tests/fixtures/archive plus four synthetic ones
(tests/fixtures/search/synthetic-documents.jsonl: an ECCN paragraph, a CFR section, comment
periods, hostile text), imported and tagged by the real tagger into a real archive. Leaves:
assertions on the documents each filter keeps, facet counts, order, exports read back with pandas,
and the one-line errors of bad filter values.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date
from pathlib import Path

import openpyxl
import pandas
import pytest
from click.testing import CliRunner

from archive import agencies
from archive import facets as facets_module
from regwatch import steps
from regwatch.cli import main
from regwatch.config import load_config

FIXTURES = Path(__file__).parent / "fixtures"
REAL = FIXTURES / "archive" / "fr_documents.jsonl"
SYNTHETIC = FIXTURES / "search" / "synthetic-documents.jsonl"
CFR_FORMS = "TITLE:PART or TITLE:PART.SECTION"
SAVED = """
[searches.bis-open]
query = ""
agencies = ["Industry and Security Bureau"]
open_for_comment = true

[searches.entity]
query = "entity list"
sub_tags = ["entity_list"]
sort = "newest"
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("filters")
    (root / "regwatch.toml").write_text(
        f'[archive]\nhome = "{root / "home"}"\n{SAVED}', encoding="utf-8"
    )
    loaded = load_config(root / "regwatch.toml", environ={})
    for path in (REAL, SYNTHETIC):
        steps.import_file(loaded, str(path))
    assert steps.tag(loaded).tagged == 36
    return loaded


def found(config, text: str = "", **options) -> list[str]:
    request = steps.search_request(config, text, limit=100, **options)
    return [hit.source_id for hit in steps.search(config, request).hits]


def invoke(config, *args: str):
    return CliRunner().invoke(main, ["--config", str(config.source), *args])


def test_agency_by_name_or_slug_any_case(config) -> None:
    by_name = found(config, "export", agencies=("Industry and Security Bureau",))
    assert by_name and set(by_name) == set(
        found(config, "export", agencies=("industry-and-security-bureau",))
    )
    assert set(by_name) == set(found(config, "export", agencies=("INDUSTRY AND SECURITY BUREAU",)))
    for alias in ("BIS", "Bureau of Industry and Security"):  # archive/agency_aliases.json
        assert set(found(config, "export", agencies=(alias,))) == set(by_name), alias
    assert "2010-18219" in found(config, "export") and "2010-18219" not in by_name  # NRC


def test_type_filter_ignores_case_and_spacing(config) -> None:
    assert found(config, "", types=("proposed rule",)) == ["synthetic-0001", "2010-25444"]
    notices = found(config, "", types=("Notice",))
    assert "2024-25471" in notices and "2023-23055" not in notices


def test_source_filter(config) -> None:
    assert len(found(config, "", sources=("federal_register",))) == 36
    assert found(config, "", sources=("ntia",)) == []  # known, none stored


def test_sub_tag_and_tag_filters_are_anded(config) -> None:
    both = found(config, "", tags=("ai",), sub_tags=("semiconductors",))
    real = {"2023-23055", "2024-28270", "2023-23049", "2026-00789", "2024-22587"}
    assert set(both) == real | {"synthetic-0001"}
    assert set(found(config, "", sub_tags=("enforcement",))) == {"2023-18772", "2024-25471"}


@pytest.mark.parametrize(
    ("eccn", "expected"),
    [
        ("3A090", {"synthetic-0001"}),  # 3A090.a is filed under 3A090 too
        ("3a090.A", {"synthetic-0001"}),
        ("3A090.b", set()),
        ("5A992", {"2022-04300"}),  # 5A992.c
        ("4E091", {"synthetic-0002"}),
        ("0Y521", {"2021-28444"}),
    ],
)
def test_eccn_filter_finds_paragraphs_under_their_eccn(config, eccn: str, expected) -> None:
    assert set(found(config, "", eccns=(eccn,))) == expected


@pytest.mark.parametrize(
    ("cfr", "expected"),
    [
        ("15:744.23", {"synthetic-0001"}),
        ("15 CFR 744.23", {"synthetic-0001"}),
        ("15:734.9", {"synthetic-0002"}),
        ("10:110", {"2010-18219"}),
        ("22:121", {"2018-21422"}),
    ],
)
def test_cfr_filter_by_part_or_section(config, cfr: str, expected) -> None:
    assert set(found(config, "", cfrs=(cfr,))) == expected


def test_cfr_part_finds_every_document_citing_it(config) -> None:
    part = set(found(config, "", cfrs=("15:744",)))
    assert {"synthetic-0001", "synthetic-0004", "2025-00704", "E9-17295"} <= part
    assert "2018-21422" not in part


def test_country_filter(config) -> None:
    russia = found(config, "", countries=("russia",))
    assert set(russia) >= {"2022-04300", "2021-04505"}
    assert found(config, "", countries=("Russian  Federation",)) == russia  # an alias, any case
    assert "2025-00704" in found(config, "", countries=("China",))
    assert "2025-00704" in found(config, "", countries=("PRC",))


def test_an_empty_result_names_the_agency_or_type_no_document_carries(config) -> None:
    result = invoke(
        config, "search", "export", "--type", "proposed rules", "--agency", "Commerce Dept"
    )
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "no stored document has agency 'Commerce Dept'; did you mean 'Commerce Department'?",
        "no stored document has type 'proposed rules'; did you mean 'Proposed Rule'?",
        "no matches",
    ]
    long = invoke(config, "search", "export", "--agency", "Commerce Dept " * 3000)
    note, rest = long.output.split("\n", 1)
    assert note.startswith("no stored document has agency 'Commerce Dept Commerce") and "…" in note
    assert len(note) <= 300 and rest == "no matches\n"  # one line, cut like an error line
    nothing = steps.search_request(config, "zzzyqx", types=("Notice",), agencies=("Nonesuch",))
    assert steps.search(config, nothing).notes == ["no stored document has agency 'Nonesuch'"]
    found = steps.search_request(config, "export", types=("Rule",))
    assert steps.search(config, found).notes == []


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ('{"BIS": "Industry and Security Bureau"}', "'BIS': expected an agency slug, got "),
        ('{"BIS": "a-b", "bis": "c-d"}', "'bis' names two agencies"),
        ('["BIS"]', "expected an object of name → agency slug"),
    ],
)
def test_the_agency_aliases_file_is_checked_when_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, error: str
) -> None:
    bad = tmp_path / "agency_aliases.json"
    bad.write_text(content, encoding="utf-8")
    monkeypatch.setattr(agencies, "ALIASES", bad)
    agencies.aliases.cache_clear()
    try:
        with pytest.raises(ValueError, match=f"^agency_aliases.json: {re.escape(error)}"):
            agencies.agency_keys("BIS")
    finally:
        agencies.aliases.cache_clear()


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("--country", "Narnia", "unknown country 'Narnia': name it in English, as China, Russia "),
        ("--tag", "expor", "unknown tag 'expor' (known: ai, cloud_compute, data_security, "),
        ("--sub-tag", "chips", "unknown tag 'chips' (known: ai, cloud_compute, data_security, "),
        ("--source", "fr", "unknown source 'fr' (known: bis, csl, ecfr, federal_register, "),
    ],
)
def test_an_unknown_filter_value_is_one_line_not_an_empty_result(
    config, option: str, value: str, error: str
) -> None:
    result = invoke(config, "search", "export", option, value)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {error}") and result.output.count("\n") == 1


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 3, 1), {"synthetic-0001", "synthetic-0003"}),
        (date(2025, 4, 2), {"synthetic-0001", "synthetic-0003"}),  # closes that day: still open
        (date(2025, 4, 3), {"synthetic-0003"}),
        (date(2025, 7, 1), set()),
    ],
)
def test_open_for_comment_against_a_fixed_today(config, today: date, expected) -> None:
    assert set(found(config, "", open_for_comment=True, today=today)) == expected


@pytest.mark.parametrize(
    ("since", "until"),
    [("0001-01-01", None), (None, "9999-12-31"), ("1600-01-01", "2999-12-31")],
)
def test_dates_beyond_the_index_range_are_open_ended(config, since, until) -> None:
    """`--since 0001-01-01` or `--until 9999-12-31` mean "no bound", never the engine's "out of
    range" error (status 1 and a 503 on the web, as if the archive were broken)."""
    result = invoke(
        config,
        "search",
        "export",
        "--since",
        since or "1994-01-01",
        "--until",
        until or "2030-12-31",
        "--format",
        "json",
        "--limit",
        "100",
    )
    assert result.exit_code == 0, result.output
    assert [hit["source_id"] for hit in json.loads(result.output)] == found(config, "export")
    assert found(config, "export", until="1650-01-01") == []


def test_newest_first(config) -> None:
    request = steps.search_request(config, "export", sort="newest", limit=100)
    dates = [hit.publication_date for hit in steps.search(config, request).hits]
    assert dates == sorted(dates, reverse=True) and len(dates) > 5


def test_facets_count_the_whole_result_set(config) -> None:
    request = steps.search_request(config, "export", limit=1, facets=True)
    result = steps.search(config, request)
    assert len(result.hits) == 1 and result.total > 10
    facets = {name: dict(counts) for name, counts in result.facets.items()}
    assert set(facets) == {"tag", "sub_tag", "agency", "type", "year", "source"}
    assert facets["source"] == {"federal_register": result.total}
    assert sum(facets["type"].values()) == result.total
    assert facets["tag"]["export_control"] == len(found(config, "export", tags=("export_control",)))
    assert "entity_list" in facets["sub_tag"] and "ai" not in facets["sub_tag"]
    assert facets["agency"]["Industry and Security Bureau"] == len(
        found(config, "export", agencies=("Industry and Security Bureau",))
    )
    assert facets["year"]["2025"] == len(
        found(config, "export", since="2025-01-01", until="2025-12-31")
    )
    counted = steps.search(config, steps.search_request(config, "export", limit=1))
    assert result.total == counted.total  # the facets' total is the engine's count


def test_facets_are_exact_when_combinations_overflow(config, monkeypatch) -> None:
    request = steps.search_request(config, "export", limit=1, facets=True)
    combined = steps.search(config, request)
    one_each = {name: {"terms": {"field": name, "size": 1}} for name in facets_module.COMBINATIONS}
    monkeypatch.setattr(facets_module, "AGGREGATION", one_each)  # every field overflows
    recounted = steps.search(config, request)
    assert recounted.facets == combined.facets and recounted.total == combined.total
    assert dict(recounted.facets["year"])["2025"] > 0


def test_a_facet_value_holding_a_separator_stays_one_value() -> None:
    fields = facets_module.combinations(
        {"agency": ["Bureau\x1fof\x1eThings", "Another"], "type": [""], "source": ["s"]}
    )
    assert set(fields) == {"agencyset", "kind"}
    parts = fields["agencyset"].split(facets_module.PART)
    assert parts == ["agency\x1eAnother", "agency\x1eBureau\ufffdof\ufffdThings"]
    assert fields["kind"] == "source\x1es"  # an empty type is no value


def test_saved_searches_from_the_config(config) -> None:
    assert set(found(config, "@bis-open", today=date(2025, 3, 1))) == {"synthetic-0001"}
    entity = steps.search_request(config, "@entity", limit=100)
    assert entity.sort == "newest" and entity.filters.sub_tags == ("entity_list",)
    hits = steps.search(config, entity).hits
    assert hits and all("entity_list" in hit.tags for hit in hits)
    # a filter given beside the saved search narrows it
    assert set(found(config, "@entity", countries=("Russia",))) <= {h.source_id for h in hits}


def test_saved_search_as_a_filter_over_publication_ids(config) -> None:
    with sqlite3.connect(config.home / "regwatch.db") as conn:
        ids = dict(conn.execute("SELECT source_id, id FROM publications"))
    wanted = [ids["2025-00704"], ids["2023-18772"], ids["synthetic-0004"]]
    assert steps.saved_search_matches(config, "entity", wanted) == {
        ids["2025-00704"],
        ids["synthetic-0004"],
    }
    assert steps.saved_search_matches(config, "entity", []) == set()


def test_a_saved_search_typed_after_a_space_still_runs(config) -> None:
    """` @entity` (a space typed or pasted first) failed as "no saved search @@entity"."""
    assert found(config, " @entity ") == found(config, "@entity")
    result = invoke(config, "search", " @nosuch")
    assert result.output == "Error: no saved search @nosuch (known: @bis-open, @entity)\n"


def test_unknown_saved_search_is_one_line(config) -> None:
    result = invoke(config, "search", "@nosuch")
    assert result.exit_code == 1
    assert result.output == "Error: no saved search @nosuch (known: @bis-open, @entity)\n"


def test_a_saved_search_that_cannot_be_searched_is_named(config, tmp_path) -> None:
    """A saved search with a bad ECCN, CFR, country or query failed as if the user had typed
    the bad value (`Error: ECCN must look like …`), naming neither the search nor the config;
    one whose query is `@other` searched the word "other"."""
    saved = {
        "eccn": 'eccns = ["3A09"]',
        "cfr": 'cfrs = ["fifteen"]',
        "country": 'countries = ["Atlantis"]',
        "quote": 'query = "\\"entity list"',
        "chained": 'query = "@eccn"',
    }
    (tmp_path / "regwatch.toml").write_text(
        f'[archive]\nhome = "{config.home}"\n'
        + "".join(f"[searches.{name}]\n{line}\n" for name, line in saved.items()),
        encoding="utf-8",
    )
    broken = load_config(tmp_path / "regwatch.toml", environ={})
    outputs = [invoke(broken, "search", f"@{name}") for name in saved]
    assert [(r.exit_code, r.output) for r in outputs] == [
        (1, "Error: saved search @eccn: ECCN must look like 3A090 or 3A090.a, got '3A09'\n"),
        (1, f"Error: saved search @cfr: CFR must be {CFR_FORMS}, as 15:744, got 'fifteen'\n"),
        (
            1,
            "Error: saved search @country: unknown country 'Atlantis': name it in English, "
            "as China, Russia or Russian Federation\n",
        ),
        (1, 'Error: saved search @quote: unbalanced quote: close the phrase with a second "\n'),
        (
            1,
            "Error: saved search @chained: its query names the saved search @eccn; one saved "
            "search cannot run another: copy its words and filters\n",
        ),
    ]
    assert invoke(broken, "search", "entity").exit_code == 0  # the other searches still run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--eccn", "3A09"), "Error: ECCN must look like 3A090 or 3A090.a, got '3A09'"),
        (
            ("--cfr", "744"),
            "Error: CFR must be TITLE:PART or TITLE:PART.SECTION, as 15:744, got '744'",
        ),
        ((), "Error: empty query: type one or more words to search for"),
    ],
)
def test_bad_filter_values_are_one_line(config, args, message) -> None:
    result = invoke(config, "search", "", *args)
    assert result.exit_code == 1
    assert result.output == message + "\n"


def test_cli_filters_and_facets_as_json(config) -> None:
    result = invoke(
        config,
        "search",
        "",
        "--eccn",
        "3A090",
        "--type",
        "proposed rule",
        "--facets",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["total"] == 1 and shown["hits"][0]["source_id"] == "synthetic-0001"
    assert shown["facets"]["agency"] == [
        ["Commerce Department", 1],
        ["Industry and Security Bureau", 1],
    ]


def test_table_shows_facets(config) -> None:
    result = invoke(config, "search", "entity list", "--facets")
    assert result.exit_code == 0
    assert "sub-tag" in result.output and "entity_list" in result.output


@pytest.mark.parametrize("kind", ["csv", "xlsx", "parquet"])
def test_exports_open_back_with_pandas(config, tmp_path, kind: str) -> None:
    if kind == "parquet":
        pytest.importorskip("pyarrow", reason="parquet needs the regwatch[parquet] extra")
    args = ["search", "entity list", "--limit", "50", "--format", kind]
    if kind == "csv":
        result = invoke(config, *args)
        (tmp_path / "out.csv").write_text(result.output, encoding="utf-8")
    else:
        result = invoke(config, *args, "--output", str(tmp_path / f"out.{kind}"))
    assert result.exit_code == 0, result.output
    reader = {"csv": pandas.read_csv, "xlsx": pandas.read_excel, "parquet": pandas.read_parquet}
    frame = reader[kind](tmp_path / f"out.{kind}")
    expected = found(config, "entity list")[:50]
    assert list(frame["source_id"]) == expected
    hostile = frame[frame["source_id"] == "synthetic-0004"].iloc[0]
    assert hostile["title"].startswith("Synthetic: <script>")
    assert list(frame.columns)[:3] == ["publication_date", "source", "source_id"]


def test_spreadsheet_cells_are_never_formulas(config, tmp_path) -> None:
    from regwatch.export import write_file

    hit = {"title": '=HYPERLINK("http://x")', "tags": ["ai"], "agencies": [], "score": 1.0}
    hit |= dict.fromkeys(("publication_date", "source", "source_id", "type"), "x")
    hit |= {"comments_close_on": None, "url": "@SUM(1)", "related": []}
    write_file([hit], tmp_path / "x.xlsx", "xlsx")
    frame = pandas.read_excel(tmp_path / "x.xlsx")
    assert frame["title"][0] == '=HYPERLINK("http://x")' and frame["url"][0] == "@SUM(1)"
    sheet = openpyxl.load_workbook(tmp_path / "x.xlsx").active
    assert "f" not in {cell.data_type for cell in sheet[2]}


def test_control_characters_in_a_title_still_export_to_excel(config, tmp_path) -> None:
    """openpyxl refuses control characters (a stored title may hold them): the export died with
    a traceback; they are dropped now, and one hiding a formula does not let it through."""
    from regwatch.export import write_file

    hit = {"title": "Synthetic \x01bell\x07 \u202etitle", "tags": [], "agencies": [], "score": 1.0}
    hit |= dict.fromkeys(("publication_date", "source", "source_id", "type"), "x")
    hit |= {"comments_close_on": None, "url": "\x0b=HYPERLINK(1)", "related": []}
    write_file([hit], tmp_path / "x.xlsx", "xlsx")
    frame = pandas.read_excel(tmp_path / "x.xlsx")
    assert frame["title"][0] == "Synthetic bell title" and frame["url"][0] == "=HYPERLINK(1)"


def test_parquet_without_pyarrow_says_what_to_install(config, tmp_path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    result = invoke(
        config, "search", "export", "--format", "parquet", "--output", str(tmp_path / "x")
    )
    assert result.exit_code == 1
    assert result.output == "Error: parquet needs `pip install regwatch[parquet]` (pyarrow)\n"


def test_binary_formats_need_an_output_file(config) -> None:
    result = invoke(config, "search", "export", "--format", "xlsx")
    assert result.exit_code == 2
    assert "--format xlsx needs --output FILE" in result.output
