"""Crawl failures recorded in the Scrapy stats, shared by spiders, pipelines and `run`.

Enters: failure messages (a failed slice or page, an unparseable body, an access wall).
Leaves: the `regwatch/…` stats keys read back after the crawl; any recorded failure keeps the
watermark where it is. A message is kept as one line with URL credentials redacted.
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
EXTRA = ("withdrawn", "bodies", "bodies_failed")  # in the crawl log when the crawl did them

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
