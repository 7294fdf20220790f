"""One chat message per alert: short Markdown, inert whatever the document says, within a limit.

Enters: an outbox payload (title, url, agencies, type, dates, tags, why, kind, related, watch, and
for rules the `screening` sentence and `section_changes` lines), the largest message the
endpoint takes (its plugin's `body_maxlen`) and its `Dialect` (an e-mail's title and eCFR date
links also show their URLs, which the text/plain part keeps).
Leaves: the message text (`message`; `in_dialect` for other inert Markdown, such as ops notices),
and for an e-mail its Subject (`subject`: the change label
and title on one plain line, without control, bidi or line-break characters, so it adds no
header). Message lines, most important first: for a watch-list hit, "Watch-list hit:" and the
watched items; the title as a link (http(s) only; after `change_label`: "Updated:",
"Withdrawn from public inspection:", "Back on public inspection:"), agency · type · publication
date, key dates, related releases or documents (titles), the sentence quoted for each watch-list
hit, "Screening lists: adds N parties in M countries; …", up to `MAX_SECTION_LINES`
"§ 744.23(a)(2): old → new" lines with both eCFR versions linked (http(s) only), why; quotes,
screening and section lines only while the title keeps a third of the limit. Text from
documents is made inert: control characters removed, Markdown characters escaped (for Slack and
Google Chat, which would show the backslash, look-alikes: `∗` `ˍ` `∼`), `<` `>` replaced (so
Slack's `<!channel>` / `<@U…>` are text) and a zero-width space put after every `@` (so
`@everyone`, `@here` ping nobody). Too long: the why is shortened, then dropped, then the title
text shortened; a link is kept whole or left out, never cut.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from regwatch.inert import markdown_url, one_line

MAX_SECTION_LINES = 3
MAX_CHARS = 1000  # short enough to read in a channel; below every supported platform's limit
ZWSP = "\u200b"
MARKDOWN = re.compile(r"([\\`*_~\[\]|#])")
ESCAPED = re.compile(r"\\(.)")  # a character `inert` escaped (URLs hold no backslash)
DATE_LABELS = {
    "comments_close_on": "comments close",
    "effective_on": "effective",
    "compliance_on": "compliance",
}


@dataclass(frozen=True)
class Dialect:
    """How one kind of endpoint gets its message: `title_link` links the title ({text}) to the
    document ({url}), `date_link` an eCFR version's date ({text}) to that version ({url});
    `escaped` writes instead a character escaped with a backslash where the endpoint would show
    the backslash."""

    title_link: str = "[{text}]({url})"
    date_link: str = "[{text}]({url})"
    escaped: Mapping[str, str] = field(default_factory=dict)


CHAT = Dialect()
# Apprise builds an e-mail's text/plain part from its HTML and drops every link's URL: the URL is
# written out too, read as `title <url>` there (a URL in plain text, RFC 3986 appendix C). An
# eCFR date is followed by its version's URL as a link, `2024-12-04 <url>`: the date linked as
# well would leave no room for the changed text on the line.
EMAIL = Dialect(title_link="[{text}]({url}) \\<<{url}>\\>", date_link="{text} \\<<{url}>\\>")
# Slack's mrkdwn and Google Chat honour no backslash before their formatting characters (Apprise
# passes it on, shown as `\*`): look-alikes read as written and format nothing. Slack shows every
# other backslash too; `|` needs none there (`<` `>` are already gone, so no `<url|text>`).
LOOKALIKES = {"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"}
SLACK = Dialect(escaped={**LOOKALIKES, "\\": "∖", "|": "|"})
GOOGLE_CHAT = Dialect(escaped=LOOKALIKES)


def inert(text: Any) -> str:
    """Untrusted text as plain chat text: no markup, no mentions, one line."""
    text = one_line(text or "")
    text = text.replace("<", "‹").replace(">", "›").replace("@", "@" + ZWSP)
    return MARKDOWN.sub(r"\\\1", text)


def message(payload: dict[str, Any], limit: int = MAX_CHARS, dialect: Dialect = CHAT) -> str:
    """The message for one alert in `dialect`, at most `min(limit, MAX_CHARS)` characters."""
    limit = min(limit, MAX_CHARS)
    meta = " · ".join(
        inert(part)
        for part in (
            ", ".join(payload.get("agencies") or ()),
            payload.get("type"),
            payload.get("publication_date"),
        )
        if part
    )
    dates = "; ".join(
        f"{label} {inert(payload['dates'][kind])}"
        for kind, label in DATE_LABELS.items()
        if (payload.get("dates") or {}).get(kind)
    )
    body = [_shorten(meta, limit // 3)] if meta else []
    body += [_shorten(f"Dates: {dates}", limit // 4)] if dates else []
    related = "; ".join(inert(r.get("title")) for r in payload.get("related") or () if r)
    body += [_shorten(f"Related: {related}", limit // 4)] if related else []
    watch, quotes = _watch(payload.get("watch") or [], limit)
    keep = limit * 2 // 3 - _length(watch)  # the title keeps the rest
    for quote in quotes:
        if _length(body) + len(quote) > keep:
            break
        body.append(quote)
    if payload.get("screening"):
        screening = _shorten(f"Screening lists: {inert(payload['screening'])}", limit // 4)
        body += [screening] if _length(body) + len(screening) <= keep else []
    for line in (payload.get("section_changes") or [])[:MAX_SECTION_LINES]:
        shown = _section_line(line, limit // 4, dialect) if isinstance(line, dict) else ""
        if not shown or _length(body) + len(shown) > keep:
            break
        body.append(shown)
    why = _why(payload.get("why") or {})
    head = _head(payload, limit - _length(body) - _length(watch), dialect)
    text = "\n".join([*watch, head, *body])
    room = limit - len(text) - 1
    if why and room > len("Why: …"):
        text += "\n" + _shorten("Why: " + why, room)
    return in_dialect(text, dialect)


def in_dialect(text: str, dialect: Dialect) -> str:
    """Inert Markdown `text` (`inert`) with each escaped character written as `dialect` wants."""
    if not dialect.escaped:
        return text
    return ESCAPED.sub(lambda pair: dialect.escaped.get(pair[1], pair[0]), text)


def subject(payload: dict[str, Any], limit: int) -> str:
    """The alert as one plain line of at most `limit` characters (an e-mail's Subject, where
    nothing is markup): the change label, then the title."""
    label = change_label(payload)
    title = one_line(payload.get("title")) or one_line(payload.get("document_number"))
    return _shorten(f"{label}: {title}" if label else title, limit)


def change_label(payload: dict[str, Any]) -> str:
    """What an alert's change is ("Withdrawn from public inspection", "Back on public
    inspection", "Updated"), or "" for a new document: said first by messages and feed entries."""
    if payload.get("withdrawn_at"):
        return "Withdrawn from public inspection"
    if payload.get("relisted_at"):
        return "Back on public inspection"
    return "Updated" if payload.get("kind") == "updated" else ""


def _head(payload: dict[str, Any], room: int, dialect: Dialect) -> str:
    label = change_label(payload)
    prefix = f"**{label}:** " if label else ""
    title = inert(payload.get("title")) or inert(payload.get("document_number"))
    url = markdown_url(payload.get("url"))
    link = dialect.title_link.format(text="", url=url) if url else ""
    if link and len(prefix) + len(link) + len("…") < room:
        text = _shorten(title, room - len(prefix) - len(link))
        return prefix + dialect.title_link.format(text=text, url=url)
    return prefix + _shorten(title, room - len(prefix))


def _watch(hits: list[dict[str, Any]], limit: int) -> tuple[list[str], list[str]]:
    """The "Watch-list hit: <items>" first line and one quote line per hit."""
    hits = [hit for hit in hits if isinstance(hit, dict)]
    if not hits:
        return [], []
    items = "; ".join(dict.fromkeys(inert(hit.get("item")) for hit in hits))
    quotes = [
        _shorten(f"“{inert(hit.get('quote'))}” ({inert(hit.get('field'))})", limit // 4)
        for hit in hits
    ]
    return [_shorten(f"Watch-list hit: {items}", limit // 4)], quotes


def _section_line(line: dict[str, Any], room: int, dialect: Dialect) -> str:
    """`§ 744.23(a)(2): old → new (before → after)`, the dates linked (`dialect.date_link`) when
    both links fit."""
    text = f"{inert(line.get('label'))}: {inert(line.get('old') or '(added)')} → "
    text += inert(line.get("new") or "(removed)")
    urls = [markdown_url(line.get("old_url")), markdown_url(line.get("new_url"))]
    dates = [inert(line.get("old_date")), inert(line.get("new_date"))]
    links = " → ".join(
        dialect.date_link.format(text=d, url=u) for d, u in zip(dates, urls, strict=True)
    )
    links = f" ({links})" if all(urls) else ""
    if len(links) > room * 2 // 3:
        links = ""
    return _shorten(text, room - len(links)) + links


def _why(why: dict[str, list[list[str]]]) -> str:
    parts = []
    for tag, found in why.items():
        quoted = ", ".join(f"“{inert(text)}” ({inert(field)})" for text, field in found)
        parts.append(f"{inert(tag)}: {quoted}")
    return "; ".join(parts)


def _length(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _shorten(text: str, room: int) -> str:
    """`text`, or its longest prefix ending on a word boundary plus "…", within `room`."""
    if len(text) <= room:
        return text
    if room < 2:
        return ""
    cut = text[: room - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip("\\ ") + "…"
