"""Sending the digest to a real SMTP server (aiosmtpd on 127.0.0.1) through `regwatch digest`:
the message read back, once per period and list, --force, late items, changes, refusals."""

import json
import re
import sqlite3

import pytest
from click.testing import CliRunner

from archive import Archive
from regwatch.cli import main
from regwatch.importer import import_records


@pytest.fixture
def home(tmp_path, monkeypatch, smtp):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REGWATCH_CONFIG", raising=False)
    monkeypatch.delenv("REGWATCH_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("REGWATCH_HOME", str(tmp_path / "home"))
    (tmp_path / "regwatch.toml").write_text(
        f"[mail]\nhost = '127.0.0.1'\nport = {smtp[1]}\nsecurity = 'none'\ntimeout = 5\n"
        "from = 'regwatch@example.org'\n"
        "[[digest.lists]]\nname = 'team'\nto = ['eng@y.example', 'law@y.example']\n"
        "cc = ['boss@y.example']\n",
        encoding="utf-8",
    )
    return tmp_path / "home"


def add(home, number: str, day: str, title: str, tags: list[str], abstract: str = "EAR.") -> None:
    record = {
        "document_number": number,
        "title": title,
        "publication_date": day,
        "abstract": abstract,
        "html_url": f"https://www.federalregister.gov/d/{number}",
    }
    with Archive.open(home) as archive:
        assert not import_records(archive, [json.dumps(record)]).rejected
        for batch in archive.documents_to_tag("t"):
            archive.store_tags(
                [
                    (item, {"tags": tags, "dates": {"comments_close_on": "2026-12-01"}})
                    for item in batch
                ],
                "t",
            )


def correct(home) -> None:
    """Store a corrected version of 2026-10001 (Entity List additions)."""
    add(
        home,
        "2026-10001",
        "2026-11-17",
        "Entity List additions",
        ["export_control"],
        abstract="EAR. Correction: one more entity.",
    )


def digest(*args: str):
    return CliRunner().invoke(main, ["digest", *args], catch_exceptions=False)


def error_line(result) -> str:
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ")
    return last


def test_digest_mail_once_per_period_force_late_and_changes(home, smtp):
    receiver, _ = smtp
    add(home, "2026-10001", "2026-11-17", "Entity List additions", ["export_control"])
    add(home, "2026-10002", "2026-11-19", "AI model weights rule", ["ai", "export_control"])
    add(home, "2026-20000", "2026-11-20", "Fisheries notice", [])
    with Archive.open(home) as archive:
        archive.log_crawl(
            "federal_register",
            started_at="2026-11-18T07:00:00Z",
            finished_at="2026-11-18T07:02:00Z",
            ok=False,
            stats={},
        )

    first = digest("--week", "2026-W47", "--send")
    assert first.exit_code == 0, first.output
    assert "sent to list team" in first.output
    assert len(receiver.messages) == 1
    msg = receiver.messages[0]
    assert msg["Subject"] == (
        "regwatch digest 2026-W47: 2 on AI or export control (may be incomplete)"
    )
    assert (msg["From"], msg["To"], msg["Cc"]) == (
        "regwatch@example.org",
        "eng@y.example, law@y.example",
        "boss@y.example",
    )
    assert sorted(receiver.envelopes[0]) == ["boss@y.example", "eng@y.example", "law@y.example"]
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Entity List additions" in part and "AI model weights rule" in part
        assert "Fisheries notice" not in part
        assert "1 crawl failed between 2026-11-16 and 2026-11-22" in part
        assert "2026-12-01" in part and "comments close" in part
    assert "THIS DIGEST MAY BE INCOMPLETE" in text
    assert "This digest may be incomplete." in html

    again = digest("--week", "2026-W47", "--send")
    assert again.exit_code == 0 and "list team was sent this period on" in again.output
    assert "; not sent again (--force sends it again)" in again.output
    assert len(receiver.messages) == 1
    forced = digest("--week", "2026-W47", "--send", "--force")
    assert forced.exit_code == 0 and len(receiver.messages) == 2
    assert "Entity List additions" in receiver.messages[1].get_body(("plain",)).get_content()

    # Stored after W47 was sent: a late W47 document and a correction of one already sent.
    add(home, "2026-10003", "2026-11-18", "Late export rule", ["export_control"])
    correct(home)
    add(home, "2026-10004", "2026-11-24", "Next week's AI rule", ["ai"])
    nxt = digest("--week", "2026-W48", "--send")
    assert nxt.exit_code == 0, nxt.output
    w48 = receiver.messages[-1].get_body(("plain",)).get_content()
    assert "[late] Late export rule" in w48
    assert "Next week's AI rule" in w48
    changes = w48[w48.index("== Changes and corrections ==") : w48.index("== Upcoming")]
    assert "[changed since sent: version 1 -> 2] Entity List additions" in changes
    assert "AI model weights rule" not in w48[: w48.index("== Upcoming")]  # sent in W47
    assert "2026-12-01  comments close: AI model weights rule" in w48  # a reminder, not an item
    assert receiver.messages[-1]["Subject"] == (
        "regwatch digest 2026-W48: 2 on AI or export control, 1 late, 1 changed (may be incomplete)"
    )

    w49 = digest("--week", "2026-W49", "--send")
    assert w49.exit_code == 0
    body = receiver.messages[-1].get_body(("plain",)).get_content()
    for title in ("Late export rule", "Entity List additions", "Next week's AI rule"):
        assert title not in body  # each document in exactly one sent digest
    assert "Nothing was tagged AI or export control this period" in body

    status = CliRunner().invoke(main, ["status"])
    assert "digest list team: last sent 2026-11-30 to 2026-12-06 on " in status.output
    with Archive.open(home) as archive:
        assert archive.sent_digest("team", "2026-11-23", "2026-11-29").items == 3


HIDDEN = "".join(
    f"{c}\U000e0041"
    for c in "\u200b\u2060\ufeff\u180e\u2061\u206a\ufff9\ufffa\ufffb\U000e0001\U000e007f"
)  # each invisible format character once, then a tag letter (an invisible "A")


def test_invisible_characters_and_hidden_tag_text_in_a_title_never_reach_the_reader(home, smtp):
    """Tag characters carry text no reader sees ("ASCII smuggling": `\U000e0041` is an invisible
    "A"), and a zero-width space or word joiner inside a docket number makes the copy an analyst
    pastes into a search find nothing. Both parts of the mailed digest show what the title shows."""
    receiver, _ = smtp
    title = f"Entity List additions{HIDDEN}; docket BIS-\u200b2026-\u20600001"
    add(home, "2026-10001", "2026-11-17", title, ["export_control"])
    assert digest("--week", "2026-W47", "--send").exit_code == 0
    (msg,) = receiver.messages
    for part in ("plain", "html"):
        shown = msg.get_body((part,)).get_content()
        assert "Entity List additions; docket BIS-2026-0001" in shown
        assert not set(HIDDEN) & set(shown)


def test_a_digest_holding_long_words_is_sent_in_lines_mail_servers_take(home, smtp):
    """SYNTHETIC: a title of one 9,000-letter word. The encoded body went out in quoted-printable
    lines of up to 998 characters, where RFC 2045 allows 76 (spam filters score longer ones);
    the Subject stays one unfolded line."""
    receiver, _ = smtp
    title = "Entity List additions " + "x" * 9_000
    add(home, "2026-10001", "2026-11-17", title, ["export_control"])
    assert digest("--week", "2026-W47", "--send").exit_code == 0
    (raw,) = receiver.raw
    head, _, body = raw.partition(b"\r\n\r\n")
    assert max(map(len, body.split(b"\r\n"))) <= 76
    (subject,) = [line for line in head.split(b"\r\n") if line.startswith(b"Subject: ")]
    assert subject.decode() == f"Subject: {receiver.messages[0]['Subject']}"
    for part in ("plain", "html"):
        assert title in receiver.messages[0].get_body((part,)).get_content()


def test_a_refused_send_exits_1_is_not_recorded_and_is_retried(home, smtp):
    receiver, _ = smtp
    add(home, "2026-10001", "2026-11-17", "Entity List additions", ["export_control"])
    receiver.data_replies = ["451 4.3.0 Try again later"]
    failed = digest("--week", "2026-W47", "--send")
    assert error_line(failed) == (
        "Error: digest for list team not sent: SMTP error 451: 4.3.0 Try again later"
    )
    assert "never sent" in CliRunner().invoke(main, ["status"]).output
    retried = digest("--week", "2026-W47", "--send")
    assert retried.exit_code == 0 and len(receiver.messages) == 1
    assert "Entity List additions" in receiver.messages[0].get_body(("plain",)).get_content()


def test_a_digest_accepted_before_quit_fails_is_sent_and_recorded_once(home, smtp):
    """The server took the message (250 after DATA), then answered QUIT with an error: the
    digest was delivered, so it is recorded, and the next run does not send it again."""
    receiver, _ = smtp
    add(home, "2026-10001", "2026-11-17", "Entity List additions", ["export_control"])
    receiver.quit_reply = "421 4.3.2 Service shutting down"
    first = digest("--week", "2026-W47", "--send")
    assert first.exit_code == 0, first.output
    assert "sent to list team" in first.output
    again = digest("--week", "2026-W47", "--send")
    assert again.exit_code == 0 and "list team was sent this period on" in again.output
    assert "; not sent again (--force sends it again)" in again.output
    assert len(receiver.messages) == 1


def test_a_digest_the_server_never_answered_is_maybe_sent_and_resent_only_with_force(
    home, tmp_path, smtp
):
    receiver, _ = smtp
    Archive.open(home).close()
    config = tmp_path / "regwatch.toml"
    config.write_text(config.read_text().replace("timeout = 5", "timeout = 1"))
    receiver.data_delay = 3  # the whole message arrived; the answer comes after the timeout
    failed = digest("--week", "2026-W47", "--send")
    assert error_line(failed).startswith(
        "Error: digest for list team may not have been sent: no answer from 127.0.0.1:"
    )
    assert error_line(failed).endswith(": it may have arrived; not sent again without --force")
    receiver.data_delay = 0
    maybe = ", MAYBE NOT DELIVERED: the mail server never answered it"
    assert status_line().endswith(f" (0 items){maybe}")
    again = digest("--week", "2026-W47", "--send")
    assert "list team was sent this period on" in again.output and len(receiver.messages) == 1
    assert f"{maybe}; not sent again (--force sends it again)" in again.output
    assert digest("--week", "2026-W47", "--send", "--force").exit_code == 0
    assert len(receiver.messages) == 2
    assert status_line().endswith(" items)")  # the forced send was answered: surely sent


def status_line() -> str:
    """The line of `regwatch status` about the digest list `team`."""
    output = CliRunner().invoke(main, ["status"]).output
    return next(line for line in output.splitlines() if line.startswith("digest list team: "))


@pytest.mark.parametrize("refused", ["law@y.example", "boss@y.example"])
def test_one_refused_recipient_fails_the_send(home, smtp, refused):
    """The others got it first: the retry goes to the refused address alone (To or Cc), with
    the headers of the first send. A Cc's retry went with an empty To header and `RCPT TO:<>`,
    which the server refused (501): a delivered digest reported "not sent"."""
    receiver, _ = smtp
    add(home, "2026-10001", "2026-11-17", "Entity List additions", ["export_control"])
    receiver.refuse = {refused}
    failed = digest("--week", "2026-W47", "--send")
    assert error_line(failed) == (
        "Error: digest for list team not sent: SMTP refused some recipients: "
        f"{refused} (550 5.1.1 no such user)"
    )
    status = CliRunner().invoke(main, ["status"]).output  # said "last sent" and no more
    assert f"(1 items); NOT yet to {refused} (the next `digest --send` of it retries)" in status
    receiver.refuse = set()
    retried = digest("--week", "2026-W47", "--send")
    assert retried.exit_code == 0, retried.output
    assert "NOT yet to" not in CliRunner().invoke(main, ["status"]).output
    everyone = ["eng@y.example", "law@y.example", "boss@y.example"]
    assert receiver.envelopes == [[a for a in everyone if a != refused], [refused]]
    headers = [(m["To"], m["Cc"], m["Message-ID"]) for m in receiver.messages]
    assert headers[0][:2] == ("eng@y.example, law@y.example", "boss@y.example")
    assert headers[1] == headers[0]
    again = digest("--week", "2026-W47", "--send")
    assert "list team was sent this period on" in again.output and len(receiver.messages) == 2


def test_send_needs_the_password_variable_when_a_user_is_set(home, tmp_path, smtp):
    config = tmp_path / "regwatch.toml"
    config.write_text(config.read_text().replace("timeout = 5", "timeout = 5\nuser = 'me'"))
    failed = digest("--week", "2026-W47", "--send")
    assert "mail.user is set but environment variable REGWATCH_SMTP_PASSWORD is empty" in (
        error_line(failed)
    )
    assert smtp[0].messages == []


def test_unreachable_server_and_unknown_list_are_one_line(home, tmp_path):
    Archive.open(home).close()  # an archive with nothing of the week: a digest is sent all the same
    config = tmp_path / "regwatch.toml"
    text = config.read_text()
    port = text.split("port = ")[1].split("\n")[0]
    config.write_text(text.replace(f"port = {port}", "port = 1"))
    failed = digest("--week", "2026-W47", "--send")
    assert "cannot send by SMTP via 127.0.0.1:1:" in error_line(failed)
    assert "digest.lists has no list named 'legal'" in error_line(digest("--list", "legal"))
    both = digest("--week", "2026-W47", "--days", "3")
    assert "give either --week or --until/--days, not both" in error_line(both)


def test_a_digest_whose_files_cannot_be_written_is_still_e_mailed(home, tmp_path, smtp):
    """The digest folder could not be written (a full disk, a path under a file): the digest was
    not e-mailed either, and each retry run failed the same way all week. The mail never waits
    on a file now: it is sent and recorded, and the command still fails naming the files."""
    receiver, _ = smtp
    add(home, "2026-10001", "2026-11-17", "Entity List additions", ["export_control"])
    (tmp_path / "blocked").write_text("a file where the digest folder should be\n")
    config = tmp_path / "regwatch.toml"
    outdir = f"[digest]\noutput_dir = '{tmp_path / 'blocked' / 'digests'}'\n"
    config.write_text(outdir + config.read_text(encoding="utf-8"), encoding="utf-8")
    first = digest("--week", "2026-W47", "--send")
    assert error_line(first).startswith(
        "Error: the digest was e-mailed, but its files were not written: [Errno 20] Not a directory"
    )
    assert "sent to list team" in first.output
    assert len(receiver.messages) == 1
    assert "Entity List additions" in receiver.messages[0].get_body(("plain",)).get_content()
    again = digest("--week", "2026-W47", "--send")
    assert "list team was sent this period on" in again.output and len(receiver.messages) == 1


@pytest.mark.parametrize(
    ("line", "failure"),
    [
        ("{{ 1/0 }}", "ZeroDivisionError: division by zero"),
        ('{{ "a" + 1 }}', 'TypeError: can only concatenate str (not "int") to str'),
        ('{{ "x"|truncate(-5) }}', "AssertionError: expected length >= 3, got -5"),
        (
            "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
            "RecursionError: maximum recursion depth exceeded",
        ),
    ],
    ids=["zero-division", "type", "assertion", "recursion"],
)
def test_a_custom_template_that_raises_is_one_line_and_nothing_is_sent(
    home, tmp_path, smtp, line, failure
):
    """A Python error in a team's template printed a traceback (only Jinja's own errors were
    one line); now it is one line naming the template file and line, and nothing is sent."""
    receiver, _ = smtp
    add(home, "2026-10001", "2026-11-17", "Entity List additions", ["export_control"])
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "digest.txt").write_text(f"Digest {{{{ digest.period.label }}}}\n{line}\n")
    config = tmp_path / "regwatch.toml"
    setting = f"[digest]\ntemplates_dir = '{templates}'\n"
    config.write_text(setting + config.read_text(encoding="utf-8"), encoding="utf-8")
    failed = digest("--week", "2026-W47", "--send")
    assert error_line(failed).startswith(
        f"Error: digest template error ({templates / 'digest.txt'}:2): {failure}"
    )
    assert "Traceback" not in failed.output and receiver.messages == []
    assert status_line() == "digest list team: never sent"


@pytest.mark.parametrize("cell", ['["eng@y.example", "law', '{"eng@y.example": 1}', '[1, ["x"]]'])
def test_a_damaged_recipients_cell_resends_to_the_list_and_is_named(home, smtp, cell):
    """A digest log row whose recipients cannot be read (damaged or hand-edited) stopped every
    send and `regwatch status`; now it reached nobody known: the list gets the digest again
    (rather than never), and status names the row."""
    receiver, _ = smtp
    add(home, "2026-10001", "2026-11-17", "Entity List additions", ["export_control"])
    assert digest("--week", "2026-W47", "--send").exit_code == 0
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.execute("UPDATE digests_sent SET recipients = ?", (cell,))
    again = digest("--week", "2026-W47", "--send")
    assert again.exit_code == 0, again.output
    assert "sent to list team" in again.output
    assert sorted(receiver.envelopes[1]) == ["boss@y.example", "eng@y.example", "law@y.example"]
    status = CliRunner().invoke(main, ["status"])
    assert status.exit_code == 0, status.output
    damaged = [line for line in status.output.splitlines() if "cannot be read" in line]
    assert len(damaged) == 1
    assert damaged[0].startswith("digest list team: 2026-11-16 to 2026-11-22 sent on ")
    assert damaged[0].endswith(
        ": its recipients cannot be read (damaged or hand-edited), so the list may get that "
        "digest again"
    )
    assert digest("--week", "2026-W47", "--send").exit_code == 0
    assert len(receiver.messages) == 2  # the new row holds who got it: not sent a third time


def test_a_digest_sent_but_not_recorded_is_resent_as_the_same_message(home, smtp):
    """The process died (or the disk filled) between the server taking the digest and the
    digest log's write: the next run sends it again. The resend now carries the same
    Message-ID, so mail clients and servers take it for the same message; a corrected digest
    of the same period is a new message."""
    receiver, _ = smtp
    add(home, "2026-10001", "2026-11-17", "Entity List additions", ["export_control"])

    def sent_unrecorded() -> str:
        assert digest("--week", "2026-W47", "--send").exit_code == 0
        with sqlite3.connect(home / "regwatch.db") as conn:  # as the crash left it
            conn.execute("DELETE FROM digest_items")
            conn.execute("DELETE FROM digests_sent")
        return receiver.messages[-1]["Message-ID"]

    first, again = sent_unrecorded(), sent_unrecorded()
    assert first == again
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.org>", first)
    correct(home)
    corrected = sent_unrecorded()
    assert corrected != first
    assert digest("--week", "2026-W48", "--send").exit_code == 0
    assert receiver.messages[-1]["Message-ID"] not in (first, corrected)
