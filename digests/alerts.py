"""Deliver the alert outbox through Apprise: one endpoint, one target, one message per attempt.

Enters: an open `archive.Archive`, each route's Apprise URL (already validated, never logged) and
a `Policy` (what to do with ambiguous outcomes, attempts, backoff, timeout).
Leaves: outbox rows marked `sent` (right after the endpoint accepted, row by row), put back to
`pending` with a later `next_attempt_at` and the error, `failed` after the last attempt, or `maybe`
(the request went out and no answer came within the time budget; when maybe-delivered alerts are
resent, one still unanswered at the last attempt is `failed`, never resent without end); and an
`AlertRunResult`.

Each attempt is counted and its retry time set before the request leaves, so a crash at any
point loses nothing; an alert whose answer was lost to a crash is sent again with the same
`X-Idempotency-Key` (json://, form://, xml://) so the receiver can drop the copy. After a route
fails once in a run its other alerts wait for the next run: a dead endpoint delays only itself.
An alert whose stored payload cannot be read (a damaged or hand-edited row) is `failed` with that
reason, and the others go on.
A route whose plugin never throttles (`json://`, `form://`, Discord, …) reuses one plugin for the
run; one that does (Slack, Teams Workflows: Apprise throttles per instance) gets a fresh one per
attempt. Either way each attempt carries one message to one target.
An e-mail route (`mailto://` or a mail service's: `SUBJECT_SCHEMES`) gets the alert's title, or the
ops notice's line, as its Subject, and the document's URL written out after the title's link,
each eCFR version's after its date (the text/plain part Apprise builds keeps them); a chat
message has no title. Slack and Google Chat get
look-alikes for the formatting characters they would show backslash-escaped (`DIALECTS`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import apprise

from digests.chat import CHAT, EMAIL, GOOGLE_CHAT, SLACK, Dialect, in_dialect, message, subject

KEY_HEADER = "X-Idempotency-Key"
HEADER_SCHEMES = ("json", "jsons", "form", "forms", "xml", "xmls")
# E-mail, by SMTP or a mail service's API (Apprise's e-mail plugins): a message there needs a
# Subject (the alert's title, an incident's one line); chat messages get none. SMTP, brevo,
# sendpulse, groundmail and mailersend get a text part Apprise builds from the HTML (EMAIL writes
# the URLs out for it); the others get the HTML alone from Apprise.
SUBJECT_SCHEMES = (
    *("mailto", "mailtos", "ses", "sendgrid", "mailgun", "sparkpost", "smtp2go", "resend"),
    *("brevo", "sendpulse", "groundmail", "mailersend", "postmark"),
)
# How each endpoint reads a message (a Markdown `Dialect`); any other one reads CommonMark (CHAT).
DIALECTS = {**dict.fromkeys(SUBJECT_SCHEMES, EMAIL), "slack": SLACK, "gchat": GOOGLE_CHAT}
QUIET_OPTIONS = ("include_image", "include_footer")  # no GitHub-hosted icons, no "Apprise" footer
STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"  # the archive's time format
UNREADABLE = (
    "the stored alert cannot be read (damaged or hand-edited): restore regwatch.db from a backup"
)

logging.getLogger("apprise").setLevel(logging.WARNING)  # DEBUG logs webhook tokens in clear


@dataclass(frozen=True)
class Policy:
    """Delivery settings (`alerts.*` in the configuration)."""

    on_ambiguous: str = "skip"
    max_attempts: int = 8
    backoff_seconds: float = 60.0
    backoff_max_seconds: float = 3600.0
    timeout_seconds: float = 10.0

    @property
    def states(self) -> tuple[str, ...]:
        """Outbox states worth an attempt."""
        return ("pending", "maybe") if self.on_ambiguous == "resend" else ("pending",)

    def retry_at(self, attempt: int, now: datetime) -> str:
        """When attempt number `attempt + 1` may start."""
        wait = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** max(attempt - 1, 0))
        return (now + timedelta(seconds=wait)).strftime(STAMP)


@dataclass
class AlertRunResult:
    """What one delivery run did; `messages` holds (route, text) pairs on a dry run."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    maybe: int = 0
    deferred: int = 0
    messages: list[tuple[str, str]] = field(default_factory=list)


def deliver(
    archive: Any,
    urls: Mapping[str, str],
    policy: Policy,
    *,
    dry_run: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> AlertRunResult:
    """Send every due alert of the routes in `urls`; a dry run only renders pending ones."""
    result = AlertRunResult()
    senders = Senders(policy)
    if dry_run:
        for alert in archive.pending_alerts():
            if alert.route in urls and alert.payload is None:
                result.messages.append((alert.route, UNREADABLE))
            elif alert.route in urls:
                plugin = senders.get(urls[alert.route])[0]
                text = message(alert.payload, plugin.body_maxlen, _dialect(plugin))
                result.messages.append((alert.route, text))
        return result
    broken: set[str] = set()
    for alert in archive.due_alerts(policy.states, clock().strftime(STAMP)):
        if alert.payload is None:  # nothing to send, ever: the others go on
            archive.finish_alert(alert.id, "failed", UNREADABLE)
            _count(result, "failed")
            continue
        if alert.route not in urls or alert.route in broken:
            result.deferred += 1
            continue
        retry_at = policy.retry_at(alert.attempts + 1, clock())
        if not archive.claim_alert(alert, policy.states, retry_at):
            continue
        outcome, error = send(urls[alert.route], alert, policy, senders)
        last = alert.attempts + 1 >= policy.max_attempts
        if outcome == "failed" and not last:
            outcome = "pending"
        elif outcome == "maybe" and last and "maybe" in policy.states:  # resent: bounded too
            outcome, error = "failed", f"{error} (attempt {alert.attempts + 1}, the last)"
        archive.finish_alert(alert.id, outcome, error)
        if outcome != "sent":
            broken.add(alert.route)
        _count(result, outcome)
    return result


class Senders:
    """The plugin and Apprise object for each route URL within one delivery run."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._kept: dict[str, tuple[Any, apprise.Apprise]] = {}

    def get(self, url: str) -> tuple[Any, apprise.Apprise]:
        """The kept pair for a URL whose plugin never throttles, else a fresh pair."""
        if url in self._kept:
            return self._kept[url]
        plugin = _plugin(url, self.policy)
        sender = apprise.Apprise()
        sender.add(plugin)
        if plugin.request_rate_per_sec <= 0:  # seconds between two requests of one instance
            self._kept[url] = (plugin, sender)
        return plugin, sender


def send(
    url: str, alert: Any, policy: Policy, senders: Senders | None = None
) -> tuple[str, str | None]:
    """One attempt: ("sent", None), ("failed", why) or ("maybe", why) — never raises."""
    plugin, sender = (senders or Senders(policy)).get(url)
    body = message(alert.payload, plugin.body_maxlen, _dialect(plugin))
    title = subject(alert.payload, plugin.title_maxlen)
    return _notify(plugin, sender, body, alert.key, policy, title)


def send_text(
    url: str, text: str, key: str, policy: Policy, subject_line: str = ""
) -> tuple[str, str | None]:
    """One attempt to send `text` (inert Markdown, written in the route's dialect) with
    idempotency key `key`, like `send`; an e-mail's Subject is `subject_line` (one inert line)."""
    plugin, sender = Senders(policy).get(url)
    title = subject_line[: plugin.title_maxlen]
    body = in_dialect(text, _dialect(plugin))[: plugin.body_maxlen]
    return _notify(plugin, sender, body, key, policy, title)


def _notify(
    plugin: Any, sender: apprise.Apprise, body: str, key: str, policy: Policy, title: str
) -> tuple[str, str | None]:
    """Send `body`; `title` is the Subject of an e-mail (`SUBJECT_SCHEMES`), others get none."""
    if not _speaks(plugin, SUBJECT_SCHEMES):
        title = ""
    if _speaks(plugin, HEADER_SCHEMES):
        plugin.headers[KEY_HEADER] = key
    budget = policy.timeout_seconds * 1.5
    try:
        outcome = sender.notify(
            body=body,
            title=title,
            body_format=apprise.NotifyFormat.MARKDOWN,
            timeout=budget,
        )
    except Exception as exc:  # noqa: BLE001 - a plugin bug must not stop the other alerts
        return "failed", f"{plugin.service_name} raised {type(exc).__name__}"
    if outcome.status == apprise.AppriseResultStatus.SUCCESS:
        return "sent", None
    if outcome.status == apprise.AppriseResultStatus.TIMEOUT:
        return "maybe", f"{plugin.service_name}: no answer within {budget:g} s after sending"
    return "failed", f"{plugin.service_name} refused or unreachable"


def _dialect(plugin: Any) -> Dialect:
    return DIALECTS.get(plugin.protocol) or DIALECTS.get(plugin.secure_protocol, CHAT)


def _speaks(plugin: Any, schemes: tuple[str, ...]) -> bool:
    return plugin.protocol in schemes or plugin.secure_protocol in schemes


def _plugin(url: str, policy: Policy) -> Any:
    """A plugin for `url` with regwatch's timeouts and without remote images or footer.

    The read timeout is longer than the call's budget, so an unanswered request ends as
    Apprise's TIMEOUT ("maybe delivered"), while a connection never made fails plainly. Redirects
    are not followed: a 3xx answer is a failure (a followed 301/302/303 turns the POST into a GET
    of whatever page answers 200, which Apprise would report as delivered).
    """
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise ValueError("an alert route's Apprise URL is not usable")  # validated earlier
    plugin.socket_connect_timeout = policy.timeout_seconds
    plugin.socket_read_timeout = policy.timeout_seconds * 3
    plugin.redirects = False
    for option in QUIET_OPTIONS:
        if hasattr(plugin, option):
            setattr(plugin, option, False)
    return plugin


def _count(result: AlertRunResult, outcome: str) -> None:
    name = {"sent": "sent", "pending": "retrying", "failed": "failed", "maybe": "maybe"}[outcome]
    setattr(result, name, getattr(result, name) + 1)
