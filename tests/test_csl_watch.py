"""A watch-list counterparty in a screening-list change is an alert on its own: two synthetic CSL
snapshots crawled by Scrapy from the replay server (the demo's scenario, serving them in order)
into a real archive, the tag step matching the
delta, the alert delivered to a real webhook receiver on 127.0.0.1 once and listed in the day's
digest, and a party whose country differs from the watched one staying silent; a hostile party
name reaching chat and the digest inert.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawlers.run import crawl
from nlp import watch
from regwatch.cli import main
from replay.server import RECORDINGS, serve
from tests.receiver import Receiver
from tests.test_alert_payloads import assert_inert

FAST = {"DOWNLOAD_DELAY": 0, "RETRY_BACKOFF_BASE": 0.001, "RETRY_TIMES": 1}
WATCH = """
[watch]
eccns = ["3A090*"]

[[watch.counterparties]]
name = "Shenzhen Synthetic Example Microelectronics"
country = "China"

[[watch.counterparties]]
name = "Synthetic Example Computing Research Institute"
country = "Russia"
"""


@pytest.fixture
def receiver():
    started = Receiver()
    yield started
    started.stop()


def write_config(tmp_path: Path, receiver: Receiver) -> tuple[Path, Path]:
    """The archive home and a config with a `watch = true` chat route to `receiver` (digests and
    feeds written under `tmp_path`)."""
    home, config = tmp_path / "home", tmp_path / "regwatch.toml"
    config.write_text(
        f'[archive]\nhome = "{home}"\n[digest]\noutput_dir = "{tmp_path / "digests"}"\n'
        "[alerts]\nbackoff_seconds = 0.0\ntimeout_seconds = 2.0\n"
        '[[alerts.routes]]\nname = "watchers"\n'
        f'url = "json://127.0.0.1:{receiver.port}/hook"\ntags = ["ai"]\nwatch = true\n' + WATCH,
        encoding="utf-8",
    )
    return home, config


def invoke(config: Path, *args: str):
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def crawl_snapshot(home: Path, server) -> None:
    result = crawl(
        home,
        source="csl",
        base_url=server.base_url("csl"),
        contact="csl-watch-tests@example.org",
        settings=FAST,
    )
    assert result.ok, result.error


def digest_today(config: Path) -> tuple[str, str, str]:
    """The text, HTML and Markdown of today's one-day digest, written by `regwatch digest`."""
    today = datetime.now(UTC).date().isoformat()
    written = invoke(config, "digest", "--until", today, "--days", "1")
    assert written.exit_code == 0, written.output
    assert ", 1 screening-list party touching the watch-list" in written.output
    html = Path(written.output.split("digest written to ", 1)[1].splitlines()[0])
    return tuple(html.with_suffix(s).read_text(encoding="utf-8") for s in (".txt", ".html", ".md"))


def test_a_watched_counterparty_added_to_the_entity_list_is_alerted_once(tmp_path, receiver):
    home, config = write_config(tmp_path, receiver)
    with serve(RECORDINGS, scenario="synthetic-demo") as server:
        crawl_snapshot(home, server)  # the baseline: no delta, nothing to alert
        assert "screening-list" not in invoke(config, "tag").output
        crawl_snapshot(home, server)

    tagged = invoke(config, "tag")
    assert tagged.exit_code == 0, tagged.output
    assert "screening-list changes touching the watch-list: 1" in tagged.output
    assert (
        "  Synthetic Example Microelectronics Co., Ltd. (added, EL): "
        "Shenzhen Synthetic Example Microelectronics (China)"
    ) in tagged.output
    assert "Computing Research Institute (added" not in tagged.output  # listed in CN, not RU

    text, html, markdown = digest_today(config)
    party = "Synthetic Example Microelectronics Co., Ltd. (CN) added to the Entity List"
    assert f"== Touches your watch-list ==\n* Screening list: {party}" in text
    hit = "Shenzhen Synthetic Example Microelectronics (China) (alternate name)"
    assert f'Watch-list hit: {hit}: "Shen Zhen Synthetic Example Microelectronics"' in text
    assert "Touches your watch-list</h2>" in html and "Computing Research Institute" not in html
    assert "**Screening list:** Synthetic Example Microelectronics Co., Ltd." in markdown

    delivered = invoke(config, "alert")
    assert delivered.output.startswith("alerts: 1 sent"), delivered.output
    [request] = receiver.accepted
    text = request.body["message"]
    assert text.startswith("Watch-list hit: Shenzhen Synthetic Example Microelectronics (China)\n")
    assert "Synthetic Example Microelectronics Co., Ltd. (CN) added to the Entity List" in text
    assert "“Shen Zhen Synthetic Example Microelectronics” (alternate name)" in text

    assert "screening-list" not in invoke(config, "tag").output  # a snapshot is matched once
    assert invoke(config, "alert").output.startswith("alerts: 0 sent")
    assert len(receiver.requests) == 1
    status = invoke(config, "status").output
    assert "  csl: 6 screening records listed, 2 snapshots, last crawl " in status
    assert "  ecfr: 0 EAR section changes, last crawl never" in status


def test_a_hostile_party_name_reaches_chat_inert(tmp_path, receiver):
    recordings = tmp_path / "recordings"
    shutil.copytree(RECORDINGS, recordings)
    second = recordings / "csl" / "synthetic-consolidated-2.json"
    listing = json.loads(second.read_text(encoding="utf-8"))
    [party] = [r for r in listing["results"] if r["alt_names"]]
    party["name"] += " @everyone <script>alert(1)</script> [x](javascript:alert(1)) {{ 7*7 }}"
    second.write_text(json.dumps(listing), encoding="utf-8")
    home, config = write_config(tmp_path, receiver)
    with serve(recordings, scenario="synthetic-demo") as server:
        crawl_snapshot(home, server)
        invoke(config, "tag")
        crawl_snapshot(home, server)
    assert "screening-list changes touching the watch-list: 1" in invoke(config, "tag").output
    text, html, markdown = digest_today(config)
    assert "Screening list: Synthetic Example Microelectronics Co., Ltd. @everyone <script>" in text
    assert "{{ 7*7 }}" in text  # a template never evaluates document text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert r"\<script\>alert(1)\</script\> \[x\](javascript:alert(1))" in markdown  # no link
    assert invoke(config, "alert").output.startswith("alerts: 1 sent")
    [request] = receiver.accepted
    text = request.body["message"]
    assert_inert(text)
    assert "@\u200beveryone" in text and "‹script›" in text
    assert "{{ 7\\*7 }}" in text and "49" not in text  # Markdown-escaped, never evaluated


def test_the_replay_server_refuses_an_unknown_scenario_in_one_line():
    result = CliRunner().invoke(main, ["replay-server", "--port", "0", "--scenario", "nonesuch"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: unknown scenario 'nonesuch'; known: access-wall, ")
    assert result.output.count("\n") == 1


def test_the_country_codes_file_is_checked_when_loaded(tmp_path, monkeypatch):
    bad = tmp_path / "country_codes.json"
    bad.write_text('{"Kosovo": "kosovo"}', encoding="utf-8")
    monkeypatch.setattr(watch, "COUNTRY_CODES", bad)
    watch._country_codes.cache_clear()
    watch.iso_code.cache_clear()
    try:
        with pytest.raises(ValueError, match="expected an object of country name → ISO alpha-2"):
            watch.iso_code("Kosovo")
    finally:
        monkeypatch.undo()
        watch._country_codes.cache_clear()
        watch.iso_code.cache_clear()
    assert watch.iso_code("Kosovo") == "XK" and watch.iso_code("Russia") == "RU"
