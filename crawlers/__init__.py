"""The Scrapy project: one spider per source, the archive pipeline and the crawl step.

Enters: a source name and a date range (`crawlers.run.crawl`), with base URLs from configuration.
Leaves: `Publication` items stored in the archive through `crawlers.pipelines`, a watermark moved
only after a complete crawl, and a `CrawlResult`. It fetches and normalises; it never tags.
"""
