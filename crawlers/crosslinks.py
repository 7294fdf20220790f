"""Link press releases to the Federal Register documents they name, after each crawl.

Enters: an open `Archive` and the registry (`crawlers/sources.json`): every source with
`agencies` and `link_title_days` publishes releases; links point at `TARGETS`.
Leaves: links stored in the archive for every release never linked or changed since: a document
number, FR citation or RIN the release's text names (`crawlers.references`) that matches a stored
document; failing those, a document of the release's agency published within `link_title_days`
whose title is nearly the release's. Returns the number of releases linked. A release naming
nothing stored is looked at again after the next crawl (its rule may be published later).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawlers.references import references, title_match
from crawlers.sources import registry

if TYPE_CHECKING:
    from archive import Archive

TARGETS = ("federal_register", "federal_register_pi")


def link_releases(archive: Archive) -> int:
    """Store the links of every release still to link; the number of releases linked."""
    sources = {name: spec for name, spec in registry().items() if "link_title_days" in spec}
    linked = 0
    for release in archive.releases_to_link(list(sources)):
        found = release_links(archive, release, sources[release["source"]])
        if found or release["had_links"]:
            archive.store_links(release["id"], found)
        linked += bool(found)
    return linked


def release_links(archive: Archive, release: dict, spec: dict) -> list[tuple[int, str, str]]:
    """(document id, kind, evidence) for what `release` names, else a title match."""
    text = "\n".join(release[k] or "" for k in ("title", "abstract", "body_text"))
    named = references(text)
    day = release["publication_date"]
    if named:
        found = archive.named_documents(
            TARGETS,
            document_numbers=named.document_numbers,
            citations=named.citations,
            rins=named.rins,
            near=day,
        )
        if found:
            return found
    for agency in spec["agencies"]:
        candidates = archive.titles_near(TARGETS, agency["slug"], day, spec["link_title_days"])
        best = title_match(release["title"], candidates)
        if best is not None:
            return [(best[0], "title", f"title {best[1]:.0f}% alike")]
    return []
