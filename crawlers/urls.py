"""Which URLs a crawl may request, and how a URL is shown.

Enters: URLs from configuration, the command line and server responses; any text that may hold one.
Leaves: `check_base_url` (the URL back, or `ValueError` in one line), `origin` (scheme, host, port:
a crawl requests only its API's origin) and `redact` (the text with URL credentials and secret
query values replaced by `***`), applied wherever a URL is printed, logged or stored; `shown`, a
URL redacted and shortened for a message; `RedactFilter`, the same for log records.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
HIDDEN = "***"
SHOWN_LENGTH = 200  # characters of a URL quoted in a message
# `scheme://user:password@` (up to the last `@` before the path) and `?api_key=…`-style values.
USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s<>'\"]*@")
SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:api[_-]?key|apikey|key|token|access[_-]?token|auth|password|passwd|secret"
    r"|client[_-]?secret|signature|sig)=)[^&#\s<>'\"]*"
)


def redact(text: str) -> str:
    """`text` with every URL's user and password and every secret query value shown as `***`."""
    return SECRET_QUERY.sub(rf"\g<1>{HIDDEN}", USERINFO.sub(rf"\g<1>{HIDDEN}@", text))


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def check_base_url(url: str, name: str = "base URL") -> str:
    """`url` if it is an absolute http(s) URL with a host; `ValueError` naming `name` otherwise."""
    if not isinstance(url, str) or origin(url) is None:
        shown = redact(url) if isinstance(url, str) else type(url).__name__
        raise ValueError(f"{name} must be an http(s) URL with a host, got {shown!r}")
    return url


def shown(url: str) -> str:
    """`url` as quoted in a message: redacted, at most `SHOWN_LENGTH` characters."""
    text = redact(url)
    return text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 1] + "…"


class RedactFilter(logging.Filter):
    """A handler filter: every record's message and traceback pass through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
