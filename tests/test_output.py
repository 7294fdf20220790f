"""Output is inert: hostile links, control characters and formulas from sources reach nobody live.

Hostile documents are imported into a real archive and read back through the digest file, the
search table, CSV and error lines, as a reader would see them.
"""

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from regwatch.cli import ERROR_WIDTH, main
from regwatch.inert import csv_cell, http_url, json_text, plain_text, shorten

GOOD = Path(__file__).parent / "fixtures" / "cli" / "fr_documents.jsonl"
BASE = {
    "type": "Rule",
    "publication_date": "2025-01-15",
    "abstract": "Hostile record adding entities to the Entity List under the EAR.",
}
HOSTILE_LINKS = [
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    " javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "/documents/relative",
    'https://ok.example/" onmouseover="alert(1)',
    "file:///etc/passwd",
    "https://ok.example/\u202egpj.exe",  # shows as https://ok.example/exe.jpg
    "https://ok.example/\ufffe",
]
CONTROLS = "\x1b[31m\x1b]8;;https://evil.example\x07\u202e\x9b2J\x07\x00\r"


def invoke(*args: str, **kwargs):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, **kwargs)


def load(records: list[dict]) -> None:
    lines = GOOD.read_text(encoding="utf-8") + "".join(json.dumps(r) + "\n" for r in records)
    result = invoke("import", "-", input=lines.encode())
    assert result.exit_code == 0, result.output


def test_digest_links_only_http_and_https(home, tmp_path):
    records = [
        {**BASE, "document_number": f"2025-9{n:04}", "title": f"Hostile {n}", "html_url": url}
        for n, url in enumerate(HOSTILE_LINKS)
    ]
    records.append(
        {
            **BASE,
            "document_number": "2025-99999",
            "title": "Fine",
            "html_url": "https://ok.example/a",
        }
    )
    load(records)
    assert invoke("tag").exit_code == 0
    invoke("digest", "--until", "2025-01-16", "--days", "7")
    page = (tmp_path / "data" / "digests" / "digest-2025-01-10-to-2025-01-16.html").read_text()
    links = re.findall(r'href="([^"]*)"', page)
    assert "https://ok.example/a" in links
    assert all(link.startswith(("https://", "http://")) for link in links), links
    assert "javascript:" not in "".join(links) and "data:" not in "".join(links)
    assert "link (not followed): javascript:alert(1)" in page
    assert "onmouseover" in page  # shown as text ...
    assert not re.search(r"<[^>]*onmouseover", page)  # ... never an attribute of a tag


def test_search_table_and_errors_carry_no_control_characters(home):
    load([{**BASE, "document_number": "2025-90001", "title": f"Quantum{CONTROLS} sensors"}])
    table = invoke("search", "quantum")
    assert table.exit_code == 0
    assert "2025-90001" in table.output
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", table.output)
    error = invoke("search", "--", f'"{CONTROLS}')
    assert error.exit_code == 1
    assert error.output == 'Error: unbalanced quote: close the phrase with a second "\n'
    missing = invoke("import", f"no{CONTROLS.replace(chr(0), '')}such.jsonl")
    assert missing.exit_code == 1
    assert missing.output == "Error: cannot import nosuch.jsonl: no such file or directory\n"


def test_a_line_break_in_a_stored_field_forges_no_line_in_show(home):
    """`show` printed one-line fields as stored: a synthetic title, agency or action holding a
    line break printed lines of its own, read as the document's metadata (a publication date or
    comment deadline it does not have)."""
    forged = "\npublication_date: 1999-01-01\r\ncomments_close_on: 2099-12-31"
    load(
        [
            {
                **BASE,
                "document_number": "2025-90003",
                "title": f"Quantum sensors{forged}",
                "action": f"Final rule.{forged}",
                "agencies": [{"name": f"Industry and Security Bureau{forged}"}],
            }
        ]
    )
    shown = invoke("show", "2025-90003")
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert lines[0] == "Quantum sensors publication_date: 1999-01-01 comments_close_on: 2099-12-31"
    assert [line for line in lines if line.startswith(("publication_date", "comments_close"))] == [
        "publication_date: 2025-01-15"
    ]
    table = invoke("search", "quantum", env={"COLUMNS": "200"})
    assert lines[0] in table.output  # the title on one line of its cell
    assert not any(
        line.strip("│ ").startswith("comments_close_on") for line in table.output.splitlines()
    )


def test_a_line_break_in_a_rejected_document_number_forges_no_line(home, tmp_path):
    """`import` named a rejected record by its document number as received: a synthetic number
    holding a line break printed a forged summary line ("0 rejected") under the real one. Such a
    number is itself the reason now, quoted on its one line."""
    number = "2025-90005\nimported all.jsonl: 99 new, 0 changed, 0 unchanged, 0 rejected"
    record = {**BASE, "document_number": number, "title": "T" * 10001}
    (tmp_path / "one.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "one.jsonl"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-3:] == [
        "imported one.jsonl: 0 new, 0 changed, 0 unchanged, 1 rejected",
        f"  line 1: document_number holds spaces or control characters: {ascii(number[:40])}",
        "Error: 1 lines of one.jsonl were rejected",
    ]


@pytest.mark.parametrize("columns", ["0", "5"])
def test_a_zero_or_tiny_terminal_width_still_shows_the_results(home, monkeypatch, columns):
    """`COLUMNS=0` in the environment printed an empty table (and 5, empty cells): the results
    seemed absent. Tables are printed at least 60 columns wide."""
    load([{**BASE, "document_number": "2025-90002", "title": "Quantum sensors"}])
    monkeypatch.setenv("COLUMNS", columns)
    table = invoke("search", "quantum", "--facets")
    assert table.exit_code == 0
    assert "2025-90002" in table.output and "Quantum sensors" in table.output
    assert "documents" in table.output  # the facet tables too


def test_a_very_long_query_is_shortened_in_its_error(home):
    load([])
    result = invoke("search", "--", "!" * 3999)
    assert result.exit_code == 1
    line = result.output.rstrip("\n")
    assert line.startswith("Error: no searchable words in '!!!") and "…" in line
    assert len(line) <= len("Error: ") + ERROR_WIDTH


def test_csv_cells_are_never_formulas(home):
    titles = ['=HYPERLINK("https://evil.example")', "+1+cmd", "-2+3", "@SUM(A1)"]
    load(
        [
            {**BASE, "document_number": f"2025-9100{n}", "title": f"{title} quantum"}
            for n, title in enumerate(titles)
        ]
    )
    rows = csv.DictReader(io.StringIO(invoke("search", "quantum", "--format", "csv").output))
    assert sorted(row["title"] for row in rows) == sorted(f"'{title} quantum" for title in titles)


def test_a_signed_number_in_a_csv_cell_is_written_as_stored(home):
    """A title `-3.5` was exported to CSV as `'-3.5`: the quote showed in the spreadsheet and
    reached scripts. A signed number cannot start a formula; `-2+3` still gets its quote."""
    titles = ["-3.5", "+42", "-2+3", "-3.5e5"]
    load(
        [
            {**BASE, "document_number": f"2025-9100{n}", "title": title}
            for n, title in enumerate(titles)
        ]
    )
    rows = csv.DictReader(io.StringIO(invoke("search", "hostile", "--format", "csv").output))
    assert sorted(row["title"] for row in rows) == ["'-2+3", "'-3.5e5", "+42", "-3.5"]


def test_excel_cells_hold_formula_text_as_text(home, tmp_path):
    """An xlsx title or agency starting with = was saved with a leading ' (shown in the cell,
    and read back by a script as part of the title); it is a string cell now, exactly as stored,
    and no cell of the file is a formula."""
    import openpyxl

    titles = ['=HYPERLINK("https://evil.example","click")', "-2+3", "@SUM(A1)"]
    agency = "=cmd|' /C calc'!A0"
    load(
        [
            {
                **BASE,
                "document_number": f"2025-9100{n}",
                "title": f"{title} quantum",
                "agencies": [{"name": agency}],
            }
            for n, title in enumerate(titles)
        ]
    )
    path = tmp_path / "found.xlsx"
    assert invoke("search", "quantum", "--format", "xlsx", "--output", str(path)).exit_code == 0
    header, *rows = openpyxl.load_workbook(path).active.iter_rows()
    cells = {h.value: [row[n] for row in rows] for n, h in enumerate(header)}
    assert sorted(c.value for c in cells["title"]) == sorted(f"{t} quantum" for t in titles)
    assert [c.value for c in cells["agencies"]] == [agency] * 3
    assert all(cell.data_type != "f" for row in rows for cell in row)
    assert all(isinstance(cell.value, float) for cell in cells["score"])


def test_an_excel_cell_longer_than_a_worksheet_holds_is_cut_saying_so(home, tmp_path):
    """SYNTHETIC: an agency name of 40,000 characters (the archive takes up to 100,000). Excel
    holds 32,767 characters per cell and called the file damaged; the cell is cut now, and its
    end says so."""
    import openpyxl

    agency = "=Synthetic Agency " * 2_500
    record = {**BASE, "document_number": "2025-91010", "title": "Synthetic quantum rule"}
    load([{**record, "agencies": [{"name": agency.strip()}]}])
    path = tmp_path / "found.xlsx"
    assert invoke("search", "quantum", "--format", "xlsx", "--output", str(path)).exit_code == 0
    header, row = openpyxl.load_workbook(path).active.iter_rows()
    cell = row[[h.value for h in header].index("agencies")]
    assert (cell.data_type, len(cell.value)) == ("s", 32_767)
    assert cell.value.startswith("=Synthetic Agency =Synthetic")
    assert cell.value.endswith(" … [cut: 44,999 characters in all; --format json holds them]")


def test_json_and_csv_printed_to_a_terminal_carry_no_control_characters(home):
    """`search --format json|csv` and `show --format json` printed a stored title's C1 controls
    (U+009B: a terminal's CSI, U+009D: OSC) and bidi overrides raw, and CSV its ESC sequences
    too, into the terminal that ran them. JSON now writes each as a \\u escape (a parser reads
    the stored title back exactly); CSV cells drop them, as Excel cells do."""
    title = f"Quantum{CONTROLS} \x9d52;c;ZXZpbA==\x07 sensors\x85 ok"
    load([{**BASE, "document_number": "2025-90004", "title": title}])
    found = invoke("search", "quantum", "--format", "json")
    shown = invoke("show", "2025-90004", "--format", "json")
    sheet = invoke("search", "quantum", "--format", "csv")
    for printed in (found.output, shown.output, sheet.output):
        assert not re.search("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e]", printed)
    assert json.loads(found.output)[0]["title"] == title
    assert json.loads(shown.output)["title"] == title
    assert "\\u202e" in shown.output and "\\u009b" in shown.output
    (row,) = csv.DictReader(io.StringIO(sheet.output))
    assert row["title"] == "Quantum 52;c;ZXZpbA== sensors ok"


@pytest.mark.parametrize(
    "url", ["https://www.federalregister.gov/d/2024-1", "http://127.0.0.1:8400/x?a=1&b=2"]
)
def test_http_url_keeps_web_links(url):
    assert http_url(url) == url


@pytest.mark.parametrize("url", [*HOSTILE_LINKS, None, 7, "", "https://", "http://a b"])
def test_http_url_refuses_everything_else(url):
    assert http_url(url) is None


def test_plain_text_keeps_text_newlines_and_tabs():
    assert plain_text(f"a{CONTROLS}b\n\tc é 中") == "ab\n\tc é 中"


def test_json_text_is_the_same_data_inert():
    value = {"t": f"a{CONTROLS}\u2066é\ud800\uffff中"}
    assert json.loads(json_text(value)) == value
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066\ud800\uffff]", json_text(value))


def test_csv_cell_and_shorten():
    assert [csv_cell(v) for v in ["=1", "+1+1", "-1-", "@a", "\r1", "ok", 1.5]] == [
        "'=1",
        "'+1+1",
        "'-1-",
        "'@a",
        "'\r1",
        "ok",
        1.5,
    ]
    assert shorten("x" * 10, 10) == "x" * 10
    cut = shorten("a" * 50 + "z" * 50, 20)
    assert len(cut) == 20 and cut.startswith("aaa") and cut.endswith("zzz") and "…" in cut


@pytest.mark.parametrize("output_format", ["csv", "json", "table"])
def test_a_reader_that_stops_early_ends_the_search_quietly(home, output_format):
    """`regwatch search … --format csv | head` ended with `Error: [Errno 32] Broken pipe`: the
    reader leaving is no error of the search; it ends quietly, as table and JSON did."""
    long_title = "Entity List additions " * 40
    load(
        [
            {**BASE, "document_number": f"2025-8{n:04}", "title": f"{long_title}{n}"}
            for n in range(300)
        ]
    )
    command = [sys.executable, "-c", "from regwatch.cli import main; main()", "search"]
    command += ["entity", "--limit", "500", "--format", output_format]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as run:
        assert run.stdout.read(10)
        run.stdout.close()
        stderr = run.stderr.read().decode()
    assert run.returncode in (0, 1)
    assert stderr == ""
