"""The timetable: the pipeline's step functions on a schedule (APScheduler 3.x).

Enters: a validated `Config` (`schedule.*` cron expressions and time zone).
Leaves: a configured `BlockingScheduler` from `build_scheduler`; `main` runs it until interrupted.
Each crawl runs Scrapy in a child process (see `crawlers.run`), so one scheduler lives for days.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from regwatch import steps
from regwatch.config import Config, load_config

MISFIRE_GRACE_SECONDS = 3600
log = logging.getLogger("regwatch.scheduler")


def crawl_and_tag(config: Config) -> None:
    """Crawl every registered source incrementally, tag what changed, read the full texts worth
    reading and tag them, deliver the alerts."""
    for result in steps.crawl_sources(config):
        log.info("crawl %s: ok=%s", result.source, result.ok)
    tagged = steps.tag(config)
    log.info("tagged %d documents", tagged.tagged)
    for result in steps.fulltext(config):
        log.info("full texts: %s", "ok" if result.ok else result.error)
    log.info("tagged %d documents after reading their full text", steps.tag(config).tagged)
    delivered = steps.alert(config).delivery
    log.info(
        "alerts: %d sent, %d to retry, %d failed",
        delivered.sent,
        delivered.retrying,
        delivered.failed,
    )


def weekly_digest(config: Config) -> None:
    """Write (and, with mail configured, send) the digest of the last complete week."""
    for entry in steps.scheduled_digest(config).lists:
        log.info(
            "digest %s for list %s: %s %s",
            entry.label,
            entry.list_name,
            entry.status,
            entry.detail or entry.paths["html"],
        )


def build_scheduler(config: Config) -> BlockingScheduler:
    """A scheduler holding the crawl and digest jobs, with explicit ids and misfire handling."""
    zone = config["schedule.timezone"]
    scheduler = BlockingScheduler(timezone=zone)
    jobs = (
        ("crawl_and_tag", crawl_and_tag, "schedule.crawl"),
        ("weekly_digest", weekly_digest, "schedule.digest"),
    )
    for job_id, func, key in jobs:
        scheduler.add_job(
            func,
            CronTrigger.from_crontab(config[key], timezone=zone),
            args=[config],
            id=job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
        )
    return scheduler


def main(config: Config | None = None) -> None:
    """Run the schedule in the foreground until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    build_scheduler(config or load_config()).start()


if __name__ == "__main__":
    main()
