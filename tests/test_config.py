"""Configuration loading: defaults, file values, environment overrides and one-line errors."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crawlers import sources
from regwatch.config import ConfigError, load_config, load_schema

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "regwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_file_is_valid_and_equals_the_defaults():
    example = load_config(REPO / "regwatch.example.toml", environ={})
    defaults = load_config(environ={})
    assert dict(example) == dict(defaults)
    assert example["sources.federal_register.base_url"] is None  # the crawler's own default


def test_the_federal_register_base_url_has_one_home():
    from crawlers.sources import source_spec

    assert "default" not in load_schema()["sources.federal_register.base_url"]
    assert source_spec("federal_register")["base_url"] == "https://www.federalregister.gov/api/v1/"


def test_file_values_and_environment_override(tmp_path):
    path = write(tmp_path, '[crawl]\noverlap_days = 5\n[archive]\nhome = "/srv/rw"\n')
    config = load_config(path, environ={"REGWATCH_HOME": str(tmp_path / "env-home")})
    assert config["crawl.overlap_days"] == 5
    assert config.home == tmp_path / "env-home"


def test_a_digest_folder_inside_the_search_index_is_refused(tmp_path):
    """`reindex` replaces the index folder whole: digests and feeds written inside it were
    deleted by the next rebuild without a word."""
    from archive.api import INDEX_DIR
    from regwatch import config

    assert config.INDEX_DIR == INDEX_DIR
    path = write(tmp_path, '[digest]\noutput_dir = "/srv/rw/index/digests"\n')
    with pytest.raises(ConfigError) as refused:
        load_config(path, environ={"REGWATCH_HOME": "/srv/rw"})
    assert str(refused.value) == (
        f"{path}: digest.output_dir /srv/rw/index/digests is inside the search index folder "
        "/srv/rw/index, which `regwatch reindex` replaces whole: choose another folder"
    )
    assert load_config(path, environ={"REGWATCH_HOME": "/srv/other"}).home == Path("/srv/other")


def test_config_path_from_environment(tmp_path):
    path = write(tmp_path, '[crawl]\ncontact = "ops@acme.example"\n')
    config = load_config(environ={"REGWATCH_CONFIG": str(path)})
    assert config["crawl.contact"] == "ops@acme.example"
    assert config.source == path


def test_base_url_gets_a_trailing_slash(tmp_path):
    path = write(tmp_path, '[sources.federal_register]\nbase_url = "http://127.0.0.1:9/api/v1"\n')
    assert load_config(path, environ={})["sources.federal_register.base_url"].endswith("/v1/")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[crawl]\ncontct = 'x@y.z'\n", "unknown key 'crawl.contct'"),
        ("[crawl]\noverlap_days = 'three'\n", "crawl.overlap_days must be a whole number"),
        ("[crawl]\noverlap_days = -1\n", "crawl.overlap_days must be between 0 and 60"),
        ("[crawl]\ncontact = 'nobody'\n", "crawl.contact must be an e-mail address"),
        ("[tagging]\nthreshold_ai = 1.5\n", "tagging.threshold_ai must be between 0.0 and 1.0"),
        ("[sources.federal_register]\nbase_url = 'ftp://x'\n", "must be an http(s) URL"),
        # Each passed until the first crawl, which failed on it:
        ("[sources.bis]\nbase_url = 'http://127.0.0.1:99999/'\n", "with a port from 0 to 65535"),
        ("[sources.bis]\nbase_url = 'http://127.0.0.1 /x/'\n", "must be an http(s) URL"),
        ("[sources.bis]\nbase_url = 'http://:80/'\n", "must be an http(s) URL"),
        # Each named no key, in a raw line at first use ("embedded null byte", "Is a directory"):
        ('[archive]\nhome = "/srv/a\\u0000b"\n', "archive.home must be a path, not a name"),
        ('[digest]\noutput_dir = "d\\u0000"\n', "digest.output_dir must be a path, not a name"),
        ("[schedule]\ntimezone = 'America'\n", "schedule.timezone must be an IANA time zone"),
        ("[crawl\n", "not valid TOML"),
    ],
)
def test_invalid_config_is_one_line_naming_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml", environ={})


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: Path("/dev/zero"), "it is a device, not a regular file"),
        (lambda tmp: _fifo(tmp / "pipe"), "it is a named pipe, not a regular file"),
        (
            lambda tmp: write(tmp, "# a log file given by mistake\n" * 40_000),
            "1,200,000 bytes, more than the 1,048,576 it may hold",
        ),
    ],
    ids=["dev-zero", "named-pipe", "too-big"],
)
def test_a_config_that_is_no_config_file_is_refused_before_it_is_read(tmp_path, make, reason):
    path = make(tmp_path)  # /dev/zero exhausted memory; a named pipe blocked for ever
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == f"{path}: not a config file: {reason}"


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("absent", "must be a folder that exists (no such file or directory)"),
        ("digest.html", "must be a folder (it names a file)"),
        ("a\\u0000b", "must be a path, not a name holding a NUL character"),
    ],
    ids=["missing", "a-file", "nul"],
)
def test_a_templates_dir_that_is_no_folder_is_refused_naming_the_key(tmp_path, name, reason):
    """A mistyped templates folder was ignored: the bundled templates went out and nobody knew."""
    (tmp_path / "digest.html").write_text("<p>{{ digest.period.label }}</p>\n")
    path = write(tmp_path, f'[digest]\ntemplates_dir = "{tmp_path}/{name}"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    shown = repr(f"{tmp_path}/{name}".replace("\\u0000", "\0"))
    assert str(caught.value) == f"{path}: digest.templates_dir {reason}, got {shown}"
    folder = write(tmp_path, f'[digest]\ntemplates_dir = "{tmp_path}"\n')
    assert load_config(folder, environ={})["digest.templates_dir"] == tmp_path


def test_invalid_environment_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="REGWATCH_CONTACT"):
        load_config(environ={"REGWATCH_CONTACT": "not-an-address"})


def test_every_key_is_documented_in_readme_and_example():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = (REPO / "regwatch.example.toml").read_text(encoding="utf-8")
    for key in load_schema():
        assert f"`{key}`" in readme, key
        assert key.rsplit(".", 1)[-1] in example, key


ROUTE = '[[alerts.routes]]\nname = "team"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ROUTE + 'url = "slack://onlyonetoken"\n', "alerts.routes[0].url is not a valid slack://"),
        (ROUTE + 'url = "nosuch://host/SECRET"\n', "unknown scheme 'nosuch'"),
        (ROUTE + 'url = "json://127.0.0.1:9/h"\ntags = ["aii"]\n', "unknown tag 'aii'"),
        (ROUTE + 'url = "json://127.0.0.1:9/h"\nsub_tags = ["ai"]\n', "sub_tags has unknown tag"),
        (ROUTE, "alerts.routes[0] needs exactly one of url or url_env"),
        (ROUTE + 'url = "json://h/x"\nurl_env = "HOOK"\n', "needs exactly one of url or url_env"),
        ('[[alerts.routes]]\nurl = "json://h/x"\n', "alerts.routes[0].name is required"),
        (ROUTE + 'url = "json://h/x"\ncolour = 1\n', "unknown key 'alerts.routes[0].colour'"),
        (ROUTE + 'url = "json://h/x"\n' + ROUTE + 'url = "json://h/y"\n', "'team' is used twice"),
        (ROUTE + 'url = "json://h/x"\nmin_score = 2\n', "min_score must be between 0.0 and 1.0"),
        ("[alerts]\non_ambiguous = 'maybe'\n", "on_ambiguous must be one of skip, resend"),
    ],
)
def test_invalid_alert_routes_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    assert message in str(caught.value)
    assert "SECRET" not in str(caught.value) and "onlyonetoken" not in str(caught.value)


def test_routes_are_read_with_their_defaults(tmp_path):
    text = ROUTE + 'url_env = "TEAM_HOOK"\ntags = ["export_control"]\n'
    (route,) = load_config(write(tmp_path, text), environ={})["alerts.routes"]
    assert route == {
        "name": "team",
        "url": None,
        "url_env": "TEAM_HOOK",
        "ops": False,
        "tags": ("export_control",),
        "sub_tags": (),
        "agencies": (),
        "min_score": 0.0,
        "words": (),
        "watch": False,
    }


def test_a_broken_source_registry_is_named_not_blamed_on_the_config(tmp_path, monkeypatch):
    broken = tmp_path / "sources.json"
    broken.write_text("{")
    monkeypatch.setattr(sources, "REGISTRY", broken)
    sources.registry.cache_clear()
    try:
        with pytest.raises(ConfigError) as raised:
            load_config(environ={})
    finally:
        sources.registry.cache_clear()
    assert str(raised.value) == (
        "sources.json: not JSON: Expecting property name enclosed in double quotes "
        "(line 1, column 2)"
    )


@pytest.mark.parametrize("zone", ["UTC+3", "CET-1CEST,M3.5.0,M10.5.0/3", "Nowhere/Else"])
def test_a_process_time_zone_tzlocal_refuses_is_no_config_error(tmp_path, zone):
    """A POSIX `TZ` string (or a typo) in the environment: the cron keys are checked as syntax,
    and the schedule runs in `schedule.timezone`; it was a traceback from every command."""
    write(tmp_path, f'[archive]\nhome = "{tmp_path / "home"}"\n')
    env = {**os.environ, "TZ": zone, "PYTHONPATH": str(REPO)}
    env.pop("REGWATCH_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "regwatch.cli", "schedule", "--show"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pipeline: ") and done.stderr == ""


@pytest.mark.parametrize(
    "text",
    [
        "[tagging]\nthreshold_ai = nan\n",  # TOML's own nan: nothing would reach the threshold
        "[pipeline]\nlock_wait_seconds = 'nan'\n",  # a busy lock would be waited on for ever
        "[crawl]\ntimeout_minutes = -nan\n",
        ROUTE + 'url = "json://localhost/"\nmin_score = nan\n',
    ],
    ids=["threshold", "lock-wait", "crawl-timeout", "route-min-score"],
)
def test_nan_is_not_a_number_between_the_bounds(tmp_path, text):
    """NaN compares false with both bounds, so it passed every range check."""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    assert re.search(
        r"\.(threshold_ai|lock_wait_seconds|timeout_minutes|min_score) must be a "
        r"number, got '?nan'?$",
        str(caught.value),
    )


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * 1000 + "]" * 1000,  # tomllib's own recursion
        "x = " + "{a = " * 1000 + "1" + "}" * 1000,
        ".".join(["a"] * 3000) + " = 1",  # parsed, then too deep to flatten
        "[" + ".".join(["t"] * 3000) + "]\nk = 1\n",
    ],
    ids=["arrays", "inline-tables", "dotted-key", "table-header"],
)
def test_a_config_nested_too_deeply_is_one_line(tmp_path, text):
    """A few kilobytes of brackets or dots was a RecursionError traceback from every command."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == f"{path}: not valid TOML: nested too deeply"


def test_a_path_under_an_unknown_users_home_names_the_key(tmp_path):
    """`~svc/data` where user svc does not exist (a config copied from another machine) was a
    RuntimeError traceback from every command."""
    path = write(tmp_path, '[digest]\noutput_dir = "~no-such-user-h3/digests"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == (
        f"{path}: digest.output_dir starts with ~ but that home folder is unknown here, "
        "got '~no-such-user-h3/digests'"
    )
    with pytest.raises(ConfigError, match="environment variable REGWATCH_HOME: archive.home st"):
        load_config(environ={"REGWATCH_HOME": "~no-such-user-h3/data"})
