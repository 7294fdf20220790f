"""The configured watch-list: `[watch]` in regwatch.toml plus the team CSV → `WatchList`.

Enters: a validated `Config` (`watch.eccns`, `watch.counterparties`, `watch.cfr`,
`watch.license_exceptions`, `watch.country_groups`, `watch.terms`, `watch.csv`,
`watch.threshold`) and the CSV it names: a header `kind,value,country,note`, then one item a line
(`country` and `note` may be empty; blank lines are skipped); a CSV that is not a regular file or
holds more than `MAX_CSV_BYTES` is refused before it is read.
Leaves: a `WatchList`, or `ConfigError` in one line naming the key (`watch.eccns[1]`) or the CSV
file and line (`watch.csv team.csv line 4`) and what is wrong with it.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nlp.watch import WatchError, WatchItem, WatchList, watch_item
from regwatch.config import Config, ConfigError
from regwatch.files import check_file

LISTS = {
    "eccns": "eccn",
    "cfr": "cfr",
    "license_exceptions": "license_exception",
    "country_groups": "country_group",
    "terms": "term",
}
CSV_COLUMNS = ["kind", "value", "country", "note"]
MAX_CSV_BYTES = 64 * 1024 * 1024  # a million watched names fit in a tenth of this


def load_watchlist(config: Config) -> WatchList:
    """The watch-list the configuration describes (empty when nothing is watched)."""
    try:
        items = [
            watch_item(kind, value, origin=f"watch.{key}[{n}]")
            for key, kind in LISTS.items()
            for n, value in enumerate(config[f"watch.{key}"])
        ]
        items += [
            watch_item(
                "counterparty", c["name"], c["country"], c["note"], f"watch.counterparties[{n}]"
            )
            for n, c in enumerate(config["watch.counterparties"])
        ]
        if config["watch.csv"] is not None:
            items += read_csv(Path(config["watch.csv"]))
    except WatchError as exc:
        raise ConfigError(str(exc)) from None
    return WatchList(items, config["watch.threshold"])


def read_csv(path: Path) -> list[WatchItem]:
    """The items of a watch-list CSV; `WatchError` naming the file and line of a bad one."""
    where = f"watch.csv {path}"
    try:
        check_file(path, MAX_CSV_BYTES)
        with path.open(encoding="utf-8-sig", newline="") as handle:
            lines = list(csv.reader(handle))
    except FileNotFoundError:
        raise WatchError(f"{where}: file not found") from None
    except (OSError, ValueError, csv.Error) as exc:  # ValueError: not a regular file, too big, …
        raise WatchError(f"{where}: cannot read: {exc}") from None
    if not lines or [cell.strip().lower() for cell in lines[0]] != CSV_COLUMNS:
        raise WatchError(f"{where} line 1: the header must be {','.join(CSV_COLUMNS)}")
    items = []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(CSV_COLUMNS):
            raise WatchError(f"{where} line {number}: {len(cells)} columns, expected at most 4")
        kind, value, country, note = [*cells, "", "", ""][:4]
        origin = f"{where} line {number}"
        items.append(watch_item(kind.strip().lower(), value, country, note, origin))
    return items
