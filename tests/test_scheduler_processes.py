"""The scheduler with real processes: the pipeline lock against a concurrent `regwatch run` and a
stale lock left by a killed process, a hung crawl child killed at its timeout, and SIGTERM while a
step runs. The "server that never answers" accepts connections on 127.0.0.1 and says nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import scheduler
from archive import Archive
from regwatch import steps
from regwatch.cli import main
from regwatch.config import load_config
from regwatch.lock import LOCK_NAME, PipelineBusy, hold
from tests.processes import alive, children, wait_for

REPO = Path(__file__).resolve().parent.parent
SOURCE = "federal_register"


class Silent:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/api/v1/"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def stop(self) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    yield server
    server.stop()


def write_config(tmp_path: Path, base_url: str, **sections: dict[str, Any]) -> Path:
    lines = [f'[archive]\nhome = "{tmp_path / "home"}"', f'[digest]\noutput_dir = "{tmp_path}/out"']
    lines.append(f'[sources.federal_register]\nbase_url = "{base_url}"')
    sections.setdefault("crawl", {}).setdefault("sources", [SOURCE])  # no other site is reachable
    for name, values in sections.items():
        lines.append(f"[{name}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items()))
    path = tmp_path / "regwatch.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def regwatch(config: Path, *args: str, **popen: Any) -> subprocess.Popen:
    env = {**os.environ, "REGWATCH_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "regwatch.cli", *args], cwd=REPO, env=env, **popen
    )


def holder(home: Path) -> dict | None:
    try:
        return json.loads((home / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def crawl_log(home: Path) -> list[tuple[bool, dict]]:
    with sqlite3.connect(home / "regwatch.db") as conn:
        rows = conn.execute("SELECT ok, stats FROM crawl_log ORDER BY id").fetchall()
    return [(bool(ok), json.loads(stats)) for ok, stats in rows]


def start_home(home: Path, watermark: str = "2023-10-24") -> None:
    with Archive.open(home) as archive:
        archive.set_watermark(SOURCE, watermark)


# --- one pipeline at a time ---------------------------------------------------------------------


def test_a_second_regwatch_run_waits_then_exits_1_naming_the_holder(tmp_path, silent):
    config = write_config(tmp_path, silent.url, pipeline={"lock_wait_seconds": 1.5})
    home = tmp_path / "home"
    start_home(home)
    first = regwatch(config, "run", "--since", "2023-10-25", "--until", "2023-10-25",
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(lambda: silent.connections, 120, "the first run's crawl request")
        second = regwatch(config, "run", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 1
        lines = err.strip().splitlines()
        since = holder(home)["since"]
        who = f"regwatch run (pid {first.pid}) since {since}"
        assert lines[0] == f"waiting for the pipeline lock: {who}"
        assert lines[-1] == (
            f"Error: the pipeline is busy: {home / LOCK_NAME} is held by {who}; gave up after "
            "1.5 s (pipeline.lock_wait_seconds)"
        )
        assert out == ""
        assert len(crawl_log(home)) == 0  # the second run crawled nothing
    finally:
        first.terminate()
        first.wait(120)
    assert holder(home) is None  # the first run let go cleanly when stopped
    assert [ok for ok, _ in crawl_log(home)] == [False]


def test_a_waiting_command_goes_ahead_when_the_holder_finishes(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9/api/v1/")
    home = tmp_path / "home"
    Archive.open(home).close()  # `tag` makes none
    with hold(home, "the test", 0):
        tagger = regwatch(config, "tag", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = tagger.stderr.readline()
        assert line.startswith(f"waiting for the pipeline lock: the test (pid {os.getpid()}) ")
    out, _ = tagger.communicate(timeout=120)
    assert tagger.returncode == 0, out
    assert out.startswith("tagged 0 documents")


def test_a_lock_left_by_a_killed_process_is_taken_over_at_once(tmp_path):
    home = tmp_path / "home"
    code = (
        "import sys, time; from pathlib import Path; from regwatch.lock import hold\n"
        "with hold(Path(sys.argv[1]), 'regwatch run', 0):\n"
        "    print('held', flush=True); time.sleep(600)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.Popen(
        [sys.executable, "-c", code, str(home)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert killed.stdout.readline() == "held\n"
    since = holder(home)["since"]
    killed.kill()
    killed.wait()
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9/api/v1/"), environ={})
    started = time.monotonic()
    with steps.pipeline_lock(config, "regwatch tag") as left:
        assert holder(home)["pid"] == os.getpid()
    assert time.monotonic() - started < 5  # never waited for (lock_wait_seconds is 300)
    assert left == (
        f"took over the pipeline lock left by regwatch run (pid {killed.pid}, no longer running) "
        f"since {since}"
    )


def test_a_stale_lock_is_reported_by_the_cli_which_goes_ahead(tmp_path, monkeypatch):
    home = tmp_path / "home"
    Archive.open(home).close()  # `tag` makes none
    (home / LOCK_NAME).write_text(
        '{"pid": 999999999, "command": "regwatch schedule", "since": "2026-11-30T06:15:00+00:00"}'
    )
    monkeypatch.setenv("REGWATCH_CONFIG", str(write_config(tmp_path, "http://127.0.0.1:9/")))
    result = CliRunner().invoke(main, ["tag"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        "took over the pipeline lock left by regwatch schedule (pid 999999999, no longer running) "
        "since 2026-11-30T06:15:00+00:00"
    )


def test_the_lock_is_busy_within_one_process_too_and_says_so_without_waiting(tmp_path):
    with (
        hold(tmp_path, "regwatch schedule", 0),
        pytest.raises(PipelineBusy) as busy,
        hold(tmp_path, "regwatch crawl", 0),
    ):
        pass
    assert str(busy.value).startswith(f"the pipeline is busy: {tmp_path / LOCK_NAME} is held by ")
    assert str(busy.value).endswith("; gave up after 0 s (pipeline.lock_wait_seconds)")


def test_a_scheduler_shutting_down_stops_waiting_for_the_lock_at_once(tmp_path):
    stop = threading.Event()
    stop.set()
    began = time.monotonic()
    with (
        hold(tmp_path, "regwatch run", 0),
        pytest.raises(PipelineBusy, match=r"; stopped waiting$"),
        hold(tmp_path, "regwatch schedule", 600, stop=stop),
    ):
        pass
    assert time.monotonic() - began < 5


# --- a hung crawl -------------------------------------------------------------------------------


def test_a_hung_crawl_child_is_killed_at_its_timeout_and_the_watermark_stays(tmp_path, silent):
    path = write_config(tmp_path, silent.url, crawl={"timeout_minutes": 0.25})  # 15 s
    config = load_config(path, environ={})
    home = tmp_path / "home"
    start_home(home)
    began = time.monotonic()
    assert scheduler.run_job("pipeline", config) is False
    assert time.monotonic() - began < 120  # 15 s, the child's stop, the other steps
    assert silent.connections  # it did ask, and got no answer
    with Archive.open(home, readonly=True) as archive:
        assert archive.watermark(SOURCE) == "2023-10-24"
        (run,) = archive.last_job_runs().values()
    assert run.summary.startswith(f"{SOURCE} FAILED: the crawl took longer than 15 s; tagged 0 ")
    (ok, stats), *steps_after = crawl_log(home)  # then the full-text step, with nothing to read
    assert (ok, stats["errors"]) == (False, ["the crawl was stopped by SIGTERM"])
    assert [ok for ok, _ in steps_after] == [True]
    assert children(os.getpid()) == []


# --- SIGTERM during a step ----------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_crawl_stops_the_child_records_it_and_exits_0(tmp_path, silent, signum):
    config = write_config(tmp_path, silent.url)
    home = tmp_path / "home"
    start_home(home)
    long_ago = datetime.now(UTC) - timedelta(days=3)  # down for days: the pipeline runs at once
    steps.heartbeat(load_config(config, environ={}), 4242, long_ago, long_ago)
    env = {**os.environ, "REGWATCH_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    sched = subprocess.Popen(
        [sys.executable, "scheduler.py"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: silent.connections, 120, "the pipeline's crawl request")
        (child,) = children(sched.pid)
        sched.send_signal(signum)
        _, err = sched.communicate(timeout=120)
    finally:
        if sched.poll() is None:
            sched.kill()
    assert sched.returncode == 0, err
    assert not alive(child)
    assert "pipeline: a run fell due while the scheduler was down; running it now" in err
    assert f"{signum.name}: letting the running step finish, then stopping" in err
    assert re.search(
        rf"pipeline FAILED in [\d.]+ s: {SOURCE} FAILED: the crawl was stopped by SIGTERM; "
        "stopped before tagging\n",
        err,
    ), err
    assert "apscheduler" not in err  # one line per run, ours
    assert err.rstrip().endswith("regwatch.scheduler stopped")
    assert [(ok, stats["errors"]) for ok, stats in crawl_log(home)] == [
        (False, ["the crawl was stopped by SIGTERM"])
    ]
    with Archive.open(home, readonly=True) as archive:
        runs = archive.last_job_runs()
        assert archive.watermark(SOURCE) == "2023-10-24"
        beat = archive.heartbeat()
    assert runs["pipeline"].ok is False and runs["pipeline"].finished_at is not None
    assert beat.pid == sched.pid
    assert holder(home) is None  # the lock was let go


# --- one digest send at a time --------------------------------------------------------------------


class HoldingSmtp:
    """An SMTP receiver (aiosmtpd) holding the first message's DATA until a second sender gets
    as far as RCPT, or `wait` seconds pass; then it accepts every message."""

    def __init__(self, wait: float) -> None:
        from tests.smtp import Receiver

        self.receiver, self.wait, self.rcpts = Receiver(), wait, 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpts += 1
        return await self.receiver.handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        deadline = time.monotonic() + self.wait
        while not self.receiver.messages and self.rcpts < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return await self.receiver.handle_DATA(server, session, envelope)


def test_two_digest_senders_at_once_mail_a_list_once(tmp_path):
    """Two schedulers (or `regwatch digest --send` beside the scheduler) both found the week
    unsent in the digest log before either had recorded its send, and both mailed the list."""
    from tests.smtp import EphemeralController

    smtp = HoldingSmtp(wait=5)
    controller = EphemeralController(smtp, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        mail = {"host": "127.0.0.1", "port": controller.port, "security": "none", "timeout": 30}
        config = write_config(tmp_path, "http://127.0.0.1:9/api/v1/", mail=mail)
        with config.open("a", encoding="utf-8") as handle:
            handle.write("[[digest.lists]]\nname = 'team'\nto = ['eng@y.example']\n")
        Archive.open(tmp_path / "home").close()
        args = ("digest", "--week", "2026-W47", "--send")
        senders = [regwatch(config, *args, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [sender.communicate(timeout=120)[0] for sender in senders]
    finally:
        controller.stop()
    assert [sender.returncode for sender in senders] == [0, 0], outputs
    assert len(smtp.receiver.messages) == 1
    assert sum("was sent this period on" in output for output in outputs) == 1
