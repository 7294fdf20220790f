"""The timetable: the pipeline's step functions on a schedule (APScheduler 3.x), run for months.

Enters: a validated `Config` (`schedule.*`: cron expressions, the retry interval, the time zone;
`pipeline.lock_wait_seconds`, `crawl.timeout_minutes`, `health.*`) and, for the decisions tests
drive, an explicit "now". Leaves: `build_scheduler(config)`, a `BlockingScheduler` holding three
jobs with explicit ids — `pipeline` (crawl every source → tag → read the full texts worth reading →
tag them → deliver alerts → check source health, under the pipeline lock shared with `regwatch
run`), `weekly_digest` (the last complete week, to every list) and `retry` (pending alerts, ops
notices, source health, and a due digest a list has not received, sent late) — run one after another
in one worker thread, each `coalesce`d, one instance at a time, with a stated misfire grace.
`run_job` records every run in the archive (job id, start, end, ok, one-line summary) and logs one
line; an exception in a step is logged and recorded, never raised, so the scheduler outlives it.
`catch_up(config, now)` names the jobs to run at once after downtime: a missed pipeline run (once),
and `retry` when a digest is owed; a pipeline run the running scheduler missed by more than its
grace (the machine asleep) runs once when it wakes. `next_runs` gives each job's next run times
(`regwatch schedule --show`, `regwatch status`). `main` runs it in the foreground with a heartbeat
in the archive; once the archive has been seen, a database gone from its place (`ArchivePresence`)
stops every job and the heartbeat, never recreated empty; SIGTERM and SIGINT stop the crawl child
(it records its crawl as failed), let the running step finish, and exit 0.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from regwatch import steps
from regwatch.config import Config, load_config

MISFIRE_GRACE_SECONDS = 3600  # a run up to an hour late (machine asleep, a long job before it) runs
HEARTBEAT_SECONDS = 60
WORKERS = 1  # jobs run one after another: a digest never races the pipeline it follows
log = logging.getLogger("regwatch.scheduler")
STOP = threading.Event()  # set by SIGTERM / SIGINT: the pipeline ends after its current step

Work = Callable[[Config, datetime], tuple[bool, str]]


class ArchivePresence:
    """Whether the archive this scheduler has seen is still there: once seen, a database that is
    gone (moved away, deleted, its volume unmounted) stops every job and the heartbeat, which
    would otherwise create an empty archive whose first crawl, a backfill, alerts nobody."""

    def __init__(self, config: Config) -> None:
        self.database = steps.archive_database(config)
        self.seen = self.database.exists()

    def refresh(self) -> bool:
        """Whether the archive is there now (once it is, it has been seen)."""
        there = self.database.exists()
        self.seen = self.seen or there
        return there

    def missing(self) -> str | None:
        """None while the archive is there (or was never seen: a first start creates it), else
        one line saying it is gone."""
        if self.refresh() or not self.seen:
            return None
        return (
            f"the archive {self.database} is gone (moved, deleted, or its volume unmounted?): "
            "nothing runs until it is back; restart the scheduler to begin an empty archive"
        )


# --- the jobs: each returns (ok, one-line summary) --------------------------------------------


def pipeline(config: Config, now: datetime) -> tuple[bool, str]:
    """Crawl every source, tag what changed, deliver alerts (under the pipeline lock), then check
    the sources' health."""
    parts, ok = [], True
    with steps.pipeline_lock(config, "regwatch schedule", stop=STOP) as left:
        if left:
            log.warning(left)
        for source in steps.sources(config):
            if STOP.is_set():
                return False, "; ".join([*parts, f"stopped before crawling {source}"])
            crawled = steps.crawl(config, source=source)
            ok &= crawled.ok
            parts.append(_crawl_text(crawled))
        for name, step in (("tagging", _tag), ("reading full texts", _read), ("retagging", _tag)):
            if STOP.is_set():
                return False, "; ".join([*parts, f"stopped before {name}"])
            step_ok, texts = step(config)
            ok &= step_ok
            parts += texts
        alerted = steps.alert(config)
        ok &= not alerted.unwritten
        parts.append(_alerts_text(alerted))
    parts.append(_health_text(steps.check_health(config, now=now)))
    return ok, "; ".join(parts)


def _tag(config: Config) -> tuple[bool, list[str]]:
    tagged = steps.tag(config)
    failed = f", {len(tagged.failed)} FAILED to tag" if tagged.failed else ""
    return not tagged.failed, [f"tagged {tagged.tagged} documents{failed}"]


def _read(config: Config) -> tuple[bool, list[str]]:
    """Fetch the full texts the tag step queued."""
    fetched = steps.fulltext(config)
    return all(result.ok for result in fetched), [_crawl_text(result) for result in fetched]


def weekly_digest(config: Config, now: datetime) -> tuple[bool, str]:
    """The digest of the last complete week, sent to every list (written only, without mail)."""
    result = steps.scheduled_digest(config, now=now)
    return result.ok, _digest_texts(result)


def retry(config: Config, now: datetime) -> tuple[bool, str]:
    """Deliver due alerts, check source health (ops notices retried), send an owed digest late;
    each part runs whatever became of the one before (a broken route stops no digest)."""
    parts = [("health", lambda: _health(config, now)), ("digest", lambda: _owed(config, now))]
    if config["alerts.routes"]:
        parts.insert(0, ("alerts", lambda: _alerts(config)))
    done = [_part(name, part) for name, part in parts]
    return all(ok for ok, _ in done), "; ".join(text for _, text in done if text)


def _part(name: str, part: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
    """A job's part as (ok, text); one that raises is (False, "<name> FAILED: <error>")."""
    try:
        return part()
    except Exception as exc:  # noqa: BLE001 - the job's other parts must still run
        log.debug("%s raised", name, exc_info=True)
        return False, f"{name} FAILED: {_one_line(exc)}"


def _alerts(config: Config) -> tuple[bool, str]:
    alerted = steps.alert(config)
    return not (alerted.delivery.failed or alerted.unwritten), _alerts_text(alerted)


def _health(config: Config, now: datetime) -> tuple[bool, str]:
    health = steps.check_health(config, now=now)
    return not health.notify_failed, _health_text(health)


def _owed(config: Config, now: datetime) -> tuple[bool, str]:
    """Send the last week's digest late to each list owed it."""
    owed = owed_digest_lists(config, now)
    if not owed:
        return True, ""
    result = steps.scheduled_digest(config, now=now, lists=owed, sent_late=True)
    return result.ok, _digest_texts(result, late=True)


JOBS: dict[str, Work] = {"pipeline": pipeline, "weekly_digest": weekly_digest, "retry": retry}


def run_job(
    job_id: str,
    config: Config,
    now: datetime | None = None,
    present: ArchivePresence | None = None,
) -> bool:
    """Run one job, record it in the archive and log one line; never raises. Returns ok. With
    `present`, a job finding the archive gone fails without running (nothing is created)."""
    gone = present.missing() if present else None
    if gone:
        log.error("%s FAILED: %s", job_id, gone)
        return False
    now = now or datetime.now(UTC)
    began = time.monotonic()
    run_id = _record(steps.job_started, config, job_id, now)
    try:
        ok, summary = JOBS[job_id](config, now)
    except Exception as exc:  # noqa: BLE001 - a failing step must never stop the scheduler
        ok, summary = False, _one_line(exc)
        log.debug("%s raised", job_id, exc_info=True)
    seconds = time.monotonic() - began
    level = logging.INFO if ok else logging.ERROR
    log.log(level, "%s %s in %.1f s: %s", job_id, "ok" if ok else "FAILED", seconds, summary)
    if run_id is not None:
        finished = now + timedelta(seconds=seconds)
        _record(steps.job_finished, config, run_id, finished, ok, summary)
    if present:
        present.refresh()  # a first job creates the archive: from now on it must stay
    return ok


# --- the timetable ------------------------------------------------------------------------------


def triggers(config: Config) -> dict[str, BaseTrigger]:
    """Each job's trigger in `schedule.timezone`."""
    zone = ZoneInfo(config["schedule.timezone"])
    crons = [CronTrigger.from_crontab(text, timezone=zone) for text in config["schedule.crawl"]]
    return {
        "pipeline": crons[0] if len(crons) == 1 else OrTrigger(crons),
        "weekly_digest": CronTrigger.from_crontab(config["schedule.digest"], timezone=zone),
        "retry": IntervalTrigger(
            minutes=config["schedule.retry_minutes"],
            timezone=zone,
            start_date=datetime(2000, 1, 3, tzinfo=zone),  # whole minutes, whatever the start
        ),
    }


def build_scheduler(config: Config, present: ArchivePresence | None = None) -> BlockingScheduler:
    """A scheduler holding the three jobs, with explicit ids and misfire handling (and, with
    `present`, each job checking the archive is still there)."""
    scheduler = BlockingScheduler(
        timezone=config["schedule.timezone"],
        executors={"default": ThreadPoolExecutor(WORKERS)},
    )
    for job_id, trigger in triggers(config).items():
        scheduler.add_job(
            run_job,
            trigger,
            args=[job_id, config, None, present],
            id=job_id,
            name=job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
        )
    scheduler.add_listener(lambda event: _run_missed(scheduler, event), EVENT_JOB_MISSED)
    return scheduler


def _run_missed(scheduler: BlockingScheduler, event: JobExecutionEvent) -> None:
    """A pipeline run missed by more than its grace while the scheduler ran (the machine asleep)
    runs once now, as after downtime; a missed digest is sent late by `retry`. The change waits
    in a thread: this may be called while the scheduler, holding its job-store lock, has yet to
    move the job to its next run time, which would undo it."""
    if event.job_id != "pipeline" or STOP.is_set():
        return
    due = event.scheduled_run_time.isoformat()
    log.warning("pipeline: the run due at %s was missed (machine asleep?); running it now", due)
    now = {"next_run_time": datetime.now(UTC)}  # set once the scheduler has set the next run
    threading.Thread(target=scheduler.modify_job, args=["pipeline"], kwargs=now).start()


def next_runs(config: Config, now: datetime, count: int = 3) -> dict[str, list[datetime]]:
    """The next `count` run times of each job after `now`."""
    found = {}
    for job_id, trigger in triggers(config).items():
        times: list[datetime] = []
        previous, moment = None, now
        while len(times) < count:
            fire = trigger.get_next_fire_time(previous, moment)
            if fire is None:
                break
            times.append(fire)
            previous, moment = fire, fire + timedelta(microseconds=1)
        found[job_id] = times
    return found


def catch_up(config: Config, now: datetime) -> list[str]:
    """The jobs to run at once on start: a pipeline run missed while the scheduler was down
    (once, however many were missed), and `retry` when a list is owed the last week's digest.
    With no archive yet (a first start) nothing was missed or is owed."""
    if not steps.archive_database(config).exists():
        return []
    due = []
    if missed_pipeline(config, now):
        due.append("pipeline")
    if owed_digest_lists(config, now):
        due.append("retry")
    return due


def missed_pipeline(config: Config, now: datetime) -> bool:
    """Whether a pipeline run fell due after the last one started (or, if it never ran, after
    the scheduler first started) and before `now`, or the last one never finished (the scheduler
    was killed during it: its crawl is not retried before the next run time, a weekend away)."""
    last = steps.last_job_runs(config).get("pipeline")
    if last is not None and last.finished_at is None:
        return True
    beat = steps.last_heartbeat(config)
    since = last.started_at if last else beat.started_at if beat else None
    if since is None:
        return False  # a first start: nothing was missed
    after = _parse(since) + timedelta(microseconds=1)
    fire = triggers(config)["pipeline"].get_next_fire_time(None, after)
    return fire is not None and fire <= now


def owed_digest_lists(config: Config, now: datetime) -> list[str]:
    """Lists the digest log holds no send of the last complete week for, once that digest is
    overdue: the weekly job ran for it, or its run time passed more than the misfire grace ago."""
    if not steps.digest_sending(config):
        return []
    week = steps.digest_week(config, now)
    zone = ZoneInfo(config["schedule.timezone"])
    monday = date.fromisoformat(week.end) + timedelta(days=1)
    due = triggers(config)["weekly_digest"].get_next_fire_time(
        None, datetime.combine(monday, clock_time(), zone)
    )
    if due is None or due > now:
        return []
    last = steps.last_job_runs(config).get("weekly_digest")
    ran = last is not None and _parse(last.started_at) >= due
    if not ran and now < due + timedelta(seconds=MISFIRE_GRACE_SECONDS):
        return []  # the weekly job may still run it on time
    return steps.unsent_digest_lists(config, week)


# --- running it ---------------------------------------------------------------------------------


def main(config: Config | None = None) -> None:
    """Run the schedule in the foreground until SIGTERM or SIGINT; then exit cleanly."""
    from crawlers.child import stop_children

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our one line per run suffices
    config = config or load_config()
    present = ArchivePresence(config)
    scheduler = build_scheduler(config, present)
    started = datetime.now(UTC)
    for job_id in catch_up(config, started):
        log.info("%s: a run fell due while the scheduler was down; running it now", job_id)
        scheduler.modify_job(job_id, next_run_time=started)

    stopping: list[threading.Thread] = []

    def stop(signum: int, frame: object) -> None:
        if STOP.is_set():
            return
        log.info("%s: letting the running step finish, then stopping", signal.Signals(signum).name)
        STOP.set()
        stop_children()
        stopping.append(threading.Thread(target=scheduler.shutdown, name="shutdown"))
        stopping[-1].start()  # waits for the running job; start() returns once it has

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    beat = threading.Thread(target=_beat, args=(config, started, present), name="heartbeat")
    beat.daemon = True
    beat.start()
    for job_id, times in next_runs(config, started, 1).items():
        log.info("%s: next run %s", job_id, times[0].isoformat() if times else "never")
    scheduler.start()
    for thread in stopping:
        thread.join()
    log.info("stopped")


def _beat(config: Config, started: datetime, present: ArchivePresence) -> None:
    while True:
        beat_once(config, started, present)
        if STOP.wait(HEARTBEAT_SECONDS):
            return


def beat_once(config: Config, started: datetime, present: ArchivePresence) -> None:
    """Record one heartbeat, unless the archive is gone (logged: recording would create it)."""
    gone = present.missing()
    if gone:
        log.error("heartbeat not recorded: %s", gone)
        return
    _record(steps.heartbeat, config, os.getpid(), started, datetime.now(UTC))
    present.refresh()


def _record(step: Callable[..., object], config: Config, *args: object) -> object:
    """Call a recording step; a failure is logged, never raised (the jobs matter more)."""
    try:
        return step(config, *args)
    except Exception as exc:  # noqa: BLE001 - an unwritable archive must not stop the scheduler
        log.error("could not record in the archive: %s", _one_line(exc))
        return None


def _parse(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _crawl_text(result: steps.CrawlResult) -> str:
    done = result.summary() if result.ok else f"FAILED: {result.error}"
    return f"{result.source} {done}"


def _alerts_text(result: steps.AlertResult) -> str:
    done = result.delivery
    unwritten = f"; feeds NOT written: {result.unwritten}" if result.unwritten else ""
    return f"alerts {done.sent} sent, {done.retrying} to retry, {done.failed} failed{unwritten}"


def _health_text(health: steps.HealthResult) -> str:
    parts = [f"opened {i.source} {i.kind}" for i in health.opened]
    parts += [f"cleared {i.source} {i.kind}" for i in health.cleared]
    if health.notify_failed:
        parts.append(f"{health.notify_failed} ops notices FAILED (retried)")
    return f"incidents: {len(health.open)} open" + "".join(f", {part}" for part in parts)


def _digest_texts(result: steps.DigestResult, late: bool = False) -> str:
    texts = [_digest_text(entry, late) for entry in result.lists]
    if result.unwritten:
        texts.append(f"files NOT written: {result.unwritten}")
    return "; ".join(texts)


def _digest_text(entry: steps.ListDigest, late: bool = False) -> str:
    status = "sent late" if late and entry.status == "sent" else entry.status
    detail = f" ({entry.detail})" if entry.detail else ""
    found = f"{entry.listed} listed, {status}{detail}"
    return f"digest {entry.label} for list {entry.list_name}: {found}"


if __name__ == "__main__":
    main()
