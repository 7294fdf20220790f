"""The `regwatch` command as a user runs it: real archive files, exact exit codes and messages."""

import contextlib
import errno
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from regwatch.cli import main
from tests.conftest import FR_ONLY, run_readonly, skip_unless_file_modes_bind

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "cli"
GOOD = FIXTURES / "fr_documents.jsonl"
BAD = FIXTURES / "fr_documents_bad.jsonl"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert lines, "no output"
    assert lines[-1].startswith("Error: "), result.output
    return lines[-1]


def test_every_command_has_help_and_is_in_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in main.commands:
        result = invoke(name, "--help")
        assert result.exit_code == 0, name
        assert "Example: regwatch" in result.output, name
        assert f"regwatch {name}" in readme, name


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert re.fullmatch(r"regwatch, version \d+\.\d+\.\d+\n", result.output)


def test_invalid_config_is_one_line(home, tmp_path):
    (tmp_path / "regwatch.toml").write_text("[crawl]\noverlap_days = 'x'\n", encoding="utf-8")
    result = invoke("status")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "crawl.overlap_days must be a whole number" in error_line(result)


@pytest.mark.parametrize("command", ["crawl", "run"])
def test_an_empty_base_url_is_a_usage_error_never_the_real_site(home, command):
    """`--base-url "$REPLAY"` with the variable unset crawled federalregister.gov itself."""
    result = CliRunner().invoke(main, [command, "--base-url", " "])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--base-url': is empty: give the API's URL, or leave it out"
    )
    assert not home.exists()


@pytest.mark.parametrize("command", [["search", "export"], ["watch"]])
@pytest.mark.parametrize("limit", ["0", "10001", "99999999999999999999"])
def test_a_limit_out_of_range_is_a_usage_error(home, command, limit):
    """`search --limit 10001` exited 1 and `watch --limit 99999999999999999999` failed late in
    SQLite ("Python int too large to convert to SQLite INTEGER"), where 0 exited 2."""
    from archive.query import MAX_LIMIT
    from regwatch.cli import LIMIT

    assert LIMIT.max == MAX_LIMIT
    result = CliRunner().invoke(main, [*command, "--limit", limit])
    assert result.exit_code == 2
    assert "Invalid value for '--limit'" in result.output.splitlines()[-1]


def test_import_then_reimport_writes_nothing_new(home):
    first = invoke("import", str(GOOD))
    assert first.exit_code == 0, first.output
    assert "10 new, 0 changed, 0 unchanged, 0 rejected" in first.output
    second = invoke("import", str(GOOD))
    assert "0 new, 0 changed, 10 unchanged, 0 rejected" in second.output
    status = invoke("status")
    assert status.exit_code == 0
    assert re.search(r"federal_register\D+10\b", status.output), status.output


def test_import_refuses_an_absurd_number_of_workers_in_one_line(home):
    result = invoke("import", "--workers", "10000", str(GOOD))
    assert result.exit_code == 2
    assert "Invalid value for '--workers': 10000 is not in the range 1<=x<=64." in result.output


def test_import_rejects_bad_lines_and_keeps_the_good_ones(home):
    invoke("import", str(GOOD))
    result = CliRunner().invoke(main, ["import", str(BAD)])
    assert result.exit_code == 1
    assert "0 new, 0 changed, 2 unchanged, 3 rejected" in result.output
    assert "line 2: invalid JSON" in result.output
    assert "line 3: missing publication_date" in result.output
    assert "line 4: expected a JSON object, got list" in result.output
    assert error_line(result) == f"Error: 3 lines of {BAD} were rejected"
    hits = json.loads(invoke("search", "entity list", "--format", "json").output)
    assert hits, "documents stored before the bad import were lost"


def test_import_reads_standard_input(home):
    result = CliRunner().invoke(main, ["import", "-"], input=GOOD.read_bytes())
    assert result.exit_code == 0, result.output
    assert "imported standard input: 10 new, 0 changed, 0 unchanged, 0 rejected" in result.output


def _fifo(tmp_path: Path) -> str:
    os.mkfifo(tmp_path / "pipe")
    return str(tmp_path / "pipe")


def _unreadable(tmp_path: Path) -> str:
    path = tmp_path / "secret.jsonl"
    path.write_bytes(GOOD.read_bytes())
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as a user who reads any file (root)")
    return str(path)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: "nope.jsonl", "no such file or directory"),
        (lambda tmp: str(tmp), "it is a directory, not a regular file"),
        (_fifo, "it is a named pipe, not a regular file"),
        (lambda tmp: "/dev/zero", "it is a device, not a regular file"),
        (_unreadable, "permission denied"),
    ],
    ids=["missing", "directory", "fifo", "dev-zero", "unreadable"],
)
def test_import_refuses_what_is_not_a_readable_file(home, tmp_path, make, reason):
    name = make(tmp_path)
    result = invoke("import", name)
    assert result.exit_code == 1
    assert result.output == f"Error: cannot import {name}: {reason}\n"
    assert not (home / "regwatch.db").exists()


def test_import_rejects_bad_bytes_and_bad_types_and_stores_the_rest(home, tmp_path):
    good = GOOD.read_bytes().splitlines()
    record = json.loads(good[0])
    hostile = [
        good[0][:30] + b"\xff\xfe" + good[0][30:],
        *(
            json.dumps({**record, "document_number": f"X-{n}", **change}).encode()
            for n, change in enumerate(
                [
                    {"title": 1984},
                    {"agencies": "BIS"},
                    {"agencies": ["BIS"]},
                    {"title": ["a"]},
                    {"effective_on": "2024-W01-1"},
                    {"cfr_references": [{"title": "x"}]},
                ],
                start=1,
            )
        ),
        *good[1:],
    ]
    path = tmp_path / "synthetic-hostile.jsonl"
    path.write_bytes(b"\n".join(hostile) + b"\n")
    result = CliRunner().invoke(main, ["import", str(path)])
    assert result.exit_code == 1
    assert "10 new, 0 changed, 0 unchanged, 6 rejected" in result.output
    for expected in [
        "line 1: not UTF-8 (byte 0xff at byte 31)",
        "line 3: agencies must be a list, got string",
        "line 4: agencies[0] must be an object, got string",
        "line 5: title must be text or a whole number, got list",
        "line 6: effective_on is not an ISO date (YYYY-MM-DD): '2024-W01-1'",
        "line 7: cfr_references[0].title must be a whole number, got 'x'",
    ]:
        assert expected in result.output
    assert error_line(result) == f"Error: 6 lines of {path} were rejected"
    shown = json.loads(invoke("search", "1984", "--format", "json").output)
    assert [(hit["source_id"], hit["title"]) for hit in shown] == [("X-1", "1984")]


def test_search_formats(home):
    invoke("import", str(GOOD))
    hits = json.loads(invoke("search", "temporary denial", "--format", "json").output)
    assert isinstance(hits, list) and hits
    assert {"source_id", "title", "publication_date", "score", "snippet", "tags"} <= set(hits[0])
    assert "<b>" in hits[0]["snippet"].lower()
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    csv_out = invoke("search", "temporary denial", "--format", "csv").output.splitlines()
    assert csv_out[0].startswith("publication_date,source,source_id")
    assert len(csv_out) == len(hits) + 1
    table = invoke("search", "temporary denial")
    assert table.exit_code == 0 and "2023-18772" in table.output


def test_search_output_writes_csv_and_json_to_the_file(home, tmp_path):
    """`--format csv --output FILE` printed the CSV and wrote no file, saying nothing."""
    invoke("import", str(GOOD))
    printed = invoke("search", "temporary denial", "--format", "csv").output
    for kind in ("csv", "json"):
        target = tmp_path / f"hits.{kind}"
        result = invoke("search", "temporary denial", "--format", kind, "--output", str(target))
        assert result.exit_code == 0, result.output
        assert result.output.startswith("wrote ") and result.output.endswith(f"to {target}\n")
        assert target.exists(), kind
    assert (tmp_path / "hits.csv").read_text(encoding="utf-8") == printed
    assert json.loads((tmp_path / "hits.json").read_text(encoding="utf-8"))
    table = invoke("search", "denial", "--output", str(tmp_path / "hits.txt"))
    assert table.exit_code == 2
    assert "Error: --output FILE needs --format csv, json, xlsx or parquet" in table.output


def test_search_limit_and_no_match(home):
    invoke("import", str(GOOD))
    assert (
        len(json.loads(invoke("search", "export", "--limit", "2", "--format", "json").output)) == 2
    )
    assert invoke("search", "zzzqqq").output.strip() == "no matches"
    assert invoke("search", "export", "--limit", "0").exit_code == 2


@pytest.mark.parametrize("query", ['"entity list', "-export", "", "ex*"])
def test_bad_query_is_one_error_line(home, query):
    invoke("import", str(GOOD))
    result = CliRunner().invoke(main, ["search", "--", query])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    error_line(result)


def test_reindex_rebuilds_a_lost_index(home):
    invoke("import", str(GOOD))
    shutil.rmtree(home / "index")
    result = invoke("reindex")
    assert result.exit_code == 0
    # the progress bar is for a terminal: a log (cron's `>> run.log 2>&1`) got an empty line
    assert result.output == "reindexed 10 documents\n"
    assert json.loads(invoke("search", "entity list", "--format", "json").output)


def test_corrupt_database_is_one_line_and_left_alone(home):
    home.mkdir(parents=True)
    garbage = b"this is not a database" * 100
    (home / "regwatch.db").write_bytes(garbage)
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 1
    error_line(result)
    assert (home / "regwatch.db").read_bytes() == garbage


def test_crawl_unknown_source(home):
    result = CliRunner().invoke(main, ["crawl", "--source", "nowhere"])
    assert result.exit_code == 1
    assert "nowhere" in error_line(result)


def test_crawl_bad_date_is_a_usage_error(home):
    result = invoke("crawl", "--since", "2024-13-01")
    assert result.exit_code == 2
    assert "2024-13-01" in result.output


def test_tag_input_needs_output(home):
    result = invoke("tag", "--input", str(GOOD))
    assert result.exit_code == 2
    assert "--input and --output go together" in result.output


def test_tag_the_archive_then_filter_search_by_tag(home):
    invoke("import", str(GOOD))
    first = invoke("tag")
    assert first.exit_code == 0, first.output
    assert re.search(
        r"tagged 10 documents with model \S+: ai \d+, .*export_control \d+", first.output
    )
    assert "tagged 0 documents" in invoke("tag").output
    assert "tagged 10 documents" in invoke("tag", "--retag").output
    hits = json.loads(invoke("search", "rule", "--tag", "ai", "--format", "json").output)
    assert hits and all("ai" in hit["tags"] for hit in hits)
    assert "2023-24283" not in {hit["source_id"] for hit in hits}  # an executive order, no "rule"
    status = invoke("status").output
    assert "documents: 10 (10 tagged, 0 with stale tags)" in status


def test_tag_input_output_without_archive(home, tmp_path):
    out = tmp_path / "tagged.jsonl"
    result = invoke("tag", "--input", str(GOOD), "--output", str(out))
    assert result.exit_code == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 10
    by_number = {line["document_number"]: line for line in lines}
    assert "export_control" in by_number["2023-18772"]["tags"]
    assert "ai" in by_number["2023-24283"]["tags"]
    assert not (home / "regwatch.db").exists()


def _outputs(target: Path) -> dict[str, list[str]]:
    """Every command writing an `--output`, by format, writing `target`."""
    search = ["search", "entity", "--output", str(target), "--format"]
    formats = {kind: [*search, kind] for kind in ("csv", "json", "xlsx", "parquet")}
    return formats | {"tag": ["tag", "--input", str(GOOD), "--output", str(target)]}


@pytest.mark.parametrize(
    "victim",
    [
        "regwatch.db",
        "regwatch.db-wal",
        "index/meta.json",
        "index.lock",
        "link-to-db",
        "hard-link-to-db",
        "hard-link-to-index",
    ],
)
def test_an_export_or_tagged_file_never_replaces_the_archive(home, tmp_path, victim):
    """`--output` naming the archive's database (a slip of the tab key), a file SQLite keeps
    beside it, its index or a lock, a link to one or another name of the same file (a hard link,
    as `cp -l` backups make: xlsx wrote into it, and the database became a worksheet): refused
    in one line, the archive whole."""
    assert invoke("import", str(GOOD)).exit_code == 0
    (tmp_path / "link-to-db").symlink_to(home / "regwatch.db")
    os.link(home / "regwatch.db", tmp_path / "hard-link-to-db")
    os.link(home / "index" / "meta.json", tmp_path / "hard-link-to-index")
    target = (tmp_path if "link" in victim else home) / victim
    archive = [home / "regwatch.db", home / "index" / "meta.json"]
    before = [path.read_bytes() for path in archive]
    for args in _outputs(target).values():
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        assert result.output == (
            f"Error: cannot write {target}: it is part of the archive in {home}\n"
        )
    assert [path.read_bytes() for path in archive] == before
    assert "10 documents" in invoke("status").output


def _pipe(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "pipe.csv")
    return tmp_path / "pipe.csv"


def _link_to_pipe(tmp_path: Path) -> Path:
    (tmp_path / "latest.csv").symlink_to(_pipe(tmp_path))
    return tmp_path / "latest.csv"


def _device(tmp_path: Path) -> Path:
    """A character device: a /dev/null of its own where mknod is permitted, else a link to the
    real one (only the link is at risk then)."""
    path = tmp_path / "null.csv"
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        path.symlink_to("/dev/null")
    return path


@pytest.mark.parametrize(
    ("make", "kind", "still"),
    [
        (_pipe, "a named pipe", stat.S_ISFIFO),
        (_link_to_pipe, "a named pipe", stat.S_ISFIFO),
        (_device, "a device", stat.S_ISCHR),
    ],
    ids=["pipe", "link-to-pipe", "device"],
)
def test_every_output_refuses_what_is_not_a_regular_file(home, tmp_path, make, kind, still):
    """The file written was renamed over the output: a named pipe a reader waited on, a device
    (as root: /dev/null, /dev/full, whose full disk then read as success, and /dev/stdout, a
    link) became a regular file, and `search` said `wrote 3 of 10 results to` it."""
    assert invoke("import", str(GOOD)).exit_code == 0
    target = make(tmp_path)
    linked = target.is_symlink()
    for name, args in _outputs(target).items():
        result = CliRunner().invoke(main, args)
        assert (result.exit_code, result.output) == (
            1,
            f"Error: cannot write {target}: it is {kind}, not a regular file\n",
        ), name
        assert still(os.stat(target).st_mode) and target.is_symlink() == linked, name


def test_every_output_refuses_a_file_or_folder_it_may_not_write(home, tmp_path):
    """A write-protected (0444) output was replaced all the same (a rename asks only the
    folder), and one in a write-protected folder named the temporary file in its error."""
    skip_unless_file_modes_bind()
    assert invoke("import", str(GOOD)).exit_code == 0
    kept = tmp_path / "kept.csv"
    kept.write_text("precious\n", encoding="utf-8")
    kept.chmod(0o444)
    (tmp_path / "locked").mkdir(mode=0o555)
    for target in (kept, tmp_path / "locked" / "new.csv"):
        for name in ("csv", "xlsx", "tag"):
            done = run_readonly(home, *_outputs(target)[name])
            assert (done.returncode, done.stdout, done.stderr) == (
                1,
                "",
                f"Error: cannot write {target}: permission denied\n",
            ), name
    assert kept.read_text(encoding="utf-8") == "precious\n"
    assert os.listdir(tmp_path / "locked") == []


def test_an_output_link_is_followed(home, tmp_path):
    """A symbolic link's target is written, the link kept (`search` replaced the link with a
    file, its target left stale), and the file written keeps the permissions it had (it was made
    anew, readable by its owner only)."""
    assert invoke("import", str(GOOD)).exit_code == 0
    target, link = tmp_path / "shared" / "latest", tmp_path / "latest"
    target.parent.mkdir()
    link.symlink_to(target)
    for name, args in _outputs(link).items():
        if name == "parquet" and not importlib.util.find_spec("pyarrow"):
            continue
        target.write_text("stale\n", encoding="utf-8")
        target.chmod(0o644)
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert link.is_symlink() and target.read_bytes() != b"stale\n", name
        assert target.stat().st_mode & 0o777 == 0o644, name
    assert len(target.read_text(encoding="utf-8").splitlines()) == 10  # tag wrote it last


class _FillingUp:
    """A file on a disk that fills up: the first write keeps half its bytes, then ENOSPC."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._stream.close()

    def write(self, data) -> int:
        self._stream.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A folder and `fill()`, which fills its disk: a 256 KiB tmpfs where `mount` works (root
    allowed to mount), else a disk simulated by every file opened to be written there after."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)]
    mounted = shutil.which("mount") and subprocess.run(mount, capture_output=True).returncode == 0

    def fill() -> None:
        if not mounted:
            opened = os.fdopen
            monkeypatch.setattr(os, "fdopen", lambda *a, **k: _FillingUp(opened(*a, **k)))
            return
        with contextlib.suppress(OSError), open(folder / "filler", "wb") as filler:
            while True:
                filler.write(bytes(4096))
                filler.flush()

    try:
        yield folder, fill
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_leaves_the_previous_output_whole(home, small_disk):
    """xlsx was written into the output itself: a full disk left the previous file cut short
    (no longer a zip), and a traceback followed the Error line. Every format is written beside
    it and renamed only when whole."""
    folder, fill = small_disk
    assert invoke("import", str(GOOD)).exit_code == 0
    kinds = ["csv", "json", "xlsx", "tag"] + ["parquet"] * bool(importlib.util.find_spec("pyarrow"))
    for kind in kinds:
        args = _outputs(folder / f"kept.{kind}")[kind]
        assert invoke(*args, *(["--limit", "1"] if kind != "tag" else [])).exit_code == 0
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    fill()
    listing = sorted(os.listdir(folder))
    for kind in kinds:
        result = CliRunner().invoke(main, _outputs(folder / f"kept.{kind}")[kind])
        assert (result.exit_code, result.output) == (
            1,
            f"Error: [Errno {errno.ENOSPC}] {os.strerror(errno.ENOSPC)}\n",
        ), kind
        assert sorted(os.listdir(folder)) == listing, kind  # no temporary file left
    assert {name: (folder / name).read_bytes() for name in before} == before


def test_eval_prints_tagger_beside_baseline(home):
    result = invoke("eval", str(REPO / "data" / "fr_labeled_dev.jsonl"), "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert "baseline" in json.dumps(report)


def test_run_crawls_tags_and_writes_the_digest(home, replay_server):
    result = invoke(
        "run", "--base-url", replay_server, "--since", "2023-10-23", "--until", "2023-10-27"
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"crawled federal_register 2023-10-23 to 2023-10-27: \d+ new", result.output)
    (line,) = [ln for ln in result.output.splitlines() if ln.startswith("digest written to ")]
    path = Path(line.removeprefix("digest written to "))
    assert "alerts: 0 sent" in result.output  # no route configured
    page = path.read_text(encoding="utf-8")
    assert "Export Controls on Semiconductor Manufacturing Items" in page
    assert "Export control because" in page
    again = invoke(
        "run", "--base-url", replay_server, "--since", "2023-10-23", "--until", "2023-10-27"
    )
    assert ": 0 new, 0 changed" in again.output
    assert "tagged 0 documents" in again.output


def test_the_configured_federal_register_url_serves_public_inspection_too(home, tmp_path, replay):
    """`sources.federal_register.base_url` is the API's: a crawl of public inspection (and the
    full-text fetch) went to www.federalregister.gov, whatever the file said."""
    server = replay()
    config = f'{FR_ONLY}[sources.federal_register]\nbase_url = "{server.url}"\n'
    (tmp_path / "regwatch.toml").write_text(config, encoding="utf-8")
    result = invoke(
        "crawl", "--source", "federal_register_pi", "--since", "2026-09-29", "--until", "2026-09-29"
    )
    assert result.exit_code == 0, result.output
    assert any("public-inspection-documents.json" in target for target in server.requests)


def test_failed_crawl_exits_1_and_keeps_the_watermark(home, replay):
    server = replay("first-malformed-json")
    result = CliRunner().invoke(
        main, ["crawl", "--base-url", server.url, "--since", "2023-10-23", "--until", "2023-10-27"]
    )
    assert result.exit_code == 1
    assert "FAILED" in result.output
    assert "malformed JSON" in error_line(result)
    assert "watermark none" in invoke("status").output


def test_a_changed_threshold_retags_the_archive(home, tmp_path):
    invoke("import", str(GOOD))
    assert "tagged 10 documents" in invoke("tag").output
    (tmp_path / "regwatch.toml").write_text("[tagging]\nthreshold_ai = 0.99\n", encoding="utf-8")
    stricter = invoke("tag")
    assert "tagged 10 documents" in stricter.output
    assert "ai" not in re.findall(r"(\w+) \d+", stricter.output.split(": ", 1)[1])


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("digest", "--until", "9999-12-31"), "date value out of range"),
        (("digest", "--until", "0001-01-01"), "date value out of range"),
        (("digest", "--week", "9999-W52"), "date value out of range"),
    ],
    ids=["until-9999", "until-0001", "week-9999"],
)
def test_a_value_past_the_calendar_or_sqlite_is_one_line(home, args, reason):
    """Dates at the calendar's ends and numbers past SQLite's were OverflowError tracebacks (a
    `--limit` past SQLite's is now a usage error: `test_a_limit_out_of_range_is_a_usage_error`)."""
    assert invoke("import", str(GOOD)).exit_code == 0
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1
    assert error_line(result) == f"Error: out of range: {reason}"


@pytest.mark.parametrize(
    ("argument", "shown"),
    [(b"ai\xff", "'ai\\xff'"), (b"a\xed\xa0\x80", "'a\\xed\\xa0\\x80'")],
)
@pytest.mark.parametrize("command", ["search", "show"])
def test_an_argument_that_is_not_utf8_is_named_in_one_line(home, command, argument, shown):
    """A query typed in a Latin-1 terminal reached the archive as bytes Python cannot encode:
    `Error: 'utf-8' codec can't encode character '\\udcff' in position 2: surrogates not
    allowed`. The line now says what is wrong and shows the bytes as the user typed them."""
    invoke("import", str(GOOD))
    run = subprocess.run(
        [sys.executable, "-c", "from regwatch.cli import main; main()", command.encode(), argument],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert run.returncode == 1
    assert run.stdout == b""
    assert run.stderr.decode() == f"Error: not valid UTF-8 text: {shown}\n"
