"""Atom feeds per route and the key-dates calendar, read back with feedparser and icalendar."""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import subprocess
import sys
from dataclasses import replace
from datetime import date

import feedparser
import pytest
from icalendar import Calendar

from archive import Archive, RouteFilter
from digests.feeds import write_feeds
from tests.test_alerts import publication, seed, tag_all

HOSTILE = "@everyone <script>alert(1)</script> {{ x }} AT&T <!channel>\x0b"
DATES = {"comments_close_on": "2023-12-01", "effective_on": "2023-11-16"}


def full_disk(real_open):
    """`io.open` whose files opened for writing refuse every write, as on a full disk."""

    class Refusing:
        def __init__(self, opened):
            self.opened = opened

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.opened.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    def opening(file, mode="r", *args, **kwargs):
        opened = real_open(file, mode, *args, **kwargs)
        return Refusing(opened) if "w" in mode else opened

    return opening


def build(tmp_path, title=HOSTILE):
    home = tmp_path / "home"
    seed(home, [publication("2023-23055", title)])
    with Archive.open(home) as archive:
        archive.store([publication("2023-23055", title, dates="Comments by December 1.")])
        tag_all(archive, [RouteFilter("team")], dates=DATES)
        return write_feeds(archive, ["team"], tmp_path / "feeds", date(2023, 11, 1))


def test_atom_feed_reads_back_with_one_stable_entry_per_document(tmp_path):
    atom, ics = build(tmp_path)
    parsed = feedparser.parse(atom.read_bytes())
    assert not parsed.bozo and parsed.version == "atom10"
    (entry,) = parsed.entries  # the new alert and its update: one entry, the newest
    assert entry.id == "tag:regwatch.invalid,2026:alerts/team/federal_register/2023-23055"
    assert entry.title.startswith("Updated: @everyone <script>")  # feedparser unescapes titles
    assert "<script>" not in atom.read_text() and "&lt;script&gt;" in atom.read_text()
    assert entry.link == "https://www.federalregister.gov/d/2023-23055"
    assert "comments close 2023-12-01" in entry.summary
    first = atom.read_bytes()
    with Archive.open(tmp_path / "home") as archive:
        write_feeds(archive, ["team"], tmp_path / "feeds", date(2023, 11, 1))
    assert atom.read_bytes() == first  # deterministic


def test_calendar_reads_back_with_stable_uids(tmp_path):
    _, ics = build(tmp_path)
    cal = Calendar.from_ical(ics.read_bytes())
    events = {str(e["UID"]): e for e in cal.events}
    assert set(events) == {
        "2023-23055-comments_close_on@regwatch",
        "2023-23055-effective_on@regwatch",
    }
    deadline = events["2023-23055-comments_close_on@regwatch"]
    assert not deadline.errors
    assert deadline.start == date(2023, 12, 1)
    assert int(deadline["SEQUENCE"]) == 2
    assert str(deadline["SUMMARY"]).startswith("Comments close: @everyone <script>")
    assert "\x0b" not in ics.read_text()


CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff]")


def test_a_title_with_line_breaks_and_bidi_overrides_is_one_plain_line_in_feed_and_calendar(
    tmp_path,
):
    """A synthetic title holding CR/LF, a right-to-left override, C1 and ESC characters reached the
    Atom entry title and the calendar event's summary as stored: a summary of several lines
    reading "live" for "evil", and an agency name breaking the entry's text the same way."""
    title = "Entity List \u202eevil\u202c\r\nBcc: x\x85 \x1b[2J rule\x9b"
    home = tmp_path / "home"
    pub = replace(publication("2023-23055", title), agencies=[{"name": "BIS\u202e\x1b[2J\r\nX"}])
    seed(home, [pub])
    with Archive.open(home) as archive:
        archive.store([replace(pub, dates="Comments by December 1.")])
        tag_all(archive, [RouteFilter("team")], dates=DATES)
        atom, ics = write_feeds(archive, ["team"], tmp_path / "feeds", date(2023, 11, 1))
    (entry,) = feedparser.parse(atom.read_bytes()).entries
    assert entry.title == "Updated: Entity List evil Bcc: x rule"
    assert "BIS X · Rule" in " ".join(entry.summary.split())  # a line break is a space in HTML
    events = Calendar.from_ical(ics.read_bytes()).events
    assert sorted(str(e["SUMMARY"]) for e in events) == [
        "Comments close: Entity List evil Bcc: x rule",
        "Effective: Entity List evil Bcc: x rule",
    ]
    for written in (atom, ics):
        assert not CONTROLS.search(written.read_text(encoding="utf-8").replace("\r\n", ""))


def test_a_date_on_the_last_day_of_9999_is_an_event_of_that_day(tmp_path):
    """A synthetic effective date of 9999-12-31 (import accepts it) failed every calendar with
    "date value out of range" (its DTEND, the day after); `regwatch run` stopped there before
    delivering any alert, and the calendar was never written again."""
    home = tmp_path / "home"
    seed(home, [publication("2023-23055", "Rule in force indefinitely")])
    with Archive.open(home) as archive:
        archive.store([publication("2023-23055", "Rule in force indefinitely", action="Rule.")])
        tag_all(archive, [RouteFilter("team")], dates={"effective_on": "9999-12-31"})
        _, ics = write_feeds(archive, ["team"], tmp_path / "feeds", date(2023, 11, 1))
    (event,) = Calendar.from_ical(ics.read_bytes()).events
    assert event.start == date(9999, 12, 31) and "DTEND" not in event and not event.errors


def test_calendar_leaves_out_dates_before_the_first_day(tmp_path):
    home = tmp_path / "home"
    build(tmp_path)
    with Archive.open(home) as archive:
        _, ics = write_feeds(archive, ["team"], tmp_path / "later", date(2023, 11, 20))
    uids = [str(e["UID"]) for e in Calendar.from_ical(ics.read_bytes()).events]
    assert uids == ["2023-23055-comments_close_on@regwatch"]


def test_a_feed_is_replaced_whole_never_rewritten_in_place(tmp_path, monkeypatch):
    """A feed reader (or web server) reading while the next run writes gets the old feed whole,
    not a mix; a write that fails (a full disk) leaves the old files as they were."""
    atom, ics = build(tmp_path)
    atom.chmod(0o644)
    first = atom.read_bytes()
    with atom.open("rb") as reading, Archive.open(tmp_path / "home") as archive:
        archive.store([publication("2023-23056", "A second rule")])
        tag_all(archive, [RouteFilter("team")], dates=DATES)
        write_feeds(archive, ["team"], tmp_path / "feeds", date(2023, 11, 1))
        assert reading.read() == first
    assert len(feedparser.parse(atom.read_bytes()).entries) == 2
    assert atom.stat().st_mode & 0o777 == 0o644

    grown, calendar = atom.read_bytes(), ics.read_bytes()
    with Archive.open(tmp_path / "home") as archive, monkeypatch.context() as patched:
        patched.setattr(io, "open", full_disk(io.open))
        with pytest.raises(OSError, match="No space left"):
            write_feeds(archive, ["team"], tmp_path / "feeds", date(2023, 11, 1))
    assert (atom.read_bytes(), ics.read_bytes()) == (grown, calendar)
    assert sorted(p.name for p in atom.parent.iterdir()) == ["dates.ics", "team.atom"]


def test_a_written_feed_is_on_disk_before_its_rename_and_the_rename_after(tmp_path, monkeypatch):
    """After a power loss a feed (or digest) renamed over the old one could be empty: the rename
    reached the disk before the bytes. Now the bytes that end up under each name are synced
    before they get it, and the folder is synced after the rename (a power loss cannot be
    staged here: the order of the calls that make it safe is checked on the files written)."""
    events: list[tuple[str, object]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        real_fsync(descriptor)
        events.append(("fsync", os.fstat(descriptor).st_ino))

    def replace(source, target) -> None:
        real_replace(source, target)
        events.append(("replace", str(target)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atom, ics = build(tmp_path)
    for path in (atom, ics):
        renamed = events.index(("replace", str(path)))
        assert ("fsync", path.stat().st_ino) in events[:renamed]
        assert ("fsync", path.parent.stat().st_ino) in events[renamed + 1 :]


def test_a_file_system_that_cannot_sync_a_folder_still_gets_its_feeds(tmp_path, monkeypatch):
    """Some file systems refuse to sync a folder (EINVAL); the feed is renamed in place by then,
    so that is no failure."""
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    atom, ics = build(tmp_path)
    assert b"<feed" in atom.read_bytes() and b"BEGIN:VCALENDAR" in ics.read_bytes()


def test_a_write_removes_the_temporary_files_killed_writers_left(tmp_path):
    """A writer killed mid-write leaves `.<name>.<pid>.tmp` beside the feed; the next write of
    that feed removes it (they piled up, one per killed run). One of a process still running
    (another writer at work) is left alone."""
    atom, _ = build(tmp_path)
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    killed = atom.with_name(f".{atom.name}.{int(ended.stdout)}.tmp")
    working = atom.with_name(f".{atom.name}.{os.getppid()}.tmp")
    for left in (killed, working):
        left.write_text("<feed>half", encoding="utf-8")
    with Archive.open(tmp_path / "home") as archive:
        write_feeds(archive, ["team"], tmp_path / "feeds", date(2023, 11, 1))
    assert not killed.exists() and working.exists()
    assert not feedparser.parse(atom.read_bytes()).bozo
