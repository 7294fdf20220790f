"""The Consolidated Screening List download, replayed from `recordings/csl/`.

Enters: a request path, the scenario's `sources.csl` options (`{"snapshot": FILE}`, default
`DEFAULT_SNAPSHOT`; or `{"snapshots": [FILE, …]}`, the n-th download getting the n-th file and
later ones the last) and how many downloads were served before this one.
Leaves: `(status, body, content type)` for `PATH` (the snapshot file's bytes, as written: Python
`json.dump` defaults, like ITA's generator), or None for any other path. No real CSL body was ever
recorded (csl.md §5): every snapshot here is named synthetic (see `recordings/csl/PROVENANCE.md`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PATH = "/downloadable_consolidated_screening_list/v1/consolidated.json"
BASE_PATH = "/downloadable_consolidated_screening_list/v1/"
SOURCE_DIR = "csl"
DEFAULT_SNAPSHOT = "synthetic-consolidated-1.json"
JSON_TYPE = "application/json"


def answer(
    recordings: Path, path: str, options: dict[str, Any], served: int = 0
) -> tuple[int, bytes, str] | None:
    """The reply to `path`, or None if it is not the download."""
    if path != PATH:
        return None
    sequence = options.get("snapshots") or [options.get("snapshot", DEFAULT_SNAPSHOT)]
    name = Path(sequence[min(served, len(sequence) - 1)]).name
    return 200, (recordings / SOURCE_DIR / name).read_bytes(), JSON_TYPE
