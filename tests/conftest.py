"""Shared pytest fixtures.

Enters: the replay recordings shipped in `replay/recordings/`.
Leaves: `home` (a temporary working folder with `REGWATCH_HOME` set to its `home/` and a
configuration file crawling only the Federal Register API's sources: what a command-line test
runs in), `replay_server` (base URL of a local
Federal Register replay server; parametrize it indirectly with a scenario name), `replay` (a
factory starting servers, optionally with a scenario, all stopped at teardown), `REPLAY_DIR`,
`smtp` (a real SMTP server on 127.0.0.1: its `tests.smtp.Receiver` and port), `run_readonly`
(`regwatch` in a child process that file modes bind, root included).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from replay.server import RECORDINGS as REPLAY_DIR
from replay.server import ReplayServer, serve
from tests.smtp import EphemeralController, Receiver

REPO = Path(__file__).resolve().parent.parent
DROP_CAPS = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


@pytest.fixture
def replay() -> Iterator[Callable[..., ReplayServer]]:
    """`replay(scenario=None)` starts a replay server on a free port; all stop at teardown."""
    servers: list[ReplayServer] = []

    def start(scenario: str | dict[str, Any] | None = None) -> ReplayServer:
        servers.append(serve(REPLAY_DIR, scenario=scenario))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def replay_server(request: pytest.FixtureRequest, replay: Callable[..., ReplayServer]) -> str:
    """Base URL (`http://127.0.0.1:PORT/api/v1/`) of a replay server (scenario: indirect param)."""
    return replay(getattr(request, "param", None)).url


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`tmp_path/home` as `REGWATCH_HOME`, `tmp_path` as the working folder, and a config file
    there crawling only the Federal Register API's sources (`run` with the FR replay server:
    the other sites have replays of their own, and a test never reaches a live one)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REGWATCH_CONFIG", raising=False)
    monkeypatch.setenv("REGWATCH_HOME", str(tmp_path / "home"))
    (tmp_path / "regwatch.toml").write_text(FR_ONLY, encoding="utf-8")
    return tmp_path / "home"


FR_ONLY = '[crawl]\nsources = ["federal_register", "federal_register_pi"]\n'


@pytest.fixture
def smtp() -> Iterator[tuple[Receiver, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: its receiver and port."""
    receiver = Receiver()
    controller = EphemeralController(receiver, hostname="127.0.0.1", port=0)
    controller.start()
    yield receiver, controller.port
    controller.stop()


@pytest.fixture
def interruptible() -> Iterator[None]:
    """Child processes started in the test can be stopped by SIGINT even when the suite runs as a
    background job (whose shell starts it with SIGINT ignored, which children would inherit)."""
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def skip_unless_file_modes_bind() -> None:
    """Skip the test where `run_readonly` cannot be bound by file modes (root without setpriv)."""
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: file modes cannot bind root here")


def run_readonly(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`regwatch ARGS` in a child that file modes bind (as root: without CAP_DAC_OVERRIDE), on
    `home`, run from its parent (where the `home` fixture's config is)."""
    prefix = DROP_CAPS if os.geteuid() == 0 else []
    env = {**os.environ, "REGWATCH_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("REGWATCH_CONFIG", None)
    command = [*prefix, sys.executable, "-m", "regwatch.cli", *args]
    return subprocess.run(command, cwd=home.parent, env=env, capture_output=True, text=True)
