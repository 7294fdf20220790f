"""What a press release says about Federal Register documents: numbers, citations, RINs, titles.

Enters: a release's title and text; for a title match, the titles of Federal Register documents of
the release's agency published near it.
Leaves: `References` (document numbers like `2024-12345` or `C1-2024-12345`, FR citations like
`89 FR 12345`, RINs like `0694-AJ90`, each distinct, in order of appearance) and `title_match`,
the candidate whose title is nearly the release's (rapidfuzz `token_sort_ratio` at or above
`TITLE_SCORE`), or None. Plain functions: nothing here reads or writes the archive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DOCUMENT_NUMBER = re.compile(r"(?<![\w-])((?:C\d-)?(?:19|20)\d{2}-\d{5})(?![\w-])")
CITATION = re.compile(r"(?<![\w-])(\d{1,3})\s+FR\s+(\d{1,6})(?![\w-])")
RIN = re.compile(r"(?<![\w-])(\d{4}-[A-Z]{2}\d{2})(?![\w-])")
TITLE_SCORE = 90.0  # near-identical titles only: a wrong link is worse than a missing one


@dataclass(frozen=True, slots=True)
class References:
    document_numbers: tuple[str, ...] = ()
    citations: tuple[str, ...] = ()
    rins: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.document_numbers or self.citations or self.rins)


def references(text: str) -> References:
    """The Federal Register documents `text` names."""
    return References(
        document_numbers=_distinct(DOCUMENT_NUMBER.findall(text)),
        citations=_distinct(f"{volume} FR {page}" for volume, page in CITATION.findall(text)),
        rins=_distinct(RIN.findall(text)),
    )


def title_match(title: str, candidates: Iterable[tuple[int, str]]) -> tuple[int, float] | None:
    """The (id, score) of the candidate (id, title) most like `title`, if it scores highly."""
    from rapidfuzz import fuzz, utils

    best = max(
        (
            (pid, fuzz.token_sort_ratio(title, other, processor=utils.default_process))
            for pid, other in candidates
        ),
        key=lambda pair: pair[1],
        default=None,
    )
    return best if best is not None and best[1] >= TITLE_SCORE else None


def _distinct(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
