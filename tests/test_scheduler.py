"""The timetable as date arithmetic: which jobs exist and when they fire next, never by waiting."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from regwatch.config import ConfigError, load_config
from scheduler import build_scheduler

NEW_YORK = ZoneInfo("America/New_York")


def next_fire(scheduler, job_id: str, after: datetime) -> datetime:
    return scheduler.get_job(job_id).trigger.get_next_fire_time(None, after)


def test_jobs_have_ids_and_misfire_policy():
    scheduler = build_scheduler(load_config(environ={}))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"crawl_and_tag", "weekly_digest"}
    assert all(job.coalesce and job.misfire_grace_time == 3600 for job in jobs.values())


def test_crawl_runs_on_weekday_mornings_and_skips_the_weekend():
    scheduler = build_scheduler(load_config(environ={}))
    friday_noon = datetime(2026, 12, 4, 12, 0, tzinfo=NEW_YORK)
    assert next_fire(scheduler, "crawl_and_tag", friday_noon) == datetime(
        2026, 12, 7, 7, 0, tzinfo=NEW_YORK
    )


def test_digest_is_weekly_on_monday():
    scheduler = build_scheduler(load_config(environ={}))
    tuesday = datetime(2026, 12, 1, 9, 0, tzinfo=NEW_YORK)
    assert next_fire(scheduler, "weekly_digest", tuesday) == datetime(
        2026, 12, 7, 8, 0, tzinfo=NEW_YORK
    )


def test_configured_cron_and_zone_are_used(tmp_path):
    path = tmp_path / "regwatch.toml"
    path.write_text('[schedule]\ntimezone = "UTC"\ndigest = "30 6 * * fri"\n', encoding="utf-8")
    scheduler = build_scheduler(load_config(path, environ={}))
    utc = ZoneInfo("UTC")
    fire = next_fire(scheduler, "weekly_digest", datetime(2026, 12, 1, tzinfo=utc))
    assert fire == datetime(2026, 12, 4, 6, 30, tzinfo=utc)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[schedule]\ncrawl = "every day"\n', "schedule.crawl must be a cron expression"),
        ('[schedule]\ntimezone = "Mars/Olympus"\n', "schedule.timezone must be an IANA time zone"),
    ],
)
def test_bad_schedule_is_a_config_error(tmp_path, text, message):
    path = tmp_path / "regwatch.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})
