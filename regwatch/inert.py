"""Make text that came from a source inert where a person reads it.

Enters: strings from documents, sources or users (titles, snippets, URLs, queries, error messages).
Leaves: the same text made harmless for one destination: `http_url` (a link in HTML, or None when
it must be shown as text), `markdown_url` (a link target in Markdown or chat), `plain_text` (no
control characters, escape sequences, bidi controls, invisible format or tag characters (hidden
text) or the noncharacters XML refuses: what every reader gets, in a terminal, a page, a feed,
an e-mail or a spreadsheet), `one_line` (that, on one
line: a title, a name, a header), `template_value` (what a Jinja template prints, `plain_text`),
`json_text` (JSON whose every character `plain_text` removes is a `\\u` escape: the same data),
`csv_cell` (no spreadsheet formula; a signed number stays one), `shorten` (a long value cut
in the middle), `error_text` (an error message as one line of at most `ERROR_WIDTH` characters,
for a terminal or a page).
Standard library only, so every package may import it.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

ERROR_WIDTH = 300  # characters of an error line; a longer quoted query or URL is cut in the middle
# Escape sequences (CSI by ESC [ or C1 0x9b, OSC, other two-byte escapes), then any single control
# left over: C0 except tab and newline, DEL, C1, the bidi marks, embeddings, overrides and
# isolates (they reorder what follows them, the page's title and headings included), invisible
# format characters that join or mean nothing in text (zero-width space, word joiner, BOM, the
# Mongolian vowel separator, invisible operators, deprecated format controls: a docket number
# holding one is copied into a search that finds nothing), the interlinear annotation marks and
# tag characters (they hide text: U+E0041 is an invisible "A"), U+FFFE and U+FFFF (refused by
# XML 1.0) and lone surrogates (unencodable: they stop a UTF-8 writer). Zero-width (non-)joiners
# stay: emoji and scripts need them.
_ESCAPES = re.compile(
    r"\x9b[0-?]*[ -/]*[@-~]|\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.)?",
    re.DOTALL,
)
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u180e\u200b\u2060-\u2064\u206a-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f"
    "\ud800-\udfff\ufffe\uffff]"
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")  # a spreadsheet reads it as a number
_LINK_SAFE = ":/?#&=%+,;.-_~$'"
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\\\"'<>`]")


def http_url(value: Any) -> str | None:
    """`value` if it is an absolute http(s) URL with a host, nothing to break out of an attribute
    and nothing `plain_text` removes (a bidi control shows `/\u202egpj.exe` as `/exe.jpg`; an IRI
    may not hold one); else None (show the text, never a link: `javascript:`, `data:`, relative
    paths)."""
    if not isinstance(value, str) or _URL_UNSAFE.search(value) or _CONTROLS.search(value):
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


def plain_text(value: str) -> str:
    """`value` without escape sequences, control characters (newline and tab are kept), bidi
    controls, invisible format and tag characters, U+FFFE, U+FFFF or lone surrogates."""
    return _CONTROLS.sub("", _ESCAPES.sub("", value))


def one_line(value: Any) -> str:
    """`value` as text on one line: what `plain_text` removes, removed; every run of
    whitespace (newlines and tabs included) made one space; None is empty."""
    return " ".join(plain_text("" if value is None else str(value)).split())


def template_value(value: Any) -> Any:
    """A Jinja `finalize`: text `plain_text`; markup built by a filter (`__html__`) and values
    other than text as given (autoescape follows)."""
    return plain_text(value) if isinstance(value, str) and not hasattr(value, "__html__") else value


def json_text(value: Any, **options: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, **options)` with each character `plain_text` removes
    (C1 controls, bidi controls, U+FFFE, U+FFFF, lone surrogates; C0 is escaped by `json.dumps`)
    written as a `\\uXXXX` escape: a JSON parser reads the same value, a terminal shows it inert.
    Outside strings JSON holds only printable ASCII, newlines and spaces, so only strings change."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return _CONTROLS.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def csv_cell(value: Any) -> Any:
    """A string a spreadsheet would read as a formula gets a leading `'`; other values, a signed
    number such as `-3.5` among them, as given."""
    formula = isinstance(value, str) and value.startswith(_FORMULA_STARTS)
    return f"'{value}" if formula and not _NUMBER.fullmatch(value) else value


def error_text(message: object) -> str:
    """The first line of `message` (an exception's text), inert (`plain_text`), cut in the
    middle to `ERROR_WIDTH` characters (a quoted query, URL or document number of any length)."""
    return shorten(plain_text(str(message)).strip().split("\n")[0], ERROR_WIDTH)


def shorten(value: str, width: int = 200) -> str:
    """`value` if at most `width` characters, else its start and end around `…`."""
    if len(value) <= width:
        return value
    head = (width - 1) * 2 // 3
    return f"{value[:head]}…{value[len(value) - (width - 1 - head) :]}"
