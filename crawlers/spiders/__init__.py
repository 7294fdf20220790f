"""Spiders, one module per source, named after it.

Enters: a date range and per-source facts from `crawlers/sources.json`.
Leaves: `Publication` / `Rejected` items and follow-up requests; nothing else.
"""
