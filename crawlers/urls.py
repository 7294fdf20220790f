"""Which URLs a crawl may request, and how a URL is shown.

Enters: URLs from configuration, the command line and server responses; any text that may hold one.
Leaves: `check_base_url` (the URL back, or `ValueError` in one line), `origin` (scheme, host, port:
a crawl requests only its API's origin) and `redact` (the text with URL credentials and secret
query values replaced by `***`), applied wherever a URL is printed, logged or stored; `shown`, a
URL redacted and shortened for a message; `redact_logs`, the same for every log record;
`split_credentials`, a URL's user and password apart from the URL (sent as HTTP Basic auth, so
the URL Scrapy handles and logs carries none).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

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


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """`url` without `user:password@`, and the (unquoted) user and password if it had them."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return bare, (unquote(parts.username or ""), unquote(parts.password or ""))


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


def redact_logs() -> None:
    """From now on every log record this process creates is redacted (message and traceback)."""
    make = logging.getLogRecordFactory()

    def redacted(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            record.msg, record.args = redact(record.getMessage()), ()
        except (TypeError, ValueError):  # a malformed call; logging reports it when emitting
            return record
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(redacted)
