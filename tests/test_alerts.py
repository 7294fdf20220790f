"""Chat alerts end to end: outbox rows in a real SQLite file, Apprise `json://` delivery to a real
receiver on 127.0.0.1, crawls of the replay server, and the `regwatch alert` / `status` commands.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive, Publication, RouteFilter
from digests.alerts import UNREADABLE
from regwatch import steps
from regwatch.cli import main
from regwatch.config import load_config
from tests.receiver import Receiver

REPO = Path(__file__).resolve().parent.parent
CONTACT = "alert-tests@example.org"
FAST = {"DOWNLOAD_DELAY": 0, "RETRY_BACKOFF_BASE": 0.001, "RETRY_AFTER_MAX": 0.05}
SOURCE = "federal_register"
BIS_AGENCY = {"name": "Industry and Security Bureau", "slug": "industry-and-security-bureau"}


@pytest.fixture
def receivers():
    started: list[Receiver] = []

    def start(*args, **kwargs) -> Receiver:
        started.append(Receiver(*args, **kwargs))
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


def hook(receiver: Receiver, path: str = "hook") -> str:
    return f"json://127.0.0.1:{receiver.port}/{path}"


def write_config(tmp_path: Path, routes: dict[str, str], **alerts) -> Path:
    settings = {"backoff_seconds": 0.0, "timeout_seconds": 2.0, **alerts}
    lines = [f'[archive]\nhome = "{tmp_path / "home"}"']
    lines.append(f'[digest]\noutput_dir = "{tmp_path / "out"}"')
    lines.append("[alerts]\n" + "\n".join(f"{k} = {v!r}" for k, v in settings.items()))
    lines += [f'[[alerts.routes]]\nname = "{name}"\nurl = "{url}"' for name, url in routes.items()]
    path = tmp_path / "regwatch.toml"
    path.write_text("\n".join(lines).replace("'", '"') + "\n", encoding="utf-8")
    return path


def publication(number: str, title: str, **fields) -> Publication:
    return Publication(
        source=SOURCE,
        source_id=number,
        title=title,
        publication_date="2023-10-25",
        url=f"https://www.federalregister.gov/d/{number}",
        type="Rule",
        agencies=[dict(BIS_AGENCY)],
        abstract=fields.pop("abstract", "The Bureau of Industry and Security amends the EAR."),
        **fields,
    )


def result(tags=("export_control",), dates=None) -> dict:
    return {
        "tags": list(tags),
        "scores": {tag: 0.9 for tag in tags},
        "evidence": {
            tag: [{"rule": "r", "text": "Entity List", "field": "abstract", "effect": "support"}]
            for tag in tags
        },
        "entities": {},
        "dates": dates or {},
    }


def seed(home: Path, pubs: list[Publication], routes=("team",), crawled: bool = True) -> None:
    """Store and tag `pubs` as a live crawl after the first one would (routes added before)."""
    with Archive.open(home) as archive:
        if crawled:
            past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat(timespec="seconds")
            archive.log_crawl(SOURCE, started_at=past, finished_at=past, ok=True, stats={})
        archive.register_routes(list(routes))
        archive.store(pubs)
        tag_all(archive, [RouteFilter(name) for name in routes])


def tag_all(archive: Archive, routes, tags=("export_control",), dates=None) -> None:
    for batch in archive.documents_to_tag("test-model"):
        archive.store_tags([(item, result(tags, dates)) for item in batch], "test-model", routes)


def outbox(home: Path) -> list[dict]:
    conn = sqlite3.connect(home / "regwatch.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM alert_outbox ORDER BY id")]
    finally:
        conn.close()


def invoke(config: Path, *args: str):
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def test_a_route_on_an_agency_named_by_acronym_or_common_name_gets_its_documents() -> None:
    doc = {"title": "Entity List additions", "abstract": "", "agencies": [dict(BIS_AGENCY)]}
    result = {"tags": ["export_control"], "scores": {"export_control": 0.9}}
    for name in ("BIS", "Bureau of Industry and Security", "industry and security bureau"):
        assert RouteFilter("team", agencies=(name,)).passes(doc, result), name
    assert not RouteFilter("team", agencies=("NTIA",)).passes(doc, result)


def test_an_endpoint_failing_twice_then_accepting_gets_each_alert_exactly_once(tmp_path, receivers):
    receiver = receivers([500, 500])
    config = write_config(tmp_path, {"team": hook(receiver)})
    seed(tmp_path / "home", [publication(f"2023-0000{i}", f"Rule {i}") for i in range(3)])
    runs = [invoke(config, "alert") for _ in range(3)]
    assert all(run.exit_code == 0 for run in runs), runs[-1].output
    assert "0 sent, 1 to retry" in runs[0].output
    assert "3 sent" in runs[2].output
    keys = [row["idempotency_key"] for row in outbox(tmp_path / "home")]
    assert sorted(receiver.keys) == sorted(keys) and len(set(keys)) == 3
    assert [r.headers["X-Idempotency-Key"] for r in receiver.requests[:3]] == [keys[0]] * 3
    assert [(r["state"], r["attempts"]) for r in outbox(tmp_path / "home")] == [
        ("sent", 3),
        ("sent", 1),
        ("sent", 1),
    ]
    assert invoke(config, "alert").output.startswith("alerts: 0 sent")
    assert len(receiver.requests) == 5


def test_killing_delivery_midway_and_rerunning_sends_nothing_twice(tmp_path, receivers):
    receiver = receivers(hold_after=3)
    config = write_config(tmp_path, {"team": hook(receiver)})
    seed(tmp_path / "home", [publication(f"2023-1000{i}", f"Rule {i}") for i in range(8)])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-m", "regwatch.cli", "--config", str(config), "alert"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        receiver.wait_for(receiver.holding.is_set, timeout=30)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    receiver.release()
    assert len(receiver.accepted) == 3
    assert [row["state"] for row in outbox(tmp_path / "home")][:4] == ["sent"] * 3 + ["pending"]
    receiver.hold_after = None
    assert invoke(config, "alert").exit_code == 0
    keys = [row["idempotency_key"] for row in outbox(tmp_path / "home")]
    assert receiver.keys == keys  # each alert accepted once, in order
    assert {row["state"] for row in outbox(tmp_path / "home")} == {"sent"}


@pytest.mark.parametrize("status", [301, 302, 303])
def test_a_redirected_webhook_is_not_reported_sent(tmp_path, receivers, status):
    """A webhook answering 3xx did not take the alert (a 301/302/303 turns the POST into a GET
    of some page answering 200): it is retried, never marked sent."""
    receiver = receivers([status])
    config = write_config(tmp_path, {"team": hook(receiver)})
    seed(tmp_path / "home", [publication("2023-20101", "Redirected rule")])
    first = invoke(config, "alert")
    assert "0 sent, 1 to retry" in first.output, first.output
    assert [(r.method, r.path) for r in receiver.requests] == [("POST", "/hook")]
    assert [row["state"] for row in outbox(tmp_path / "home")] == ["pending"]
    assert "1 sent" in invoke(config, "alert").output
    assert [(r.method, r.path) for r in receiver.accepted] == [("POST", "/hook")]


def test_resending_maybe_delivered_alerts_stops_at_max_attempts(tmp_path, receivers):
    """A slow endpoint that takes every request but never answers in time: with
    `on_ambiguous = "resend"` the alert went out again at every backoff, without end (a channel
    filling with copies); it stops at `max_attempts` and is failed, loudly."""
    receiver = receivers(delay=1.0)
    config = write_config(
        tmp_path,
        {"team": hook(receiver)},
        timeout_seconds=0.2,
        on_ambiguous="resend",
        max_attempts=2,
    )
    seed(tmp_path / "home", [publication("2023-30002", "Slow rule resent")])
    runs = [invoke(config, "alert") for _ in range(3)]
    assert "0 failed, 1 maybe delivered" in runs[0].output
    assert "1 failed, 0 maybe delivered" in runs[1].output
    assert "0 sent, 0 to retry, 0 failed, 0 maybe" in runs[2].output  # nothing left to send
    assert len(receiver.requests) == 2
    (row,) = outbox(tmp_path / "home")
    assert (row["state"], row["attempts"]) == ("failed", 2)
    assert row["last_error"].endswith("(attempt 2, the last)")


def test_a_dead_endpoint_does_not_block_a_live_one(tmp_path, receivers):
    live = receivers()
    dead = receivers()
    dead_url = hook(dead)
    dead.stop()  # nothing listens on that port any more
    config = write_config(tmp_path, {"dead": dead_url, "live": hook(live)}, max_attempts=2)
    pubs = [publication(f"2023-2000{i}", f"Rule {i}") for i in range(4)]
    seed(tmp_path / "home", pubs, routes=("dead", "live"))
    first = invoke(config, "alert")
    assert first.exit_code == 0
    assert "4 sent, 1 to retry, 0 failed, 0 maybe delivered, 3 waiting" in first.output
    assert len(live.keys) == 4
    second = invoke(config, "alert")
    assert "0 sent, 0 to retry, 1 failed" in second.output
    assert second.exit_code == 1  # lost unless a person looks: loud, unlike a retry
    assert second.output.splitlines()[-1] == (
        "Error: 1 alerts failed for good, 0 maybe delivered (`regwatch status` shows them per "
        "route; `regwatch alert --retry-failed` sends the failed ones again)"
    )
    status = invoke(config, "status").output
    assert "  dead: 3 pending, 1 failed, 0 maybe delivered, 0 sent" in status
    assert "  live: 0 pending, 0 failed, 0 maybe delivered, 4 sent, last sent 20" in status
    failed = [row for row in outbox(tmp_path / "home") if row["state"] == "failed"]
    assert failed[0]["last_error"] == "JSON refused or unreachable"
    assert "127.0.0.1" not in status and "json://" not in status
    # The route is back (here: on another port): the failed alert was lost for good before.
    revived = receivers()
    write_config(tmp_path, {"dead": hook(revived), "live": hook(live)}, max_attempts=2)
    again = invoke(config, "alert", "--retry-failed")
    assert "gave 1 failed alerts their attempts back" in again.output
    assert "4 sent, 0 to retry, 0 failed" in again.output and again.exit_code == 0
    assert len(revived.keys) == 4 and len(live.keys) == 4


@pytest.mark.parametrize(("policy", "resent"), [("skip", 0), ("resend", 1)])
def test_an_unanswered_request_is_maybe_delivered_and_resent_only_if_asked(
    tmp_path, receivers, policy, resent
):
    receiver = receivers(delay=1.0)
    config = write_config(
        tmp_path, {"team": hook(receiver)}, timeout_seconds=0.2, on_ambiguous=policy
    )
    seed(tmp_path / "home", [publication("2023-30001", "Slow rule")])
    first = invoke(config, "alert")
    assert "0 sent, 0 to retry, 0 failed, 1 maybe delivered" in first.output
    assert first.exit_code == 1
    assert len(receiver.accepted) == 1  # it did arrive: the outcome was unknown, not a failure
    assert "team: 0 pending, 0 failed, 1 maybe delivered" in invoke(config, "status").output
    receiver.delay = 0
    invoke(config, "alert")
    assert len(receiver.accepted) == 1 + resent
    assert len(set(receiver.keys)) == 1


def test_a_route_alerts_only_on_documents_stored_after_it_was_added(tmp_path, receivers):
    receiver = receivers()
    home = tmp_path / "home"
    seed(home, [publication("2023-40001", "Old rule")], routes=("early",))
    config = write_config(tmp_path, {"early": hook(receiver), "late": hook(receiver, "late")})
    invoke(config, "alert")  # registers "late" now: the stored document predates it
    with Archive.open(home) as archive:
        archive.store([publication("2023-40002", "New rule")])
        tag_all(archive, [RouteFilter("early"), RouteFilter("late")])
    invoke(config, "alert")
    routes = sorted((r.path, r.body["message"].split("]")[0]) for r in receiver.accepted)
    assert routes == [("/hook", "[New rule"), ("/hook", "[Old rule"), ("/late", "[New rule")]


def test_backfill_days_queues_older_documents_explicitly(tmp_path, receivers):
    receiver = receivers()
    home = tmp_path / "home"
    seed(home, [publication("2023-50001", "Backfilled rule")], routes=(), crawled=False)
    config = write_config(tmp_path, {"team": hook(receiver)})
    assert "0 sent" in invoke(config, "alert").output
    result = invoke(config, "alert", "--backfill-days", "1")
    assert "queued 1 older alerts (backfill)" in result.output
    assert "1 sent" in result.output
    assert receiver.accepted[0].body["message"].startswith("[Backfilled rule]")


def test_dry_run_prints_the_message_and_sends_nothing(tmp_path, receivers):
    receiver = receivers()
    config = write_config(tmp_path, {"team": hook(receiver)})
    seed(tmp_path / "home", [publication("2023-60001", "Quiet rule")])
    result = invoke(config, "alert", "--dry-run")
    assert result.exit_code == 0
    assert "--- team\n[Quiet rule](https://www.federalregister.gov/d/2023-60001)" in result.output
    assert "dry run: 1 pending alerts, nothing sent" in result.output
    assert receiver.requests == [] and outbox(tmp_path / "home")[0]["attempts"] == 0
    write_config(tmp_path, {"team": hook(receiver), "later": hook(receiver)})
    assert invoke(config, "alert", "--dry-run").exit_code == 0
    with sqlite3.connect(tmp_path / "home" / "regwatch.db") as conn:  # a dry run wrote nothing:
        routes = [name for (name,) in conn.execute("SELECT name FROM alert_routes")]
    assert routes == ["team"]  # it recorded the new route's start, changing what it is sent


def test_only_a_change_of_title_abstract_tags_or_key_dates_queues_an_update(tmp_path):
    home = tmp_path / "home"
    seed(home, [publication("2023-70001", "Dated rule")])
    routes = [RouteFilter("team")]
    with Archive.open(home) as archive:
        archive.store([publication("2023-70001", "Dated rule", body_text="Typo fixed.")])
        tag_all(archive, routes)  # version 2: same title, abstract, tags and dates
        archive.store([publication("2023-70001", "Dated rule", dates="Comments by Dec 1.")])
        tag_all(archive, routes, dates={"comments_close_on": "2023-12-01"})  # version 3
    assert [(r["kind"], r["version"]) for r in outbox(home)] == [("new", 1), ("updated", 3)]


def test_a_first_crawl_into_an_empty_archive_alerts_nobody_and_the_next_one_does(
    tmp_path, replay, receivers
):
    receiver = receivers()
    config_path = write_config(tmp_path, {"team": hook(receiver)}, timeout_seconds=5.0)
    config = load_config(config_path, environ={})
    Archive.open(config.home).close()  # an empty archive, as `regwatch schedule` makes one
    steps.alert(config)  # the route exists before anything is stored
    server = replay()
    first = steps.crawl(config, since="2023-10-23", until="2023-10-23", base_url=server.url)
    assert first.ok and first.inserted > 0
    tagged = steps.tag(config)
    assert tagged.counts.get("export_control", 0) + tagged.counts.get("ai", 0) > 0
    assert steps.alert(config).delivery.sent == 0 and outbox(config.home) == []
    second = steps.crawl(config, since="2023-10-24", until="2023-10-25", base_url=server.url)
    assert second.ok and second.inserted > 0
    steps.tag(config)
    delivery = steps.alert(config).delivery
    rows = outbox(config.home)
    assert delivery.sent == len(rows) > 0 and len(receiver.accepted) == len(rows)
    with Archive.open(config.home) as archive:
        stored = {p["id"]: p["publication_date"] for p in archive.publications()}
    assert {stored[row["publication_id"]] for row in rows} <= {"2023-10-24", "2023-10-25"}
    assert {row["kind"] for row in rows} == {"new"}


def test_a_corrected_document_sends_one_updated_alert(tmp_path, replay, receivers):
    receiver = receivers()
    config_path = write_config(tmp_path, {"team": hook(receiver)}, timeout_seconds=5.0)
    config = load_config(config_path, environ={})
    Archive.open(config.home).close()
    steps.alert(config)
    steps.crawl(config, since="2023-10-25", until="2023-10-25", base_url=replay().url)
    steps.tag(config)
    assert steps.alert(config).delivery.sent == 0
    corrected = replay("corrected-document").url
    again = steps.crawl(config, since="2023-10-25", until="2023-10-25", base_url=corrected)
    assert again.updated == 1
    steps.tag(config)
    assert steps.alert(config).delivery.sent == 1
    (row,) = outbox(config.home)
    assert (row["kind"], row["version"]) == ("updated", 2)
    message = receiver.accepted[0].body["message"]
    assert message.startswith("**Updated:** [Implementation of Additional Export Controls")
    assert "(https://www.federalregister.gov/documents/2023/10/25/2023-23055/" in message


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "Error: alerts.routes[0].url_env: environment variable TEAM_HOOK is not set"),
        (
            {"TEAM_HOOK": "slack://SECRETTOKEN"},
            "Error: alerts.routes[0].url_env: environment variable TEAM_HOOK is not a valid "
            "slack:// Apprise URL",
        ),
    ],
)
def test_a_route_url_from_the_environment_is_checked_when_alerting(
    tmp_path, monkeypatch, environ, message
):
    config = tmp_path / "regwatch.toml"
    config.write_text(
        f'[archive]\nhome = "{tmp_path}"\n'
        '[[alerts.routes]]\nname = "team"\nurl_env = "TEAM_HOOK"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("TEAM_HOOK", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    result = invoke(config, "alert")
    assert result.exit_code == 1
    assert result.output == message + "\n"
    assert "SECRET" not in result.output


def test_a_route_url_with_several_targets_is_refused_before_anything_is_sent(
    tmp_path, monkeypatch, receivers
):
    """Apprise reports one result for all of a URL's targets: with #alpha accepting and #beta
    refusing, the retry would post to #alpha again. Such a URL is a configuration error."""
    receiver = receivers([200, 500])
    two = f"mmost://127.0.0.1:{receiver.port}/tokenabc?channels=alpha,beta"
    seed(tmp_path / "home", [publication("2023-20201", "Rule for two channels")])
    config = write_config(tmp_path, {"team": two})
    result = invoke(config, "alert")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {config}: alerts.routes[0].url is a mmost:// Apprise URL with 2 targets "
        "(give each target its own route)\n"
    )
    text = config.read_text(encoding="utf-8").replace(f'url = "{two}"', 'url_env = "TEAM_HOOK"')
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("TEAM_HOOK", two)
    result = invoke(config, "alert")
    assert result.output == (
        "Error: alerts.routes[0].url_env: environment variable TEAM_HOOK is a mmost:// Apprise "
        "URL with 2 targets (give each target its own route)\n"
    )
    assert receiver.requests == [] and "tokenabc" not in result.output


def test_run_exits_1_when_an_alert_failed_for_good(tmp_path, receivers, replay_server):
    """The pipeline run reports a delivery lost unless a person acts, as `alert` does."""
    dead = receivers()
    dead_url = hook(dead)
    dead.stop()
    config = write_config(tmp_path, {"dead": dead_url}, max_attempts=1)
    seed(tmp_path / "home", [publication("2023-20301", "Rule for a dead route")], routes=("dead",))
    result = invoke(
        config, "run", "--base-url", replay_server, "--since", "2023-10-23", "--until", "2023-10-23"
    )
    assert "alerts: 0 sent, 0 to retry, 1 failed" in result.output
    assert result.exit_code == 1


def test_a_digest_folder_that_cannot_be_written_never_holds_back_the_alerts(
    tmp_path, receivers, replay_server
):
    """A file where the digest folder should be (a full disk takes the same path) stopped
    `regwatch run` at the digest with one error line: the pending alerts stayed pending run
    after run. Now they are delivered and counted, then the run fails naming the files; `alert`
    alone says what it sent before naming the feeds it could not write."""
    receiver = receivers()
    seed(tmp_path / "home", [publication("2023-20401", "Rule while the disk is full")])
    config = write_config(tmp_path, {"team": hook(receiver)})
    config.write_text('[crawl]\nsources = ["federal_register"]\n' + config.read_text())
    (tmp_path / "out").write_text("a file where the digest folder should be\n")
    result = invoke(
        config, "run", "--base-url", replay_server, "--since", "2023-10-23", "--until", "2023-10-23"
    )
    sent = re.search(r"alerts: (\d+) sent, 0 to retry, 0 failed", result.output)
    assert sent and int(sent[1]) == len(receiver.requests) >= 1
    assert result.output.endswith(
        f"Error: the digest files were not written: [Errno 17] File exists: '{tmp_path / 'out'}'\n"
    )
    assert result.exit_code == 1
    before = len(receiver.requests)
    seed(tmp_path / "home", [publication("2023-20402", "Second rule")])
    alone = invoke(config, "alert")
    sent = re.search(r"^alerts: (\d+) sent, 0 to retry, 0 failed", alone.output)
    assert sent and int(sent[1]) == len(receiver.requests) - before >= 1
    feeds = tmp_path / "out" / "feeds"
    assert alone.output.endswith(
        f"Error: the feeds were not written: [Errno 20] Not a directory: '{feeds}'\n"
    )
    assert alone.exit_code == 1


def test_a_damaged_cell_never_stops_the_alerts_of_the_other_documents(tmp_path, receivers):
    """One stored agencies, source-record or tag-result cell that is not JSON (a damaged or
    hand-edited row) stopped `alert --backfill-days` for every document with a bare parser
    error; now the others are sent, the one with damaged agencies says what can be read, and
    the one whose tag result cannot be read has no tags to alert on."""
    receiver = receivers()
    home = tmp_path / "home"
    titles = ("Intact rule", "Agency-damaged rule", "Tag-damaged rule")
    pubs = [publication(f"2023-8000{n}", title) for n, title in enumerate(titles)]
    seed(home, pubs, routes=(), crawled=False)
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.execute(
            "UPDATE publications SET agencies = '[{broken', raw = X'00112233' "
            "WHERE source_id = '2023-80001'"
        )
        conn.execute(
            "UPDATE tag_results SET result = '{\"tags\": [' WHERE publication_id = "
            "(SELECT id FROM publications WHERE source_id = '2023-80002')"
        )
    config = write_config(tmp_path, {"team": hook(receiver)})
    result = invoke(config, "alert", "--backfill-days", "1")
    assert result.exit_code == 0, result.output
    assert "queued 2 older alerts (backfill)" in result.output and "2 sent" in result.output
    sent = {r.body["message"].split("]")[0]: r.body["message"] for r in receiver.accepted}
    assert sorted(sent) == ["[Agency-damaged rule", "[Intact rule"]
    assert "Industry and Security Bureau" in sent["[Intact rule"]
    assert "Industry and Security Bureau" not in sent["[Agency-damaged rule"]


def test_an_alert_whose_stored_payload_cannot_be_read_fails_alone(tmp_path, receivers):
    """One queued alert whose stored payload is not JSON (a damaged or hand-edited row) stopped
    every delivery run, and the route's Atom feed, with a bare parser error: the others waited
    for good. Now it is failed, saying why, the others are sent and the feed is written."""
    receiver = receivers()
    home = tmp_path / "home"
    config = write_config(tmp_path, {"team": hook(receiver)})
    seed(home, [publication(f"2023-0001{i}", f"Rule {i}") for i in range(3)])
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.execute("UPDATE alert_outbox SET payload = '{\"title\": ' WHERE id = 2")
    assert "(damaged or hand-edited)" in invoke(config, "alert", "--dry-run").output
    result = invoke(config, "alert")
    assert "alerts: 2 sent, 0 to retry, 1 failed" in result.output
    sent = " ".join(r.body["message"] for r in receiver.accepted)
    assert "[Rule 0]" in sent and "[Rule 2]" in sent and "[Rule 1]" not in sent
    states = {row["id"]: (row["state"], row["last_error"]) for row in outbox(home)}
    assert states[2] == ("failed", UNREADABLE)
    feed = (tmp_path / "out" / "feeds" / "team.atom").read_text(encoding="utf-8")
    assert feed.count("<entry>") == 2
