"""Configuration: `regwatch.toml` + environment variables → a validated `Config`.

Enters: the path given by `--config` or `REGWATCH_CONFIG` (else `./regwatch.toml` when present),
the environment (`REGWATCH_HOME`, `REGWATCH_CONTACT`, …) and the key schema in
`regwatch/config_schema.toml`.
Leaves: `Config`, a read-only mapping of dotted keys (`crawl.overlap_days`) to typed values (None
for an unset key without a default), or `ConfigError` whose message is one line naming the key and
the problem; `smtp_password` reads the SMTP password, which only ever comes from the environment.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

SCHEMA_PATH = Path(__file__).resolve().with_name("config_schema.toml")
DEFAULT_FILE = Path("regwatch.toml")
CONFIG_ENV = "REGWATCH_CONFIG"
PASSWORD_ENV = "REGWATCH_SMTP_PASSWORD"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LIST_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
LIST_KEYS = {"name", "to", "cc", "tags"}


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
    raw = _read_toml(file) if file else {}
    schema = load_schema()
    given = dict(_flatten(raw))
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
    return Config(values, file)


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
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {file}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None


def _flatten(table: Mapping[str, Any], prefix: str = "", stop_at: str | None = None):
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping) and (stop_at is None or stop_at not in value):
            yield from _flatten(value, f"{key}.", stop_at)
        else:
            yield key, value


def _where(file: Path | None) -> str:
    return str(file) if file else "config"


class _Invalid(ValueError):
    """A problem inside a structured value: `path` extends the key, `value` is the culprit."""

    def __init__(self, path: str, message: str, value: Any) -> None:
        super().__init__(message)
        self.path, self.value = path, value


def _validate(key: str, value: Any, spec: Mapping[str, Any], where: str) -> Any:
    kind = spec["type"]
    try:
        checked = _CHECKS[kind](value)
        if "choices" in spec and checked not in spec["choices"]:
            raise ValueError(f"must be one of {', '.join(spec['choices'])}")
    except _Invalid as exc:
        raise ConfigError(f"{where}: {key}{exc.path} {exc}, got {exc.value!r}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {key} {exc}, got {value!r}") from None
    low, high = spec.get("min"), spec.get("max")
    if (low is not None and checked < low) or (high is not None and checked > high):
        raise ConfigError(f"{where}: {key} must be between {low} and {high}, got {value!r}")
    return checked


def _number(convert: Callable[[Any], Any], accepted: type, wording: str) -> Callable[[Any], Any]:
    """A check converting with `convert` values of the `accepted` types (never booleans)."""

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise TypeError(wording)
        try:
            return convert(value)
        except ValueError:
            raise ValueError(wording) from None

    return check


def _as_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError("must be a non-empty string")
    return value.strip()


def _as_url(value: Any) -> str:
    text = _as_str(value)
    parts = urlparse(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    return text if text.endswith("/") else text + "/"


def _as_email(value: Any) -> str:
    text = _as_str(value)
    if not EMAIL.match(text):
        raise ValueError("must be an e-mail address")
    return text


def _as_cron(value: Any) -> str:
    from apscheduler.triggers.cron import CronTrigger

    text = _as_str(value)
    try:
        CronTrigger.from_crontab(text)
    except ValueError as exc:
        raise ValueError(f"must be a cron expression ({exc})") from None
    return text


def _as_timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = _as_str(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as America/New_York") from None
    return text


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("must be true or false")
    return value


def _as_lists(value: Any) -> list[dict[str, Any]]:
    """`[[digest.lists]]`: each with a unique `name`, recipients in `to`, optional `cc`, `tags`."""
    if not isinstance(value, list):
        raise TypeError("must be an array of tables ([[digest.lists]])")
    lists, names = [], set()
    for number, entry in enumerate(value, start=1):
        at = f"[{number}]"
        if not isinstance(entry, Mapping):
            raise _Invalid(at, "must be a table", entry)
        unknown = sorted(set(entry) - LIST_KEYS)
        if unknown:
            raise _Invalid(f"{at}.{unknown[0]}", "is not a known key", entry[unknown[0]])
        name = entry.get("name")
        if not isinstance(name, str) or not LIST_NAME.match(name):
            raise _Invalid(f"{at}.name", "must be lower-case letters, digits, - or _", name)
        if name in names:
            raise _Invalid(f"{at}.name", "is used by another list", name)
        names.add(name)
        to = _addresses(f"{at}.to", entry.get("to"))
        if not to:
            raise _Invalid(f"{at}.to", "must list at least one recipient", entry.get("to"))
        cc = _addresses(f"{at}.cc", entry.get("cc", []))
        lists.append({"name": name, "to": to, "cc": cc, "tags": _tags(at, entry.get("tags", []))})
    return lists


def _addresses(path: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _Invalid(path, "must be a list of e-mail addresses", value)
    for address in value:
        if not isinstance(address, str) or not EMAIL.match(address.strip()):
            raise _Invalid(path, "must be a list of e-mail addresses", address)
    return [address.strip() for address in value]


def _tags(at: str, value: Any) -> list[str]:
    from nlp.rules import PATTERNS_DIR, read_jsonl

    known = [rule["name"] for rule in read_jsonl(PATTERNS_DIR / "tags.jsonl")]
    if not isinstance(value, list):
        raise _Invalid(f"{at}.tags", "must be a list of tag names", value)
    for tag in value:
        if tag not in known:
            raise _Invalid(f"{at}.tags", f"has an unknown tag (known: {', '.join(known)})", tag)
    return list(value)


_CHECKS = {
    "str": _as_str,
    "int": _number(int, int | str, "must be a whole number"),
    "float": _number(float, int | float | str, "must be a number"),
    "bool": _as_bool,
    "url": _as_url,
    "path": lambda v: Path(_as_str(v)).expanduser(),
    "email": _as_email,
    "cron": _as_cron,
    "timezone": _as_timezone,
    "lists": _as_lists,
}
