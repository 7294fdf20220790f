"""The digest as an e-mail, and sending it by SMTP.

Enters: the rendered text and HTML, the subject, sender and recipients, and the digest's identity
(`identity`: the same text for the same list, period and content); SMTP settings (host, port,
security `starttls` / `ssl` / `none`, user, password, timeout).
Leaves: a multipart/alternative `EmailMessage` (text first, HTML second) from `message`, whose
Message-ID derives from `identity` and the sender's domain (a digest sent again after its send
went unrecorded is the same message to mail clients and servers), and from
`send` the message accepted by the server for every envelope recipient (its To and Cc, or those
given: a retry goes to the recipients still owed it, headers unchanged) — or `DeliveryError`,
one line holding the SMTP error. A server that refuses some recipients while accepting others is
a failure, `PartlyRefused`, naming the refused addresses (the others got the message); one that
took the whole message and gave no answer to it (a timeout, a dropped connection) is `MaybeSent`:
it may have been delivered. One that accepted the message and then fails QUIT (an error reply, a
timeout) is no failure.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from email.utils import formatdate

# Headers unfolded up to SMTP's hard limit: a folded Subject reads back with a leading space in
# Python's parser. Bodies: a line longer than 76 characters makes a quoted-printable (or base64)
# part of lines of at most 76, as RFC 2045 wants (some spam filters score longer ones).
POLICY = default.clone(max_line_length=998)
BODY_POLICY = default.clone(max_line_length=76)


class DeliveryError(Exception):
    """The mail server did not take the digest for every recipient; the message is one line."""


class PartlyRefused(DeliveryError):
    """The mail server took the digest for some recipients and refused `refused` (addresses)."""

    def __init__(self, message: str, refused: frozenset[str]) -> None:
        super().__init__(message)
        self.refused = refused


class MaybeSent(DeliveryError):
    """The whole message went to the server and no answer to it came back: it may have arrived."""


class _Tracked(smtplib.SMTP):
    """Notes when the end of the message data ("." on its own line) has gone to the server."""

    data_sent = False

    def send(self, s: str | bytes) -> None:
        super().send(s)
        self.data_sent = self.data_sent or (isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"))


class _TrackedSSL(_Tracked, smtplib.SMTP_SSL):
    pass


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # "starttls" | "ssl" | "none"
    user: str | None
    password: str | None
    timeout: float
    ssl_context: ssl.SSLContext | None = None  # None: the system's default verification


def message(
    *,
    subject: str,
    sender: str,
    to: Sequence[str],
    cc: Sequence[str],
    text: str,
    html: str,
    identity: str,
) -> EmailMessage:
    """One multipart/alternative message: the plain-text part, then the HTML part; its
    Message-ID is the same for the same `identity`."""
    msg = EmailMessage(policy=BODY_POLICY)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Date"] = formatdate(localtime=False)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    msg["Message-ID"] = f"<{digest}@{sender.rpartition('@')[2]}>"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    msg.policy = POLICY  # the headers, folded when the message is written
    return msg


def send(
    msg: EmailMessage, settings: SmtpSettings, recipients: Sequence[str] | None = None
) -> EmailMessage:
    """Deliver `msg` to `recipients` (the envelope; default: its To and Cc) with its headers as
    they are; raise `DeliveryError` unless all were accepted."""
    try:
        smtp = _connect(settings)
        try:
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            refused = smtp.send_message(msg, to_addrs=recipients)
        except OSError as exc:  # smtplib's errors too; an answer (SMTPResponseException) is one
            if smtp.data_sent and not isinstance(exc, smtplib.SMTPResponseException):
                raise MaybeSent(
                    f"no answer from {settings.host}:{settings.port} after the whole message was "
                    f"sent ({_text(exc)}): it may have arrived"
                ) from None
            raise
        finally:
            _quit(smtp)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"SMTP refused every recipient: {_refusals(exc.recipients)}") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP error {exc.smtp_code}: {_text(exc.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            f"cannot send by SMTP via {settings.host}:{settings.port}: {_text(exc)}"
        ) from None
    if refused:
        text = f"SMTP refused some recipients: {_refusals(refused)}"
        raise PartlyRefused(text, frozenset(refused))
    return msg


def _connect(settings: SmtpSettings) -> _Tracked:
    context = settings.ssl_context or ssl.create_default_context()
    if settings.security == "ssl":
        return _TrackedSSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    smtp = _Tracked(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.security == "starttls":
            smtp.starttls(context=context)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _quit(smtp: smtplib.SMTP) -> None:
    """Say QUIT and close; the message's fate was settled by DATA, so QUIT's answer is ignored."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt} ({code} {_text(reply)})" for rcpt, (code, reply) in refused.items())


def _text(value: object) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())
