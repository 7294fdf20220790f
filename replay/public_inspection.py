"""Federal Register public inspection: `current.json` and the `conditions[available_on]` search.

Enters: the recorded public-inspection documents named in `api.json` (`public_inspection`: the
results of `recorded/pi-search.json` and the single document of `recorded/pi-document.json`),
optionally a scenario's synthetic filings (JSON list, same shape) and the document numbers it
withdraws, and one request (the current issue, or one `available_on` date).
Leaves: a `Reply` with the issue envelope `{count, results, special_filings_updated_at,
regular_filings_updated_at}` (the documents whose `last_public_inspection_issue` is that date, in
the search results' shape), or the recorded `{"count":0,"results":[]}` for a date without an issue.
The single-document record is brought to the search shape the way the recordings differ
(`filed_at` and `pdf_updated_at` in UTC with `Z`, `agency_names` null, `excerpts` null, `json_url`
added). Inferred, never recorded: the two `*_updated_at` values (the newest `filed_at` of each
filing type, null when there is none).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.records import iso_date
from replay.federal_register import ApiError, Reply, dump

JSON_URL = "https://www.federalregister.gov/api/v1/public_inspection_documents/{number}"
UTC_STAMP = "%Y-%m-%dT%H:%M:%SZ"


class InspectionDesk:
    """The public-inspection documents the replay serves, by issue date."""

    def __init__(self, records: Iterable[dict[str, Any]], no_issue: bytes) -> None:
        self.records = sorted(records, key=lambda r: r["document_number"])
        self.no_issue = no_issue

    @classmethod
    def load(
        cls,
        source_dir: Path,
        api: dict[str, Any],
        extra: Path | None = None,
        withdrawn: Iterable[str] = (),
    ) -> InspectionDesk:
        """The recorded documents, plus `extra` filings, minus the `withdrawn` numbers."""
        facts = api["public_inspection"]
        found = [r for f in facts["search_files"] for r in _read(source_dir / f)["results"]]
        found += [search_shape(_read(source_dir / f)) for f in facts["document_files"]]
        found += _read(extra) if extra else []
        by_number = {r["document_number"]: r for r in found}
        for number in withdrawn:
            by_number.pop(number, None)
        return cls(by_number.values(), (source_dir / facts["no_issue"]).read_bytes())

    def current(self) -> Reply:
        """The latest issue (`current.json`)."""
        issues = [r["last_public_inspection_issue"] for r in self.records]
        return self.issue(max(issues)) if issues else Reply(200, self.no_issue)

    def search(self, pairs: list[tuple[str, str]]) -> Reply:
        """`public-inspection-documents.json?conditions[available_on]=YYYY-MM-DD`."""
        day = dict(pairs).get("conditions[available_on]")
        if day is None:
            raise ApiError(
                501, {"status": 501, "message": "synthetic: only available_on is emulated"}
            )
        if iso_date(day) is None:
            raise ApiError(400, {"errors": {"available_on": "is not a valid date"}})
        return self.issue(day)

    def issue(self, day: str) -> Reply:
        rows = [r for r in self.records if r["last_public_inspection_issue"] == day]
        if not rows:
            return Reply(200, self.no_issue)
        body = {
            "count": len(rows),
            "results": rows,
            "special_filings_updated_at": _newest(rows, "special"),
            "regular_filings_updated_at": _newest(rows, "regular"),
        }
        return Reply(200, dump(body))


def search_shape(document: dict[str, Any]) -> dict[str, Any]:
    """A single-document record in the form search results give it."""
    shaped = {
        **document,
        "agency_names": None,
        "excerpts": None,
        "json_url": JSON_URL.format(number=document["document_number"]),
        "filed_at": _utc(document["filed_at"]),
        "pdf_updated_at": _utc(document["pdf_updated_at"]),
    }
    return dict(sorted(shaped.items()))


def _utc(stamp: str | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime(UTC_STAMP)


def _newest(rows: list[dict[str, Any]], filing_type: str) -> str | None:
    stamps = [r["filed_at"] for r in rows if r.get("filing_type") == filing_type and r["filed_at"]]
    return max(stamps) if stamps else None


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
