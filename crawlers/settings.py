"""Scrapy settings of the regwatch crawlers.

Enters: nothing; `crawlers.run` layers per-crawl values on top (`REGWATCH_HOME`, `REGWATCH_SOURCE`,
`REGWATCH_BASE_URL`, `USER_AGENT` built from the configured contact) and test overrides.
Leaves: the settings every crawl starts from. Politeness: the Federal Register allows 5 requests/s
(maintainer, 2019), so one request at a time per host with a fixed 0.2 s delay.
"""

BOT_NAME = "regwatch"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

# The APIs are meant for programmatic use: no robots.txt for them. The web-site spiders (BIS, NTIA)
# obey it (crawlers.site sets ROBOTSTXT_OBEY for them).
ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 0.2
DOWNLOAD_DELAY_JITTER = 0  # a random variation would allow bursts above 5 requests/s
DOWNLOAD_TIMEOUT = 60
# A full page of 1,000 documents is a few MB. The cap holds for decompressed bodies too (Scrapy's
# HttpCompressionMiddleware stops inflating at DOWNLOAD_MAXSIZE), so a gzip bomb fails the request.
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024
DOWNLOAD_WARNSIZE = 16 * 1024 * 1024
# Only http(s) is ever fetched (OriginGuardMiddleware checks every request against the API host).
DOWNLOAD_HANDLERS = {"file": None, "data": None, "ftp": None, "s3": None}
METAREFRESH_ENABLED = False

# A compressed body cut short fails its request (crawlers.middlewares.WholeBodyMiddleware).
# 5xx, 408, 429 and timeouts are retried with exponential backoff (crawlers.middlewares);
# Retry-After on 429/503 is honoured, capped at RETRY_AFTER_MAX seconds.
RETRY_TIMES = 5
RETRY_BACKOFF_BASE = 1.0
RETRY_BACKOFF_MAX = 30.0
RETRY_AFTER_MAX = 120.0
DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.OriginGuardMiddleware": 50,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawlers.middlewares.BackoffRetryMiddleware": 550,
    "crawlers.middlewares.WholeBodyMiddleware": 595,  # before HttpCompressionMiddleware (590)
}

ITEM_PIPELINES = {"crawlers.pipelines.ArchivePipeline": 300}
REGWATCH_BATCH_SIZE = 500

LOG_LEVEL = "WARNING"
