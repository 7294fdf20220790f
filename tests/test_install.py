"""regwatch installs like a Python application: a wheel in a fresh virtual environment runs from
any folder, with its configuration schema, patterns, templates and replay data inside packages.

The wheel is built offline from a copy of the source (`--no-build-isolation`: the project's
setuptools builds it) and installed with `--no-deps` into a new venv; the dependencies come from
this environment's site-packages through a `.pth` path entry (a plain path entry: the editable
install's hooks there are not run). Commands run with a temporary working folder and no
PYTHONPATH, so the source tree cannot be imported by accident.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "cli" / "fr_documents.jsonl"
SOURCE_IGNORE = shutil.ignore_patterns(".*", "__pycache__", "build", "dist", "*.egg-info", "data")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    return finished(*args, cwd=cwd, env=env).stdout


def finished(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(REPO, work / "src", ignore=SOURCE_IGNORE)
    pip = (sys.executable, "-m", "pip")
    offline = ("--no-deps", "--no-build-isolation", "-q")
    built = finished(*pip, "wheel", *offline, "-w", work / "dist", ".", cwd=work / "src")
    (work / "build.log").write_text(built.stdout + built.stderr)
    (path,) = (work / "dist").glob("regwatch-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | dict]:
    root = tmp_path_factory.mktemp("app")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    python = venv / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--python", python)
    run(*pip, "install", "--no-deps", "--no-index", "-q", wheel, cwd=root)
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    target = Path(run(python, "-c", purelib, cwd=root).strip())
    (target / "zz_regwatch_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "REGWATCH_"))}
    env |= {"REGWATCH_HOME": str(root / "home"), "PATH": f"{venv / 'bin'}:{env['PATH']}"}
    folder = root / "elsewhere"
    folder.mkdir()
    return {"venv": venv, "site": target, "env": env, "cwd": folder}


def test_wheel_ships_data_and_no_loose_top_level_modules(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.startswith("regwatch-")}
    assert tops == {"archive", "crawlers", "digests", "nlp", "regwatch", "replay", "scheduler.py"}
    for data in [
        "regwatch/config_schema.toml",
        "crawlers/sources.json",
        "nlp/patterns/tags.jsonl",
        "digests/templates/digest.html",
        "regwatch/web/templates/search.html",
        "replay/recordings/federal_register/api.json",
        "replay/recordings/federal_register/store.jsonl.gz",
        "replay/recordings/federal_register/recorded/third_party_trimmed/"
        "fr-bis-documents-trimmed-2026-10-02.json",
        "replay/recordings/federal_register/scenarios/first-500.json",
        "replay/recordings/federal_register/synthetic/synthetic-malformed.json",
    ]:
        assert data in names, data
    for folder in ("nlp/patterns", "replay/recordings"):
        shipped = {n for n in names if n.startswith(f"{folder}/")}
        files = (
            p for p in (REPO / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        )
        assert shipped == {p.relative_to(REPO).as_posix() for p in files}, folder


def test_building_the_wheel_warns_of_no_folder_left_out(wheel: Path) -> None:
    log = (wheel.parent.parent / "build.log").read_text()
    assert "would be ignored" not in log and "absent from the `packages`" not in log, log[:2000]


def test_installed_commands_run_from_any_folder(installed: dict, tmp_path: Path) -> None:
    env, cwd = installed["env"], installed["cwd"]
    regwatch = installed["venv"] / "bin" / "regwatch"
    python = installed["venv"] / "bin" / "python"
    files = "import regwatch, replay.server as r; print(regwatch.__file__, r.RECORDINGS)"
    where = run(python, "-c", files, cwd=cwd, env=env)
    assert all(p.startswith(str(installed["site"])) for p in where.split()), where
    loose = "import importlib.util as u; print([m for m in ('cli', 'config', 'steps', 'jsonl')"
    loose += " if u.find_spec(m)])"
    assert run(python, "-c", loose, cwd=cwd, env=env) == "[]\n"
    assert run(regwatch, "--version", cwd=cwd, env=env) == "regwatch, version 0.1.0\n"
    out = tmp_path / "tagged.jsonl"
    tagged = run(regwatch, "tag", "--input", FIXTURE, "--output", out, cwd=cwd, env=env)
    assert tagged == f"tagged 10 documents into {out}\n"
    assert len(out.read_text(encoding="utf-8").splitlines()) == 10
    imported = run(regwatch, "import", FIXTURE, cwd=cwd, env=env)
    assert "10 new, 0 changed, 0 unchanged, 0 rejected" in imported
    status = run(regwatch, "status", cwd=cwd, env=env)
    assert status.startswith(f"archive: {env['REGWATCH_HOME']}\ndocuments: 10 ")
    assert "2023-18772" in run(regwatch, "search", "temporary denial", cwd=cwd, env=env)
    digest = run(regwatch, "digest", "--until", "2025-01-16", cwd=cwd, env=env)
    assert f"digest written to {cwd}/data/digests/" in digest


def test_installed_crawl_reaches_a_replay_server(installed: dict, replay_server: str) -> None:
    env, cwd = installed["env"], installed["cwd"]
    regwatch = installed["venv"] / "bin" / "regwatch"
    args = ("crawl", "--base-url", replay_server, "--since", "2024-12-30", "--until", "2024-12-31")
    crawled = run(regwatch, *args, cwd=cwd, env=env)
    assert "(ok)" in crawled and " 0 new" not in crawled, crawled
