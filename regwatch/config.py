"""Configuration: `regwatch.toml` + environment variables → a validated `Config`.

Enters: the path given by `--config` or `REGWATCH_CONFIG` (else `./regwatch.toml` when present),
the environment (`REGWATCH_HOME`, `REGWATCH_CONTACT`, …) and the key schema in
`regwatch/config_schema.toml`. A config file that is not a regular file (a device, a named pipe) or
holds more than `MAX_CONFIG_BYTES` is refused in one line before it is read.
Leaves: `Config`, a read-only mapping of dotted keys (`crawl.overlap_days`) to typed values (None
for an unset key without a default; an array of tables such as `alerts.routes` or
`digest.lists` is a tuple of dicts checked field by field), or `ConfigError` whose message is
one line naming the key and the problem; `smtp_password`, `env_value` and `check_apprise_url`
for values checked only when a step needs them (secrets only ever come from the environment).
"""

from __future__ import annotations

import logging
import math
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from regwatch.files import check_file

SCHEMA_PATH = Path(__file__).resolve().with_name("config_schema.toml")
DEFAULT_FILE = Path("regwatch.toml")
CONFIG_ENV = "REGWATCH_CONFIG"
MAX_CONFIG_BYTES = 1024 * 1024  # a config is a few kilobytes: a bigger file is something else
PASSWORD_ENV = "REGWATCH_SMTP_PASSWORD"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# `archive.api.INDEX_DIR`: importing the archive (and its engine) cost every config load 0.2 s.
INDEX_DIR = "index"


class ConfigError(ValueError):
    """An unreadable or invalid configuration; the message names the key and the problem."""


@dataclass(frozen=True)
class Config(Mapping[str, Any]):
    """Validated settings keyed by dotted names; `source` says which file they came from."""

    values: Mapping[str, Any]
    source: Path | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def __iter__(self):
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def home(self) -> Path:
        return Path(self.values["archive.home"])


def load_schema() -> dict[str, dict[str, Any]]:
    """Return the key schema as `{dotted_key: {type, default, help, ...}}`."""
    with SCHEMA_PATH.open("rb") as handle:
        return dict(_flatten(tomllib.load(handle), stop_at="type"))


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate the configuration; raises `ConfigError` with a one-line message."""
    environ = os.environ if environ is None else environ
    file = _choose_file(path, environ)
    schema = load_schema()
    named = {key for key, spec in schema.items() if spec["type"] == "named_tables"}
    try:
        given = dict(_flatten(_read_toml(file) if file else {}, keep=named))
    except RecursionError:  # arrays, inline or dotted tables nested hundreds deep: no config
        raise ConfigError(f"{_where(file)}: not valid TOML: nested too deeply") from None
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise ConfigError(f"{_where(file)}: unknown key '{unknown[0]}'")
    values = {}
    for key, spec in schema.items():
        env_name = spec.get("env")
        if env_name and environ.get(env_name):
            values[key] = _validate(
                key, environ[env_name], spec, f"environment variable {env_name}"
            )
        elif key in given:
            values[key] = _validate(key, given[key], spec, _where(file))
        elif "default" in spec:
            values[key] = _validate(key, spec["default"], spec, "default")
        else:
            values[key] = None
    _check_output_dir(values, file)
    return Config(values, file)


def _check_output_dir(values: Mapping[str, Any], file: Path | None) -> None:
    """`digest.output_dir` outside the archive's search index folder, which `regwatch reindex`
    replaces whole (digests and feeds written there went with it)."""
    index = (Path(values["archive.home"]) / INDEX_DIR).resolve()
    output = Path(values["digest.output_dir"]).resolve()
    if output == index or index in output.parents:
        raise ConfigError(
            f"{_where(file)}: digest.output_dir {values['digest.output_dir']} is inside the search "
            f"index folder {index}, which `regwatch reindex` replaces whole: choose another folder"
        )


def smtp_password(config: Config, environ: Mapping[str, str] | None = None) -> str | None:
    """The SMTP password from `REGWATCH_SMTP_PASSWORD` when `mail.user` is set, else None."""
    environ = os.environ if environ is None else environ
    if config["mail.user"] is None:
        return None
    if not environ.get(PASSWORD_ENV):
        raise ConfigError(
            f"{_where(config.source)}: mail.user is set but environment variable {PASSWORD_ENV} "
            "is empty (sending needs the password)"
        )
    return environ[PASSWORD_ENV]


def _choose_file(path: str | Path | None, environ: Mapping[str, str]) -> Path | None:
    if path is not None:
        return Path(path)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_FILE if DEFAULT_FILE.exists() else None


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        check_file(file, MAX_CONFIG_BYTES)
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {file}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except ValueError as exc:  # from `check_file`: not a regular file, or too big to be a config
        raise ConfigError(f"{file}: not a config file: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None


def _flatten(
    table: Mapping[str, Any],
    prefix: str = "",
    stop_at: str | None = None,
    keep: set[str] | frozenset[str] = frozenset(),
):
    """(dotted key, value) pairs; a table holding `stop_at`, or named in `keep`, stays whole."""
    for name, value in table.items():
        key = f"{prefix}{name}"
        whole = key in keep or not isinstance(value, Mapping) or (stop_at or "") in value
        if not whole:
            yield from _flatten(value, f"{key}.", stop_at, keep)
        else:
            yield key, value


def _where(file: Path | None) -> str:
    return str(file) if file else "config"


def _validate(key: str, value: Any, spec: Mapping[str, Any], where: str) -> Any:
    kind = spec["type"]
    if kind == "tables":
        return _tables(key, value, spec, where)
    if kind == "named_tables":
        return _named_tables(key, value, spec, where)
    try:
        checked = _CHECKS[kind](value)
    except ConfigError:  # not this value's fault (a broken `crawlers/sources.json`)
        raise
    except (TypeError, ValueError) as exc:
        shown = "" if spec.get("secret") else f", got {value!r}"  # secrets are never echoed
        raise ConfigError(f"{where}: {key} {exc}{shown}") from None
    if isinstance(checked, tuple) and len(checked) < spec.get("min_items", 0):
        raise ConfigError(f"{where}: {key} must list at least {spec['min_items']}, got {value!r}")
    low, high = spec.get("min"), spec.get("max")
    if (low is not None and checked < low) or (high is not None and checked > high):
        raise ConfigError(f"{where}: {key} must be between {low} and {high}, got {value!r}")
    choices = spec.get("choices")
    if choices and checked not in choices:
        raise ConfigError(f"{where}: {key} must be one of {', '.join(choices)}, got {value!r}")
    return checked


def _tables(key: str, value: Any, spec: Mapping[str, Any], where: str) -> tuple[dict, ...]:
    """An array of tables (`[[key]]`), each checked against the schema's `fields`.

    Optional schema options: `one_of` (exactly one of these fields per table) and `unique` (a
    field no two tables may share). A field without `default` that is absent is None.
    """
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ConfigError(f"{where}: {key} must be an array of tables ([[{key}]])")
    items = [_table(f"{key}[{n}]", item, spec, where) for n, item in enumerate(value)]
    unique = spec.get("unique")
    names = [item[unique] for item in items] if unique else []
    for number, name in enumerate(names):
        if name in names[:number]:
            raise ConfigError(f"{where}: {key}[{number}].{unique} {name!r} is used twice")
    return tuple(items)


def _named_tables(
    key: str, value: Any, spec: Mapping[str, Any], where: str
) -> dict[str, dict[str, Any]]:
    """Tables named by their key (`[key.NAME]`), each checked against the schema's `fields`."""
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ConfigError(f"{where}: {key} must hold tables ([{key}.NAME])")
    for name in value:
        if not SLUG.match(name):
            raise ConfigError(f"{where}: {key}.{name}: a name is letters, digits, '-' or '_'")
    return {name: _table(f"{key}.{name}", item, spec, where) for name, item in value.items()}


def _table(label: str, item: Mapping[str, Any], spec: Mapping[str, Any], where: str) -> dict:
    """One table of an array or of named tables, checked field by field."""
    fields, one_of = spec["fields"], spec.get("one_of", ())
    unknown = sorted(set(item) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{label}.{unknown[0]}'")
    if one_of and sum(name in item for name in one_of) != 1:
        raise ConfigError(f"{where}: {label} needs exactly one of {' or '.join(one_of)}")
    checked = {}
    for name, field in fields.items():
        if name in item:
            checked[name] = _validate(f"{label}.{name}", item[name], field, where)
        elif field.get("required"):
            raise ConfigError(f"{where}: {label}.{name} is required")
        else:
            default = field.get("default")
            checked[name] = None if default is None else _validate(name, default, field, "")
    return checked


def env_value(key: str, name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of environment variable `name` that `key` points at; `ConfigError` if unset."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        raise ConfigError(f"{key}: environment variable {name} is not set")
    return value


def _number(convert: Callable[[Any], Any], accepted: type, wording: str) -> Callable[[Any], Any]:
    """A check converting with `convert` values of the `accepted` types (never booleans)."""

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise TypeError(wording)
        try:
            number = convert(value)
        except ValueError:
            raise ValueError(wording) from None
        if isinstance(number, float) and math.isnan(number):  # compares false with any bound
            raise ValueError(wording)
        return number

    return check


def _as_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError("must be a non-empty string")
    return value.strip()


def _as_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("must be a string")
    return value.strip()


def _as_url(value: Any) -> str:
    """An http(s) URL with a host, a port in range if given and no white space (each failed at
    the first crawl, not when the config was loaded)."""
    text = _as_str(value)
    parts = urlparse(text)
    spaced = any(c.isspace() for c in text)
    if parts.scheme not in ("http", "https") or not parts.hostname or spaced:
        raise ValueError("must be an http(s) URL")
    try:
        parts.port  # noqa: B018 - urllib checks the port when it is read
    except ValueError:
        raise ValueError("must be an http(s) URL with a port from 0 to 65535") from None
    return text if text.endswith("/") else text + "/"


def _as_path(value: Any) -> Path:
    """A path; `~` and `~user` expand to the home folder (`RuntimeError` when there is none); a
    NUL character is refused here, naming the key (the first use said only "embedded null byte")."""
    text = _as_str(value)
    if "\0" in text:
        raise ValueError("must be a path, not a name holding a NUL character")
    try:
        return Path(text).expanduser()
    except RuntimeError:
        raise ValueError("starts with ~ but that home folder is unknown here") from None


def _as_dir(value: Any) -> Path:
    """A path (`_as_path`) naming a folder that exists."""
    path = _as_path(value)
    try:
        info = path.stat()
    except OSError as exc:
        raise ValueError(f"must be a folder that exists ({exc.strerror.lower()})") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ValueError("must be a folder (it names a file)")
    return path


def _as_email(value: Any) -> str:
    text = _as_str(value)
    if not EMAIL.match(text):
        raise ValueError("must be an e-mail address")
    return text


def _as_cron(value: Any) -> str:
    from apscheduler.triggers.cron import CronTrigger

    text = _as_str(value)
    try:  # in UTC: not the process's zone (a `TZ` tzlocal refuses)
        trigger = CronTrigger.from_crontab(text, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"must be a cron expression ({exc})") from None
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:  # February 30th, say
        raise ValueError(f"must be a cron expression that fires; this one never fires: {text!r}")
    return text


def _as_crons(value: Any) -> tuple[str, ...]:
    """One cron expression or a list of them (at least one)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise TypeError("must be a cron expression or a list of them")
    return tuple(_as_cron(item) for item in items)


def _as_timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = _as_str(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder ("America")
        raise ValueError("must be an IANA time zone such as America/New_York") from None
    return text


def _as_strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError("must be a list of strings")
    return tuple(_as_str(item) for item in value)


def _as_slug(value: Any) -> str:
    text = _as_str(value)
    if not SLUG.match(text):
        raise ValueError("must be letters, digits, '-' or '_' (it names files)")
    return text


def _as_date(value: Any) -> str:
    from archive.records import iso_date

    text = value.isoformat() if type(value) is date else _as_str(value)  # TOML's bare dates too
    if iso_date(text) is None:
        raise ValueError("must be a date like 2024-01-31")
    return text


def _as_env_name(value: Any) -> str:
    text = _as_str(value)
    if not ENV_NAME.match(text):
        raise ValueError("must be an environment variable name")
    return text


@cache
def tag_names() -> dict[str, bool]:
    """Known tags from the tagger's rule data: name → primary."""
    from nlp.rules import load_rules

    return {tag["name"]: bool(tag.get("primary")) for tag in load_rules().tags}


def check_apprise_url(value: Any) -> str:
    """An Apprise URL its plugin accepts (`Apprise.instantiate`) naming one target (Apprise gives
    one result for all of a URL's targets, so a retry would repeat those already reached); the
    URL is never echoed."""
    import apprise

    text = _as_str(value)
    scheme = text.split("://", 1)[0] if "://" in text else ""
    apprise_log = logging.getLogger("apprise")
    level = apprise_log.level
    apprise_log.setLevel(logging.CRITICAL)  # a rejected token would be logged in clear
    try:
        plugin = apprise.Apprise.instantiate(text, suppress_exceptions=False)
    except Exception:  # noqa: BLE001 - any plugin complaint means "not usable"
        plugin = None
    finally:
        apprise_log.setLevel(level)
    if plugin is None:
        if scheme not in apprise.NotificationManager():
            raise ValueError(f"is not an Apprise URL (unknown scheme {scheme!r})")
        raise ValueError(f"is not a valid {scheme}:// Apprise URL")
    if len(plugin) > 1:
        raise ValueError(
            f"is a {scheme}:// Apprise URL with {len(plugin)} targets "
            "(give each target its own route)"
        )
    return text


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("must be true or false")
    return value


def _as_sources(value: Any) -> tuple[str, ...]:
    """Registered source names (`crawlers/sources.json`) for `run` and the scheduler to crawl."""
    from crawlers.sources import crawled_sources

    names = _as_strs(value)
    try:
        known = crawled_sources("all")
    except ValueError as exc:  # the registry is broken, not the value naming its sources
        raise ConfigError(str(exc)) from None
    for name in names:
        if name not in known:
            raise ValueError(f"has unknown source {name!r} (known: {', '.join(sorted(known))})")
    return names


def _as_emails(value: Any) -> tuple[str, ...]:
    """A list of e-mail addresses (one address alone is taken as a list of one)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise TypeError("must be a list of e-mail addresses")
    return tuple(_as_email(item) for item in items)


def _known_tags(primary: bool | None) -> Callable[[Any], tuple[str, ...]]:
    """A check of tag names: primary ones, sub-tags, or any (`primary=None`)."""

    def check(value: Any) -> tuple[str, ...]:
        names = _as_strs(value)
        known = sorted(n for n, is_primary in tag_names().items() if primary in (None, is_primary))
        for name in names:
            if name not in known:
                raise ValueError(f"has unknown tag {name!r} (known: {', '.join(known)})")
        return names

    return check


_CHECKS = {
    "str": _as_str,
    "text": _as_text,
    "int": _number(int, int | str, "must be a whole number"),
    "float": _number(float, int | float | str, "must be a number"),
    "bool": _as_bool,
    "url": _as_url,
    "path": _as_path,
    "dir": _as_dir,
    "email": _as_email,
    "cron": _as_cron,
    "crons": _as_crons,
    "timezone": _as_timezone,
    "strs": _as_strs,
    "slug": _as_slug,
    "env_name": _as_env_name,
    "date": _as_date,
    "tags": _known_tags(primary=True),
    "sub_tags": _known_tags(primary=False),
    "apprise_url": check_apprise_url,
    "emails": _as_emails,
    "sources": _as_sources,
    "any_tags": _known_tags(primary=None),
}
