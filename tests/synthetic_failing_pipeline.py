"""SYNTHETIC: an item pipeline that raises on one document, as a broken pipeline would.

Enters: items; the setting `SYNTHETIC_FAILING_ID` (the `source_id` to raise on).
Leaves: every other item unchanged; `RuntimeError` for that one (Scrapy's `item_error`).
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler


class SyntheticFailingPipeline:
    def __init__(self, failing_id: str) -> None:
        self.failing_id = failing_id

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SyntheticFailingPipeline:
        return cls(crawler.settings["SYNTHETIC_FAILING_ID"])

    def process_item(self, item: Any) -> Any:
        if getattr(item, "source_id", None) == self.failing_id:
            raise RuntimeError("synthetic failure of a pipeline")
        return item
