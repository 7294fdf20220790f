"""Crawl failures recorded in the Scrapy stats, shared by spiders, pipelines and `run`.

Enters: failure messages (a failed slice or page, an unparseable body, an access wall).
Leaves: the `regwatch/…` stats keys read back after the crawl; any recorded failure keeps the
watermark where it is. Full texts that could not be read are counted (`record_body_failure`);
`body_outage` turns a run in which the host served none of them into a failure. A message is kept
as one line with URL credentials redacted.
"""

from __future__ import annotations

import logging

from scrapy.statscollectors import StatsCollector

from crawlers.urls import redact

FAILURES = "regwatch/failures"
ERRORS = "regwatch/errors"
OK = "regwatch/ok"
LOGGED = "regwatch/logged"  # the crawl's `log_crawl` entry is written
WATERMARK = "regwatch/watermark"
STORED = ("inserted", "updated", "unchanged")
# In the crawl log when the crawl did them (`repaired`: unchanged, damaged lists or raw rewritten).
EXTRA = ("repaired", "withdrawn", "bodies", "bodies_failed")
BODIES_HOST_FAILED = "regwatch/bodies_host_failed"  # full texts the host did not serve
FIRST_HOST_ERROR = "regwatch/first_host_error"

logger = logging.getLogger(__name__)


def record_failure(stats: StatsCollector, message: str) -> None:
    """Count one failure and keep its message (one line, credentials redacted)."""
    message = " ".join(redact(message).split())
    logger.error(message)
    stats.inc_value(FAILURES)
    stats.set_value(ERRORS, [*errors(stats), message])


def errors(stats: StatsCollector) -> list[str]:
    """The failure messages recorded so far, oldest first."""
    return list(stats.get_value(ERRORS) or [])


def record_body_failure(stats: StatsCollector, error: str, *, host_failed: bool) -> None:
    """Count one full text that could not be read (and, the first time, keep a host's reason)."""
    stats.inc_value("regwatch/bodies_failed")
    if host_failed:
        stats.inc_value(BODIES_HOST_FAILED)
        if stats.get_value(FIRST_HOST_ERROR) is None:
            stats.set_value(FIRST_HOST_ERROR, error)


def body_outage(stats: StatsCollector, grace_days: float) -> str | None:
    """Why the crawl failed when it read no full text and the host served none of those it was
    asked for (every failure was the host's: it is down or refusing us), else None; such a run
    uses up no text's attempts until the text has failed for `grace_days`."""
    failed = stats.get_value("regwatch/bodies_failed", 0)
    if stats.get_value("regwatch/bodies", 0) or not failed:
        return None
    if stats.get_value(BODIES_HOST_FAILED, 0) < failed:
        return None
    first = stats.get_value(FIRST_HOST_ERROR)
    return (
        f"no full text read: the host served none of the {failed} asked for "
        f"(first: {first}); later runs ask again (an outage uses up no text's attempts "
        f"until the text has failed for {grace_days:g} days)"
    )
