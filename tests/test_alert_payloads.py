"""What each chat platform receives: real Apprise plugins posting to a receiver on 127.0.0.1.

Slack, Discord and the mail services have fixed hosts, so their class attributes are pointed at
the receiver (as `../shared/notes/delivery.md` describes); Mattermost and Teams Workflows take
the host from the URL (Workflows over local TLS with a self-signed certificate and `?verify=no`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from apprise.plugins.brevo import NotifyBrevo
from apprise.plugins.discord import NotifyDiscord
from apprise.plugins.google_chat import NotifyGoogleChat
from apprise.plugins.groundmail import NotifyGroundmail
from apprise.plugins.mailersend import NotifyMailerSend
from apprise.plugins.slack import NotifySlack

from archive.outbox import Alert
from digests.alerts import Policy, Senders, send, send_text
from digests.chat import inert, message
from tests.receiver import Receiver

HOSTILE = (
    "@everyone <!channel> <@U123ABC> @here <script>alert(1)</script> {{ 7*7 }} <b>broken "
    "[click](javascript:alert(1)) **bold**"
)
PAYLOAD = {
    "kind": "new",
    "source": "federal_register",
    "document_number": "2023-23055",
    "version": 1,
    "title": HOSTILE,
    "url": "https://www.federalregister.gov/d/2023-23055",
    "pdf_url": None,
    "type": "Rule",
    "agencies": ["Industry and Security Bureau"],
    "publication_date": "2023-10-25",
    "tags": ["export_control"],
    "dates": {"comments_close_on": "2023-12-01"},
    "why": {"export_control": [["Entity List", "abstract"]]},
}
POLICY = Policy(timeout_seconds=5.0)


def alert(payload: dict | None = None) -> Alert:
    return Alert(
        1, "team", 1, 1, "rw-key-1", "new", payload or PAYLOAD, "pending", 0, "", None, "", None
    )


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def assert_inert(text: str, markdown: bool = True) -> None:
    """No live mention, tag or javascript: link (an escaped `\\]` is text, not a link)."""
    for live in ("@everyone", "@here", "<!channel>", "<@U123ABC>", "<script>", "<b>"):
        assert live not in text, live
    assert "<javascript:" not in text and "|javascript:" not in text
    if markdown:
        assert not re.search(r"(?<!\\)\]\(javascript:", text)


def test_json_payload_carries_the_key_and_an_inert_message(receiver):
    assert send(f"json://127.0.0.1:{receiver.port}/hook", alert(), POLICY) == ("sent", None)
    (request,) = receiver.accepted
    assert request.headers["X-Idempotency-Key"] == "rw-key-1"
    text = request.body["message"]
    assert_inert(text)
    assert text.splitlines()[0].endswith("](https://www.federalregister.gov/d/2023-23055)")
    assert "@\u200beveryone" in text and "‹!channel›" in text and "alert(1)" in text
    assert text.splitlines()[1:] == [
        "Industry and Security Bureau · Rule · 2023-10-25",
        "Dates: comments close 2023-12-01",
        "Why: export\\_control: “Entity List” (abstract)",
    ]


def test_form_payload_carries_the_key(receiver):
    assert send(f"form://127.0.0.1:{receiver.port}/hook", alert(), POLICY)[0] == "sent"
    assert receiver.accepted[0].headers["X-Idempotency-Key"] == "rw-key-1"
    assert_inert(receiver.accepted[0].body["message"][0])


def test_slack_payload_is_inert_mrkdwn_with_the_link(receiver, monkeypatch):
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{receiver.port}/services")
    assert send("slack://T000A/B000B/XXXXXXXXXXXXXXXXXXXXXXXX", alert(), POLICY)[0] == "sent"
    (request,) = receiver.accepted
    assert request.path == "/services/T000A/B000B/XXXXXXXXXXXXXXXXXXXXXXXX"
    body = json.dumps(request.body)
    assert_inert(body, markdown=False)  # mrkdwn links are <url|text>: [x](y) is plain text
    assert "<https://www.federalregister.gov/d/2023-23055|" in body
    assert "icon_url" not in body and "Apprise" not in body


MARKED = "Rule 2023_10 on *AI* chips, _draft_ ~v2~ `code` a\\b [x](javascript:alert(1))"
AS_WRITTEN = "Rule 2023ˍ10 on ∗AI∗ chips, ˍdraftˍ ∼v2∼ ˋcodeˋ a{}b [x](javascript:alert(1))>"


@pytest.mark.parametrize(
    ("plugin", "attribute", "path", "url", "backslash"),
    [
        (NotifySlack, "webhook_url", "/services", "slack://T000A/B000B/XXXXXXXXXXXX", "∖"),
        (NotifyGoogleChat, "notify_url", "/v1/spaces/{workspace}/messages",
         "gchat://WORKSPACE/KEY/TOKEN", "\\"),
    ],
)  # fmt: skip
def test_slack_and_google_chat_show_a_title_as_written_without_backslashes(
    receiver, monkeypatch, plugin, attribute, path, url, backslash
):
    """Slack and Google Chat honour no backslash escape before `*`, `_`, `~` or a backtick (Slack
    none at all): a title holding `*` or `_` showed a stray `\\*` and `\\_`. Look-alikes stand
    for those characters now: the title reads as written and still bolds, strikes or links
    nothing (the `[x](…)` is text inside the document's link)."""
    monkeypatch.setattr(plugin, attribute, f"http://127.0.0.1:{receiver.port}{path}")
    assert send(url, alert({**PAYLOAD, "title": MARKED, "why": {}}), POLICY)[0] == "sent"
    (request,) = receiver.accepted
    text = (request.body.get("attachments") or [request.body])[0]["text"]  # Slack: attachments
    link, label = text.splitlines()[0].split("|", 1)
    assert (link, label) == (
        "<https://www.federalregister.gov/d/2023-23055",
        AS_WRITTEN.format(backslash),
    )


def test_an_ops_notice_on_slack_names_the_source_without_backslashes(receiver, monkeypatch):
    """Ops notices are inert Markdown too: `federal_register` showed as `federal\\_register`."""
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{receiver.port}/services")
    text = f"regwatch: {inert('federal_register')}: HTTP 503."
    assert send_text("slack://T000A/B000B/XXXXXXXXXXXX", text, "k1", POLICY)[0] == "sent"
    (request,) = receiver.accepted
    assert (request.body.get("attachments") or [request.body])[0]["text"] == (
        "regwatch: federalˍregister: HTTP 503."
    )


def test_discord_payload_is_inert(receiver, monkeypatch):
    monkeypatch.setattr(
        NotifyDiscord, "notify_url", f"http://127.0.0.1:{receiver.port}/api/webhooks"
    )
    assert send("discord://123456/WEBHOOKTOKEN", alert(), POLICY)[0] == "sent"
    (request,) = receiver.accepted
    assert request.path.startswith("/api/webhooks/123456/WEBHOOKTOKEN")
    content = request.body["content"]
    assert_inert(content)
    assert len(content) <= NotifyDiscord.body_maxlen
    assert "(https://www.federalregister.gov/d/2023-23055)" in content


def test_mattermost_payload_is_inert(receiver):
    assert send(f"mmost://127.0.0.1:{receiver.port}/TOKEN123", alert(), POLICY)[0] == "sent"
    (request,) = receiver.accepted
    assert request.path == "/hooks/TOKEN123"
    assert_inert(request.body["text"])
    assert "@\u200beveryone" in request.body["text"]


def test_an_e_mail_alert_has_the_title_as_its_one_subject_line(smtp):
    """An e-mail route's alerts arrived with an empty Subject. The title is the Subject now, one
    line: its line breaks (CR LF, U+2028, U+0085) add no header and bidi controls are gone."""
    receiver, port = smtp
    title = "Entity List\r\nBcc: spy@evil.example\u2028X-Priority: 1\u0085 \u202egpj.exe\u202c rule"
    payload = {**PAYLOAD, "kind": "updated", "title": title}
    url = f"mailto://127.0.0.1:{port}?to=eng@y.example&from=regwatch@x.example&mode=insecure"
    assert send(url, alert(payload), POLICY) == ("sent", None)
    (msg,) = receiver.messages
    assert msg["Subject"] == "Updated: Entity List Bcc: spy@evil.example X-Priority: 1 gpj.exe rule"
    assert (msg["Bcc"], msg["X-Priority"], receiver.envelopes) == (None, None, [["eng@y.example"]])
    html = msg.get_body(("html",)).get_content()
    assert '<a href="https://www.federalregister.gov/d/2023-23055">' in html


def test_an_e_mail_alert_s_text_part_links_the_document_and_both_parts_stay_inert(smtp):
    """Apprise builds an e-mail's text/plain part from its HTML and dropped the link's URL: a
    text-only mail client (or a screen reader reading text/plain) could not open the document.
    The text part reads `title <url>` now; the hostile title is text in both parts."""
    receiver, port = smtp
    url = f"mailto://127.0.0.1:{port}?to=eng@y.example&from=regwatch@x.example&mode=insecure"
    assert send(url, alert(), POLICY) == ("sent", None)
    (msg,) = receiver.messages
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    document = "https://www.federalregister.gov/d/2023-23055"
    first = text.splitlines()[0]
    assert first.startswith("@\u200beveryone ‹!channel›") and first.endswith(f" <{document}>")
    assert "‹script›alert(1)‹/script›" in first and "[click](javascript:alert(1))" in first
    assert re.findall(r"<[^>]*>", text) == [f"<{document}>"]  # no tag, no other URL
    assert re.findall(r"<(/?\w+)", html) == ["p", "a", "/a", "a", "/a", "br", "br", "br", "/p"]
    assert re.findall(r'href="([^"]*)"', html) == [document, document]


ECFR = "https://www.ecfr.gov/on/{}/title-15/section-744.23"
SECTION_CHANGE = {  # a line of the real BIS rule 2024-28270's change to § 744.23 (tests/test_ecfr)
    "label": "§ 744.23(a)(2)",
    "old": "…you may not export items classified in ECCN 3B001 or 3B002 when you have knowledge",
    "new": "…you may not export items classified in ECCN 3B001, 3B002, or 3B993 when you have",
    "old_date": "2024-12-04",
    "new_date": "2024-12-05",
    "old_url": ECFR.format("2024-12-04"),
    "new_url": ECFR.format("2024-12-05"),
}


def test_an_e_mail_alert_s_text_part_keeps_the_links_to_both_ecfr_versions(smtp):
    """The text/plain part read `§ 744.23(a)(2): … (2024-12-04 → 2024-12-05)`: both eCFR links
    were gone, as the title's was. Each date is followed by its URL there now, within the line's
    room (the changed text is still quoted), and the HTML part links both versions."""
    receiver, port = smtp
    payload = {**PAYLOAD, "title": "Entity List additions", "section_changes": [SECTION_CHANGE]}
    url = f"mailto://127.0.0.1:{port}?to=eng@y.example&from=regwatch@x.example&mode=insecure"
    assert send(url, alert(payload), POLICY) == ("sent", None)
    (msg,) = receiver.messages
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    (line,) = [line.strip() for line in text.splitlines() if "§ 744.23(a)(2): " in line]
    assert "…you may not export items classified in ECCN 3B001 or" in line
    old, new = ECFR.format("2024-12-04"), ECFR.format("2024-12-05")
    assert line.endswith(f" (2024-12-04 <{old}> → 2024-12-05 <{new}>)"), line
    assert {old, new} <= set(re.findall(r'href="([^"]*)"', html))


@pytest.mark.parametrize(
    ("plugin", "scheme", "html_field", "text_field"),
    [
        (NotifyBrevo, "brevo", "htmlContent", "textContent"),
        (NotifyMailerSend, "mailersend", "html", "text"),
        (NotifyGroundmail, "groundmail", "html", "text"),
    ],
)
def test_a_mail_service_that_sends_a_text_part_gets_the_links_written_out_too(
    receiver, monkeypatch, plugin, scheme, html_field, text_field
):
    """Brevo, MailerSend and groundmail (and SendPulse) build their text part from the HTML as
    `mailto://` does, dropping every link's URL: they get the e-mail dialect, so the text part
    shows the document's and both eCFR versions' URLs."""
    monkeypatch.setattr(plugin, "notify_url", f"http://127.0.0.1:{receiver.port}/send")
    payload = {**PAYLOAD, "title": "Entity List additions", "section_changes": [SECTION_CHANGE]}
    url = f"{scheme}://KEY123:regwatch@x.example/eng@y.example"
    assert send(url, alert(payload), POLICY) == ("sent", None)
    (request,) = receiver.accepted
    text, html = request.body[text_field], request.body[html_field]
    document = "https://www.federalregister.gov/d/2023-23055"
    old, new = ECFR.format("2024-12-04"), ECFR.format("2024-12-05")
    assert text.startswith(f"Entity List additions <{document}>\n")
    assert f" (2024-12-04 <{old}> → 2024-12-05 <{new}>)\n" in text
    assert set(re.findall(r'href="([^"]*)"', html)) == {document, old, new}
    assert request.body["subject"] == "Entity List additions"


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_teams_workflows_payload_over_local_tls(certificate):
    server = Receiver(cert=certificate)
    try:
        url = f"workflows://127.0.0.1:{server.port}/workflowid123/signature456?verify=no"
        assert send(url, alert(), POLICY)[0] == "sent"
        (request,) = server.accepted
        assert "/workflows/workflowid123/triggers/manual/paths/invoke" in request.path
        body = json.dumps(request.body, ensure_ascii=False)
        assert_inert(body)
        assert "https://www.federalregister.gov/d/2023-23055" in body
    finally:
        server.stop()


@pytest.mark.parametrize("limit", [1000, 300, 200])
def test_a_long_message_fits_the_limit_and_never_cuts_a_link(limit):
    url = "https://www.federalregister.gov/documents/2023/10/25/2023-23055/a-long-slug"
    payload = {**PAYLOAD, "title": "Export controls " * 200, "url": url}
    payload["why"] = {"export_control": [["Entity List " * 30, "abstract"]] * 3}
    text = message(payload, limit)
    assert len(text) <= limit
    assert f"]({url})" in text
    assert text.splitlines()[0].startswith("[Export controls") and "…](" in text


@pytest.mark.parametrize("limit", [1000, 300])
def test_long_watch_list_quotes_leave_the_title_and_its_link(limit):
    """Three watched parties named in one long sentence of the abstract (synthetic names): the
    quotes are cut before the title is, and the message stays within the limit."""
    sentence = (
        "The Bureau of Industry and Security amends the Export Administration Regulations by "
        "adding entities under destinations of China and the United Arab Emirates to the Entity "
        "List, because they have been determined to be acting contrary to the national security "
        "or foreign policy interests of the United States, including Synthetic Example Co. "
    )
    payload = {
        **PAYLOAD,
        "title": "Additions to the Entity List",
        "related": [{"title": "Commerce Adds 12 Entities to the Entity List (synthetic)"}],
        "screening": "adds 12 parties in 2 countries",
        "watch": [
            {"item": item, "quote": sentence, "field": "abstract"}
            for item in ("Synthetic Example Co.", "Synthetic Holdings", "Example Tech")
        ],
    }
    text = message(payload, limit)
    assert len(text) <= limit
    lines = text.splitlines()
    assert lines[0].startswith("Watch-list hit: Synthetic Example Co.; Synthetic Holdings")
    assert (
        lines[1] == "[Additions to the Entity List](https://www.federalregister.gov/d/2023-23055)"
    )


def test_a_non_http_link_is_left_out():
    text = message({**PAYLOAD, "title": "Rule", "url": "javascript:alert(1)"})
    assert text.splitlines()[0] == "Rule"


def test_a_run_sends_each_alert_once_with_its_own_key_and_no_throttle_wait(receiver, monkeypatch):
    """json:// reuses one plugin per run; Slack (throttled 1.2 s per instance) gets a fresh one per
    attempt, so three Slack alerts never wait for Apprise's throttle."""
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{receiver.port}/services")
    senders = Senders(POLICY)
    alerts = [
        Alert(n, "team", n, 1, f"rw-key-{n}", "new", {**PAYLOAD, "title": f"Rule {n}"},
              "pending", 0, "", None, "", None)
        for n in range(3)
    ]  # fmt: skip
    start = time.monotonic()
    for url in (f"json://127.0.0.1:{receiver.port}/hook", "slack://T000A/B000B/XXXXXXXXXXXX"):
        assert [send(url, a, POLICY, senders)[0] for a in alerts] == ["sent"] * 3
    assert time.monotonic() - start < 1.2
    posted = receiver.accepted
    assert [r.headers.get("X-Idempotency-Key") for r in posted] == [
        *("rw-key-0", "rw-key-1", "rw-key-2"),
        *(None, None, None),
    ]
    assert [r.body["message"].splitlines()[0][:7] for r in posted[:3]] == [
        "[Rule 0",
        "[Rule 1",
        "[Rule 2",
    ]
    assert all(f"Rule {n}" in json.dumps(r.body) for n, r in enumerate(posted[3:]))
