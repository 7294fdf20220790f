"""The timetable as date arithmetic from a fixed "now" (never by waiting), jobs that raise, and
catching up after downtime: a missed pipeline run and a missed digest each run exactly once."""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import scheduler
from archive import Archive
from regwatch import steps
from regwatch.config import ConfigError, load_config

NEW_YORK = ZoneInfo("America/New_York")


def config_at(tmp_path: Path, text: str = ""):
    path = tmp_path / "regwatch.toml"
    path.write_text(
        f'[archive]\nhome = "{tmp_path / "home"}"\n[digest]\noutput_dir = "{tmp_path / "out"}"\n'
        + text,
        encoding="utf-8",
    )
    return load_config(path, environ={})


def job_runs(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "regwatch.db") as conn:
        return conn.execute("SELECT job_id, ok, summary FROM job_runs ORDER BY id").fetchall()


# --- the timetable ------------------------------------------------------------------------------


def test_jobs_have_ids_coalesce_one_instance_and_a_misfire_grace():
    built = scheduler.build_scheduler(load_config(environ={}))
    jobs = {job.id: job for job in built.get_jobs()}
    assert set(jobs) == {"pipeline", "weekly_digest", "retry"}
    for job in jobs.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 3600)


def test_pipeline_runs_after_the_federal_registers_two_daily_releases_on_weekdays():
    friday_noon = datetime(2026, 12, 4, 12, 0, tzinfo=NEW_YORK)
    runs = scheduler.next_runs(load_config(environ={}), friday_noon)
    assert runs["pipeline"] == [
        datetime(2026, 12, 7, 6, 15, tzinfo=NEW_YORK),  # Monday, after publication (06:00)
        datetime(2026, 12, 7, 9, 0, tzinfo=NEW_YORK),  # after public inspection (08:45)
        datetime(2026, 12, 8, 6, 15, tzinfo=NEW_YORK),
    ]


def test_next_runs_across_the_spring_daylight_saving_change_stay_on_new_york_time():
    """2026-03-08: clocks go from EST (UTC-5) to EDT (UTC-4)."""
    friday = datetime(2026, 3, 6, 8, 0, tzinfo=NEW_YORK)
    runs = scheduler.next_runs(load_config(environ={}), friday)
    assert [t.astimezone(UTC) for t in runs["pipeline"]] == [
        datetime(2026, 3, 6, 14, 0, tzinfo=UTC),  # Friday 09:00 EST
        datetime(2026, 3, 9, 10, 15, tzinfo=UTC),  # Monday 06:15 EDT
        datetime(2026, 3, 9, 13, 0, tzinfo=UTC),  # Monday 09:00 EDT
    ]
    assert [t.astimezone(UTC) for t in runs["weekly_digest"]][:2] == [
        datetime(2026, 3, 9, 12, 0, tzinfo=UTC),  # Monday 08:00 EDT
        datetime(2026, 3, 16, 12, 0, tzinfo=UTC),
    ]


def test_next_runs_across_the_autumn_change_and_the_retry_interval():
    """2026-11-01: clocks go back from EDT to EST."""
    saturday = datetime(2026, 10, 31, 23, 55, tzinfo=NEW_YORK)
    runs = scheduler.next_runs(load_config(environ={}), saturday)
    assert runs["weekly_digest"][0].astimezone(UTC) == datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
    assert runs["pipeline"][0].astimezone(UTC) == datetime(2026, 11, 2, 11, 15, tzinfo=UTC)
    assert [t.astimezone(UTC) for t in runs["retry"]] == [
        datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
        datetime(2026, 11, 1, 4, 10, tzinfo=UTC),
        datetime(2026, 11, 1, 4, 20, tzinfo=UTC),
    ]


def test_configured_crons_zone_and_retry_are_used(tmp_path):
    config = config_at(
        tmp_path,
        '[schedule]\ntimezone = "UTC"\ncrawl = "0 12 * * *"\ndigest = "30 6 * * fri"\n'
        "retry_minutes = 30\n",
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    runs = scheduler.next_runs(config, now, 2)
    assert runs == {
        "pipeline": [datetime(2026, 12, 1, 12, tzinfo=UTC), datetime(2026, 12, 2, 12, tzinfo=UTC)],
        "weekly_digest": [
            datetime(2026, 12, 4, 6, 30, tzinfo=UTC),
            datetime(2026, 12, 11, 6, 30, tzinfo=UTC),
        ],
        "retry": [
            datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
            datetime(2026, 12, 1, 0, 30, tzinfo=UTC),
        ],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[schedule]\ncrawl = "every day"\n', "schedule.crawl must be a cron expression"),
        ('[schedule]\ncrawl = ["0 6 * * *", "x"]\n', "schedule.crawl must be a cron expression"),
        ("[schedule]\ncrawl = []\n", "schedule.crawl must be a cron expression or a list"),
        # February 30th: the weekly digest (or a crawl) would never run, and nothing said so
        ('[schedule]\ndigest = "0 8 30 2 *"\n', "schedule.digest must be a cron expression that"),
        ('[schedule]\ncrawl = ["0 6 * * *", "0 9 31 4 *"]\n', "never fires: '0 9 31 4 \\*'"),
        ('[schedule]\ntimezone = "Mars/Olympus"\n', "schedule.timezone must be an IANA time zone"),
        ("[schedule]\nretry_minutes = 0\n", "schedule.retry_minutes must be between 1 and 1440"),
        ("[crawl]\ntimeout_minutes = 0\n", "crawl.timeout_minutes must be between 0.01 and"),
    ],
)
def test_bad_schedule_is_a_config_error(tmp_path, text, message):
    path = tmp_path / "regwatch.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


def test_show_prints_each_job_with_its_next_three_runs_and_starts_nothing(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from regwatch.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REGWATCH_CONFIG", raising=False)
    monkeypatch.setenv("REGWATCH_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(main, ["schedule", "--show"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines] == ["pipeline", "weekly_digest", "retry"]
    assert all(len(line.split(", ")) == 3 for line in lines)
    assert not (tmp_path / "home").exists()  # nothing started, nothing written


# --- a job that raises --------------------------------------------------------------------------

NO_PASSWORD = (
    "[mail]\nhost = '127.0.0.1'\nport = 9\nuser = 'ops'\n"  # sending needs a password: it raises
    "[[digest.lists]]\nname = 'team'\nto = ['eng@y.example']\n"
)


def test_a_job_that_raises_is_logged_and_recorded_and_the_next_runs_happen(tmp_path, caplog):
    config = config_at(tmp_path, NO_PASSWORD)
    now = datetime(2026, 11, 30, 7, 0, tzinfo=NEW_YORK)  # before this week's digest falls due
    with caplog.at_level(logging.INFO, logger="regwatch.scheduler"):
        assert scheduler.run_job("weekly_digest", config, now) is False
        assert scheduler.run_job("retry", config, now + timedelta(minutes=10)) is True
    failed, retried = job_runs(tmp_path / "home")
    assert failed[:2] == ("weekly_digest", 0)
    assert failed[2] == (
        f"ConfigError: {tmp_path / 'regwatch.toml'}: mail.user is set but environment variable "
        "REGWATCH_SMTP_PASSWORD is empty (sending needs the password)"
    )
    assert retried == ("retry", 1, "incidents: 0 open")
    first, second = [r for r in caplog.records if r.name == "regwatch.scheduler"]
    assert first.levelno == logging.ERROR
    assert first.getMessage().startswith("weekly_digest FAILED in ")
    assert first.getMessage().endswith(f": {failed[2]}")
    assert "\n" not in first.getMessage()
    assert second.getMessage().startswith("retry ok in ")


def test_the_running_scheduler_outlives_a_job_that_raises(tmp_path):
    config = config_at(tmp_path, NO_PASSWORD)
    built = scheduler.build_scheduler(config)
    now = datetime.now(UTC)
    built.modify_job("weekly_digest", next_run_time=now)
    built.modify_job("retry", next_run_time=now + timedelta(seconds=1))
    thread = threading.Thread(target=built.start, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(_runs(tmp_path / "home")) < 2 or _runs(tmp_path / "home")[-1][1] is None:
            assert time.monotonic() < deadline, "the jobs did not run"
            time.sleep(0.05)
        assert built.running  # the job that raised stopped nothing: the next one ran
        assert [job for job, _, _ in job_runs(tmp_path / "home")] == ["weekly_digest", "retry"]
        assert all(
            "REGWATCH_SMTP_PASSWORD" in summary for *_, summary in job_runs(tmp_path / "home")
        )
    finally:
        built.shutdown()
        thread.join(30)


def _runs(home: Path) -> list[tuple]:
    if not (home / "regwatch.db").exists():
        return []
    with sqlite3.connect(home / "regwatch.db") as conn:
        try:
            return conn.execute("SELECT job_id, ok FROM job_runs ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return []


# --- downtime -----------------------------------------------------------------------------------


def record_run(home: Path, job_id: str, at: datetime) -> None:
    with Archive.open(home) as archive:
        run = archive.job_started(job_id, at)
        archive.job_finished(run, at + timedelta(minutes=2), True, "recorded by the test")


def test_a_pipeline_run_missed_while_down_runs_once(tmp_path, replay_server):
    config = config_at(tmp_path, f'[sources.federal_register]\nbase_url = "{replay_server}"\n')
    home = tmp_path / "home"
    monday = datetime(2026, 11, 23, 6, 15, tzinfo=NEW_YORK)
    assert scheduler.catch_up(config, monday) == []  # never ran: a first start misses nothing
    record_run(home, "pipeline", monday)
    assert scheduler.catch_up(config, monday + timedelta(hours=2)) == []  # next one at 09:00
    wednesday = datetime(2026, 11, 25, 12, 0, tzinfo=NEW_YORK)  # down since Monday morning
    assert scheduler.catch_up(config, wednesday) == ["pipeline"]  # four runs missed, one due
    scheduler.run_job("pipeline", config, wednesday)
    assert scheduler.catch_up(config, wednesday) == []
    assert scheduler.catch_up(config, wednesday + timedelta(minutes=5)) == []
    assert [job for job, _, _ in job_runs(home)] == ["pipeline", "pipeline"]


def test_a_first_start_after_the_scheduler_ran_before_catches_up_from_its_heartbeat(tmp_path):
    config = config_at(tmp_path)
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=NEW_YORK)
    steps.heartbeat(config, 4242, saturday, saturday)
    assert scheduler.catch_up(config, saturday + timedelta(days=1)) == []  # Sunday: nothing due
    assert scheduler.catch_up(config, saturday + timedelta(days=2)) == ["pipeline"]


def test_a_pipeline_run_killed_midway_runs_again_on_restart(tmp_path):
    """Killed during Friday's 09:00 run and restarted at once, the scheduler waited for Monday
    06:15: Friday's crawl was not finished, and nothing said so but an unfinished job run."""
    config = config_at(tmp_path)
    friday = datetime(2026, 11, 27, 9, 0, tzinfo=NEW_YORK)
    with Archive.open(tmp_path / "home") as archive:
        archive.job_started("pipeline", friday)  # killed mid-run: never finished
    assert scheduler.catch_up(config, friday + timedelta(minutes=5)) == ["pipeline"]
    record_run(tmp_path / "home", "pipeline", friday + timedelta(minutes=5))
    assert scheduler.catch_up(config, friday + timedelta(minutes=10)) == []


def mail_config(tmp_path: Path, port: int):
    return config_at(
        tmp_path,
        f"[mail]\nhost = '127.0.0.1'\nport = {port}\nsecurity = 'none'\ntimeout = 5\n"
        "[[digest.lists]]\nname = 'team'\nto = ['eng@y.example']\n"
        "[[digest.lists]]\nname = 'legal'\nto = ['law@y.example']\n",
    )


def test_a_digest_missed_while_down_is_sent_once_late_and_never_twice(tmp_path, smtp):
    receiver, port = smtp
    config = mail_config(tmp_path, port)
    due = datetime(2026, 11, 23, 8, 0, tzinfo=NEW_YORK)  # Monday 08:00: week 2026-W47's digest
    assert scheduler.owed_digest_lists(config, due - timedelta(minutes=1)) == []
    assert scheduler.owed_digest_lists(config, due + timedelta(minutes=30)) == []  # may run yet
    wednesday = datetime(2026, 11, 25, 12, 0, tzinfo=NEW_YORK)  # down over Monday morning
    assert scheduler.catch_up(config, wednesday) == ["retry"]
    assert scheduler.run_job("retry", config, wednesday)
    assert len(receiver.messages) == 2
    subjects = sorted(m["Subject"] for m in receiver.messages)
    assert all(s.startswith("regwatch digest 2026-W47: ") for s in subjects)
    assert all(s.endswith("(sent late)") for s in subjects)
    text = receiver.messages[0].get_body(("plain",)).get_content()
    assert "Sent late: the scheduler was not running when this digest was due." in text
    (_, ok, summary), *_ = job_runs(tmp_path / "home")
    assert ok and "digest 2026-W47 for list team: 0 listed, sent late" in summary
    assert "digest 2026-W47 for list legal: 0 listed, sent late" in summary
    # a restart: a new configuration object, the same archive; nothing is sent again
    again = mail_config(tmp_path, port)
    assert scheduler.catch_up(again, wednesday + timedelta(minutes=1)) == []
    scheduler.run_job("retry", again, wednesday + timedelta(minutes=10))
    scheduler.run_job("weekly_digest", again, wednesday + timedelta(minutes=20))
    assert len(receiver.messages) == 2


def test_a_digest_sent_on_time_is_not_late_and_a_list_that_failed_is_retried(tmp_path, smtp):
    receiver, port = smtp
    config = mail_config(tmp_path, port)
    due = datetime(2026, 11, 23, 8, 0, tzinfo=NEW_YORK)
    receiver.refuse.add("law@y.example")  # list legal fails on time
    assert not scheduler.run_job("weekly_digest", config, due)
    assert [m["Subject"].endswith("(sent late)") for m in receiver.messages] == [False]
    assert scheduler.owed_digest_lists(config, due + timedelta(minutes=10)) == ["legal"]
    receiver.refuse.clear()
    assert scheduler.run_job("retry", config, due + timedelta(minutes=10))
    assert len(receiver.messages) == 2 and receiver.messages[1]["To"] == "law@y.example"
    assert scheduler.owed_digest_lists(config, due + timedelta(minutes=20)) == []


def test_status_shows_the_heartbeat_and_each_jobs_last_and_next_run(tmp_path):
    from click.testing import CliRunner

    from regwatch.cli import main

    config = config_at(tmp_path)
    started = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    steps.heartbeat(config, 4242, started, started + timedelta(minutes=5))
    record_run(tmp_path / "home", "pipeline", started + timedelta(minutes=15))
    with Archive.open(tmp_path / "home") as archive:
        archive.job_started("retry", started + timedelta(minutes=20))  # killed mid-run
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "regwatch.toml"), "status"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        "scheduler: last heartbeat 2026-11-30T06:05:00.000000Z (pid 4242, running since "
        "2026-11-30T06:00:00.000000Z)"
    ) in lines
    jobs = [line for line in lines if line.startswith("  job ")]
    assert [line.split(";")[0] for line in jobs] == [
        "  job pipeline: last run 2026-11-30T06:15:00.000000Z (ok: recorded by the test)",
        "  job weekly_digest: last run never",
        "  job retry: last run 2026-11-30T06:20:00.000000Z (unfinished)",
    ]
    assert all(re.search(r"; next run \d{4}-\d\d-\d\dT\d\d:\d\d:00[-+]\d\d:\d\d$", j) for j in jobs)


def test_a_pipeline_run_slept_through_runs_once_on_waking(tmp_path, monkeypatch):
    """The scheduler kept running but the machine slept past the pipeline's run time and its
    hour of grace: APScheduler drops that run as missed, so the next one was the next day's (or
    Monday's, after a Friday). It now runs once on waking, as after a restart."""
    ran = threading.Event()

    def pipeline(config, now):
        ran.set()
        return True, "synthetic pipeline"

    monkeypatch.setitem(scheduler.JOBS, "pipeline", pipeline)
    config = config_at(tmp_path, '[schedule]\ncrawl = "0 0 1 1 *"\n')  # no run due today
    built = scheduler.build_scheduler(config)
    slept = datetime.now(UTC) - timedelta(seconds=scheduler.MISFIRE_GRACE_SECONDS + 3600)
    built.modify_job("pipeline", next_run_time=slept)  # due while the machine was asleep
    thread = threading.Thread(target=built.start, daemon=True)
    thread.start()
    try:
        assert ran.wait(30), "the pipeline run slept through never ran"
        deadline = time.monotonic() + 30
        while not job_runs(tmp_path / "home") or job_runs(tmp_path / "home")[-1][1] is None:
            assert time.monotonic() < deadline, "the run was not recorded"
            time.sleep(0.05)
        assert job_runs(tmp_path / "home") == [("pipeline", 1, "synthetic pipeline")]
        assert built.get_job("pipeline").next_run_time > datetime.now(UTC)  # on its timetable
    finally:
        built.shutdown()
        thread.join(30)


def test_an_archive_gone_while_the_scheduler_runs_is_not_recreated_empty(tmp_path, caplog):
    """Its volume unmounted, say: a job or heartbeat would have created an empty archive, whose
    next crawl is a backfill that alerts nobody. They fail loudly until it is back."""
    config = config_at(tmp_path)
    home = tmp_path / "home"
    present = scheduler.ArchivePresence(config)  # a first start: nothing to miss yet
    started = datetime(2026, 11, 30, 7, 0, tzinfo=NEW_YORK)
    assert scheduler.run_job("retry", config, started, present) is True
    moved = tmp_path / "unmounted"
    home.rename(moved)
    home.mkdir()  # the empty mount point
    with caplog.at_level(logging.INFO, logger="regwatch.scheduler"):
        assert scheduler.run_job("retry", config, started + timedelta(minutes=10), present) is False
        scheduler.beat_once(config, started, present)
    assert list(home.iterdir()) == []
    gone = f"the archive {home / 'regwatch.db'} is gone (moved, deleted, or its volume unmounted?)"
    assert f"retry FAILED: {gone}" in caplog.text
    assert f"heartbeat not recorded: {gone}" in caplog.text
    home.rmdir()
    moved.rename(home)  # mounted again
    assert scheduler.run_job("retry", config, started + timedelta(minutes=20), present) is True
    assert [run[:2] for run in job_runs(home)] == [("retry", 1), ("retry", 1)]


def test_a_refused_recipient_is_retried_alone_and_the_others_get_the_digest_once(tmp_path, smtp):
    """One address of a list refused for good (a colleague who left): each `retry` run, every 10
    minutes all week, mailed the whole list again, so the others got a copy every time."""
    receiver, port = smtp
    config = config_at(
        tmp_path,
        f"[mail]\nhost = '127.0.0.1'\nport = {port}\nsecurity = 'none'\ntimeout = 5\n"
        "[[digest.lists]]\nname = 'team'\nto = ['eng@y.example', 'gone@y.example']\n"
        "cc = ['boss@y.example']\n",
    )
    due = datetime(2026, 11, 23, 8, 0, tzinfo=NEW_YORK)
    receiver.refuse.add("gone@y.example")
    assert not scheduler.run_job("weekly_digest", config, due)
    for minutes in (10, 20, 30):
        assert not scheduler.run_job("retry", config, due + timedelta(minutes=minutes))
    assert receiver.envelopes == [["eng@y.example", "boss@y.example"]]
    assert "refused every recipient: gone@y.example (550" in job_runs(tmp_path / "home")[-1][2]
    receiver.refuse.clear()
    assert scheduler.run_job("retry", config, due + timedelta(minutes=40))
    assert receiver.envelopes[1:] == [["gone@y.example"]]
    first, retried = ((m["To"], m["Cc"]) for m in receiver.messages)  # the headers of the list
    assert first == retried == ("eng@y.example, gone@y.example", "boss@y.example")
    assert scheduler.owed_digest_lists(config, due + timedelta(minutes=50)) == []


def test_a_digest_the_server_answered_too_late_is_not_mailed_again_every_retry(tmp_path, smtp):
    """The server took the whole message and answered after `mail.timeout` (a slow relay
    scanning it): the send was counted failed, and every `retry` run mailed the list again."""
    receiver, port = smtp
    config = config_at(
        tmp_path,
        f"[mail]\nhost = '127.0.0.1'\nport = {port}\nsecurity = 'none'\ntimeout = 1\n"
        "[[digest.lists]]\nname = 'team'\nto = ['eng@y.example']\n",
    )
    due = datetime(2026, 11, 23, 8, 0, tzinfo=NEW_YORK)
    receiver.data_delay = 3
    assert not scheduler.run_job("weekly_digest", config, due)  # loud: it may not have arrived
    receiver.data_delay = 0
    for minutes in (10, 20):
        scheduler.run_job("retry", config, due + timedelta(minutes=minutes))
    assert len(receiver.messages) == 1
    (_, ok, summary), *_ = job_runs(tmp_path / "home")
    assert not ok and "for list team: 0 listed, maybe sent (no answer from 127.0.0.1:" in summary


def test_a_broken_alert_route_does_not_stop_the_late_digest_or_the_health_check(
    tmp_path, smtp, monkeypatch
):
    """A route whose URL variable went missing from the service's environment made every
    `retry` run fail at its first step: the digest a list was owed was never sent late, and no
    source-health check ran, until someone read the log."""
    monkeypatch.delenv("REGWATCH_TEST_HOOK", raising=False)
    receiver, port = smtp
    config = config_at(
        tmp_path,
        f"[mail]\nhost = '127.0.0.1'\nport = {port}\nsecurity = 'none'\ntimeout = 5\n"
        "[[digest.lists]]\nname = 'team'\nto = ['eng@y.example']\n"
        "[[alerts.routes]]\nname = 'chat'\nurl_env = 'REGWATCH_TEST_HOOK'\n",
    )
    wednesday = datetime(2026, 11, 25, 12, 0, tzinfo=NEW_YORK)  # down over Monday morning
    assert not scheduler.run_job("retry", config, wednesday)
    assert [m["To"] for m in receiver.messages] == ["eng@y.example"]
    (_, ok, summary), *_ = job_runs(tmp_path / "home")
    assert "alerts FAILED: ConfigError: alerts.routes[0].url_env: " in summary
    assert "incidents: 0 open" in summary
    assert "digest 2026-W47 for list team: 0 listed, sent late" in summary
