"""Make text that came from a source inert where a person reads it.

Enters: strings from documents, sources or users (titles, snippets, URLs, queries, error messages).
Leaves: the same text made harmless for one destination: `http_url` (a link in HTML, or None when
it must be shown as text), `markdown_url` (a link target in Markdown or chat), `terminal_text` (no
control characters, escape sequences or bidi overrides), `one_line` (that, on one line),
`csv_cell` (no spreadsheet formula), `shorten` (a long value cut in the middle), `error_text` (an
error message as one line of at most `ERROR_WIDTH` characters, for a terminal or a page).
Standard library only, so every package may import it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

ERROR_WIDTH = 300  # characters of an error line; a longer quoted query or URL is cut in the middle
# Escape sequences (CSI by ESC [ or C1 0x9b, OSC, other two-byte escapes), then any single control
# left over: C0 except tab and newline, DEL, C1, and the bidi embeddings, overrides, isolates.
_ESCAPES = re.compile(
    r"\x9b[0-?]*[ -/]*[@-~]|\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.)?",
    re.DOTALL,
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_LINK_SAFE = ":/?#&=%+,;.-_~$'"
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\\\"'<>`]")


def http_url(value: Any) -> str | None:
    """`value` if it is an absolute http(s) URL with a host and nothing to break out of an
    attribute; else None (show the text, never a link: `javascript:`, `data:`, relative paths)."""
    if not isinstance(value, str) or _URL_UNSAFE.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def markdown_url(value: Any) -> str | None:
    """`http_url(value)` (surrounding spaces ignored) percent-encoded for a Markdown or chat link
    target: brackets, parentheses, `@`, `!` and `*` encoded, so it can neither end the link nor
    mention anyone; None for anything that is not an http(s) URL."""
    url = http_url(value.strip() if isinstance(value, str) else value)
    return None if url is None else quote(url, safe=_LINK_SAFE)


def terminal_text(value: str) -> str:
    """`value` without escape sequences or control characters (newline and tab are kept)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", value))


def one_line(value: Any) -> str:
    """`value` as text on one line: what `terminal_text` removes, removed; every run of
    whitespace (newlines and tabs included) made one space; None is empty."""
    return " ".join(terminal_text("" if value is None else str(value)).split())


def csv_cell(value: Any) -> Any:
    """A string a spreadsheet would read as a formula gets a leading `'`; other values as given."""
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value


def error_text(message: object) -> str:
    """The first line of `message` (an exception's text), inert (`terminal_text`), cut in the
    middle to `ERROR_WIDTH` characters (a quoted query, URL or document number of any length)."""
    return shorten(terminal_text(str(message)).strip().split("\n")[0], ERROR_WIDTH)


def shorten(value: str, width: int = 200) -> str:
    """`value` if at most `width` characters, else its start and end around `…`."""
    if len(value) <= width:
        return value
    head = (width - 1) * 2 // 3
    return f"{value[:head]}…{value[len(value) - (width - 1 - head) :]}"
