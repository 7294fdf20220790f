"""Loud when something may be missed: a silent or failing source opens one incident, the ops
routes (`ops = true`) hear of it once through a real `json://` receiver on 127.0.0.1, and once
more when it clears; `regwatch status` and the digest's source-health section show it open."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from archive import Archive
from digests.incidents import publication_hours
from regwatch import steps
from regwatch.cli import main
from regwatch.config import load_config
from tests.receiver import Receiver

NEW_YORK = ZoneInfo("America/New_York")
SOURCE = "federal_register"
SOURCE_MD = "federal\\_register"  # the chat message is Markdown, made inert


@pytest.fixture
def receivers():
    ops, team = Receiver(), Receiver()
    yield ops, team
    ops.stop()
    team.stop()


def configure(tmp_path: Path, ops: Receiver, team: Receiver) -> Path:
    path = tmp_path / "regwatch.toml"
    path.write_text(
        f'[archive]\nhome = "{tmp_path / "home"}"\n[digest]\noutput_dir = "{tmp_path / "out"}"\n'
        "[alerts]\ntimeout_seconds = 2.0\nbackoff_seconds = 0.0\n"
        f'[[alerts.routes]]\nname = "ops"\nurl = "json://127.0.0.1:{ops.port}/ops"\nops = true\n'
        f'[[alerts.routes]]\nname = "team"\nurl = "json://127.0.0.1:{team.port}/team"\n',
        encoding="utf-8",
    )
    return path


def crawled(home: Path, finished: datetime, ok: bool = True, error: str | None = None) -> None:
    at = finished.astimezone(ZoneInfo("UTC")).isoformat(timespec="seconds")
    with Archive.open(home) as archive:
        archive.log_crawl(
            SOURCE, started_at=at, finished_at=at, ok=ok, stats={"errors": [error] if error else []}
        )


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=NEW_YORK)


def messages(receiver: Receiver) -> list[str]:
    return [request.body["message"] for request in receiver.accepted]


def test_silence_is_alerted_once_shown_while_open_and_cleared_once(tmp_path, receivers):
    ops, team = receivers
    path = configure(tmp_path, ops, team)
    config = load_config(path, environ={})
    home = tmp_path / "home"
    crawled(home, at(23, 6, 20))  # Monday morning, then nothing succeeds
    assert steps.check_health(config, now=at(24, 12)).open == []  # 30 hours: not yet
    opened = steps.check_health(config, now=at(25, 7))  # Wednesday 07:00: 48 h 40 min
    assert [(i.source, i.kind) for i in opened.opened] == [(SOURCE, "silence")]
    assert opened.notified == 1
    again = steps.check_health(config, now=at(25, 8))
    assert (again.opened, again.notified, len(again.open)) == ([], 0, 1)
    (alert,) = messages(ops)
    assert alert == (
        f"regwatch: {SOURCE_MD}: no successful crawl for 49 hours of publication days (last "
        "success 2026-11-23T11:20:00+00:00). Publications may be missed until it recovers "
        f"(incident opened {opened.opened[0].opened_at})."
    )
    assert team.requests == []  # only routes marked ops = true

    # while open: `regwatch status` and the digest's source-health section say so
    status = CliRunner().invoke(main, ["--config", str(path), "status"])
    assert status.exit_code == 0, status.output
    assert (
        f"incident open since {opened.opened[0].opened_at}: {SOURCE}: no successful crawl for 49 "
        "hours of publication days" in status.output
    )
    digest = steps.digest(config, week="2026-W48")
    text = digest.lists[0].paths["txt"].read_text(encoding="utf-8")
    assert f"OPEN INCIDENT: {SOURCE}: no successful crawl for 49 hours" in text
    assert digest.lists[0].incomplete

    crawled(home, at(25, 9, 30))  # it recovers
    cleared = steps.check_health(config, now=at(25, 10))
    assert [(i.source, i.kind) for i in cleared.cleared] == [(SOURCE, "silence")]
    assert (cleared.open, cleared.notified) == ([], 1)
    assert steps.check_health(config, now=at(25, 11)).notified == 0
    assert len(ops.accepted) == 2
    assert messages(ops)[1] == (
        f"regwatch: {SOURCE_MD} recovered: no successful crawl cleared at "
        f"{cleared.cleared[0].closed_at} (opened {opened.opened[0].opened_at}: no successful "
        "crawl for 49 hours of publication days (last success 2026-11-23T11:20:00+00:00))."
    )


def test_the_weekend_does_not_count_as_silence(tmp_path, receivers):
    config = load_config(configure(tmp_path, *receivers), environ={})
    crawled(tmp_path / "home", at(27, 6, 20))  # Friday
    assert publication_hours(at(27, 6, 20), at(30, 12), NEW_YORK) == pytest.approx(17 + 2 / 3 + 12)
    assert steps.check_health(config, now=at(30, 12)).open == []  # Monday noon
    assert receivers[0].requests == []


def test_publication_hours_are_real_hours_across_a_daylight_saving_change():
    zone = NEW_YORK
    before = datetime(2026, 3, 6, 12, tzinfo=zone)  # Friday noon EST
    after = datetime(2026, 3, 9, 12, tzinfo=zone)  # Monday noon EDT
    assert publication_hours(before, after, zone) == 24.0


def test_a_federal_holiday_is_no_publication_day():
    before = datetime(2026, 11, 25, 17, tzinfo=NEW_YORK)  # Wednesday 5 pm
    after = datetime(2026, 11, 27, 17, tzinfo=NEW_YORK)  # Friday 5 pm; Thursday is Thanksgiving
    assert publication_hours(before, after, NEW_YORK) == 7 + 17
    observed = datetime(2026, 7, 3, 12, tzinfo=NEW_YORK)  # Independence Day observed (Friday)
    assert publication_hours(observed, observed + timedelta(hours=6), NEW_YORK) == 0


def test_repeated_failures_open_an_incident_whose_text_is_inert(tmp_path, receivers):
    ops, _ = receivers
    config = load_config(configure(tmp_path, *receivers), environ={})
    home = tmp_path / "home"
    crawled(home, at(30, 6, 20))
    for hour in (9, 10):
        crawled(home, at(30, hour), ok=False, error="HTTP 503 <!channel> @here")
    assert steps.check_health(config, now=at(30, 11)).open == []  # two failures: not yet
    crawled(home, at(30, 11), ok=False, error="HTTP 503 <!channel> @here")
    result = steps.check_health(config, now=at(30, 12))
    assert [(i.kind, i.detail) for i in result.opened] == [
        ("failures", "the last 3 crawls failed (newest error: HTTP 503 <!channel> @here)")
    ]
    (alert,) = messages(ops)
    assert "HTTP 503 ‹!channel› @\u200bhere" in alert and "<!channel>" not in alert


def test_an_ops_notice_that_fails_is_retried_until_delivered(tmp_path):
    ops, team = Receiver([503, 503]), Receiver()
    try:
        config = load_config(configure(tmp_path, ops, team), environ={})
        crawled(tmp_path / "home", at(23, 6, 20))
        first = steps.check_health(config, now=at(25, 7))
        assert (first.notified, first.notify_failed) == (0, 1)
        assert steps.check_health(config, now=at(25, 7, 10)).notify_failed == 1
        third = steps.check_health(config, now=at(25, 7, 20))
        assert (third.notified, third.notify_failed) == (1, 0)
        assert len(ops.accepted) == 1
        later = at(25, 7, 20) + timedelta(days=1)
        assert steps.check_health(config, now=later).notified == 0
    finally:
        ops.stop()
        team.stop()


def test_an_ops_route_that_fails_is_not_tried_again_in_the_same_check(tmp_path):
    """Two incidents open at once; the ops route fails the first notice: the second is not
    sent to it in that check (each try of a route that is down waited out its timeout), and the
    next check delivers both."""
    ops, team = Receiver([503]), Receiver()
    try:
        config = load_config(configure(tmp_path, ops, team), environ={})
        home = tmp_path / "home"
        crawled(home, at(23, 6, 20))
        for hour in (9, 10, 11):
            crawled(home, at(24, hour), ok=False, error="HTTP 503")
        first = steps.check_health(config, now=at(25, 7))
        assert len(first.open) == 2
        assert (first.notified, first.notify_failed, len(ops.requests)) == (0, 2, 1)
        second = steps.check_health(config, now=at(25, 7, 10))
        assert (second.notified, second.notify_failed, len(ops.accepted)) == (2, 0, 2)
    finally:
        ops.stop()
        team.stop()


def test_an_incident_whose_error_spans_lines_stays_one_line_in_the_digest_and_status(
    tmp_path, receivers
):
    """A crawl error holding line breaks (a source's error page quoted in it) cannot forge lines
    of its own in the plain-text digest or `status`."""
    path = configure(tmp_path, *receivers)
    config = load_config(path, environ={})
    home = tmp_path / "home"
    crawled(home, at(30, 6, 20))
    for hour in (9, 10, 11):
        crawled(home, at(30, hour), ok=False, error="HTTP 503\nSOURCE HEALTH: all sources ok")
    assert len(steps.check_health(config, now=at(30, 12)).opened) == 1
    digest = steps.digest(config, week="2026-W49")
    text = digest.lists[0].paths["txt"].read_text(encoding="utf-8")
    status = CliRunner().invoke(main, ["--config", str(path), "status"])
    for shown in (text, status.output):
        lines = shown.splitlines()
        assert not [line for line in lines if line.startswith("SOURCE HEALTH: all sources ok")]
        assert [line for line in lines if "HTTP 503 SOURCE HEALTH: all sources ok)" in line]


def test_an_ops_e_mail_says_in_its_subject_which_source_fails_and_recovers(tmp_path, smtp):
    """Ops notices sent by e-mail arrived with an empty Subject."""
    receiver, port = smtp
    path = tmp_path / "regwatch.toml"
    path.write_text(
        f'[archive]\nhome = "{tmp_path / "home"}"\n[digest]\noutput_dir = "{tmp_path / "out"}"\n'
        "[alerts]\ntimeout_seconds = 2.0\nbackoff_seconds = 0.0\n[[alerts.routes]]\n"
        'name = "ops"\nops = true\nurl = "mailto://127.0.0.1:'
        f'{port}?to=ops@y.example&from=regwatch@x.example&mode=insecure"\n',
        encoding="utf-8",
    )
    config = load_config(path, environ={})
    crawled(tmp_path / "home", at(23, 6, 20))  # Monday morning, then nothing succeeds
    assert steps.check_health(config, now=at(25, 7)).notified == 1
    crawled(tmp_path / "home", at(25, 9, 30))  # it recovers
    assert steps.check_health(config, now=at(25, 10)).notified == 1
    assert [message["Subject"] for message in receiver.messages] == [
        f"regwatch: {SOURCE} failing",
        f"regwatch: {SOURCE} recovered",
    ]
