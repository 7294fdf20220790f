"""Search hits → files a person opens elsewhere: CSV, Excel and Parquet.

Enters: `SearchHit`s (as dicts) and where to write. Leaves: one row per hit with the columns in
`COLUMNS` (lists joined with "; "), written as CSV to a text stream, or as `.xlsx` / `.parquet`
through pandas, built in memory and written whole or not at all (`outfiles.replace_file`: a full
disk leaves the old file as it was). Every text cell of CSV and Excel is made inert: no control
characters or bidi controls (`plain_text`: a worksheet refuses the former, and CSV is printed to
the terminal that asked for it), and no formula: an Excel text cell is a string cell holding
the text as stored (`=HYPERLINK(…)` shows as typed; one longer than a cell holds is cut, saying
so), a CSV one that a spreadsheet would read as a formula gets a leading `'` (`csv_cell`: CSV
has no cell types). Parquet holds the values as stored.
Parquet needs pyarrow, which is kept out of the core install (it slows every pandas import):
without it `ExportError` says how to get it in one line.
"""

from __future__ import annotations

import csv
import importlib.util
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from regwatch.inert import csv_cell, plain_text
from regwatch.outfiles import replace_file

if TYPE_CHECKING:
    import pandas

COLUMNS = (
    "publication_date",
    "source",
    "source_id",
    "type",
    "title",
    "agencies",
    "tags",
    "comments_close_on",
    "url",
    "score",
    "related",
)
EXCEL_CELL = 32_767  # characters one worksheet cell holds
NEEDS = {
    "xlsx": ("openpyxl", "xlsx needs openpyxl: `pip install openpyxl`"),
    "parquet": ("pyarrow", "parquet needs `pip install regwatch[parquet]` (pyarrow)"),
}


class ExportError(ValueError):
    """A format cannot be written here; the message says what to install or change."""


def table_rows(hits: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per hit: the `COLUMNS`, lists joined with "; "."""
    return [{name: _flat(hit[name]) for name in COLUMNS} for hit in hits]


def _flat(value: Any) -> Any:
    """Lists as one text: names as they are, linked documents as `<source> <id>`."""
    if not isinstance(value, list):
        return value
    return "; ".join(f"{v['source']} {v['source_id']}" if isinstance(v, dict) else v for v in value)


def write_csv(hits: Sequence[dict[str, Any]], stream: TextIO) -> None:
    """CSV with a header row, every cell inert (`_sheet_cell`)."""
    writer = csv.DictWriter(stream, fieldnames=COLUMNS)
    writer.writeheader()
    for row in table_rows(hits):
        writer.writerow({name: _sheet_cell(value) for name, value in row.items()})


def _sheet_cell(value: Any) -> Any:
    """`value` as a CSV cell: text without control characters, never a formula."""
    return csv_cell(_sheet_text(value))


def _sheet_text(value: Any) -> Any:
    """Text without control characters (a worksheet refuses them); other values as given."""
    return plain_text(value) if isinstance(value, str) else value


def write_file(hits: Sequence[dict[str, Any]], path: Path, kind: str) -> None:
    """Write `.xlsx` or `.parquet` to `path` whole or not at all (raise `ExportError` if the
    engine is missing): built in memory, then `replace_file`, as pandas writing into `path`
    left a full disk's file cut short (and openpyxl a traceback)."""
    module, advice = NEEDS[kind]
    if importlib.util.find_spec(module) is None:
        raise ExportError(advice)
    import pandas

    rows = table_rows(hits)
    buffer = io.BytesIO()
    if kind == "xlsx":
        rows = [{name: _fitted(value) for name, value in row.items()} for row in rows]
        _write_xlsx(pandas.DataFrame(rows, columns=list(COLUMNS)), buffer)
    else:
        pandas.DataFrame(rows, columns=list(COLUMNS)).to_parquet(buffer, index=False)
    replace_file(path, buffer.getvalue())


def _write_xlsx(frame: pandas.DataFrame, stream: BinaryIO) -> None:
    """`frame` as one worksheet whose text cells are string cells: openpyxl stores text starting
    with `=` as a formula, which Excel would run."""
    import pandas

    with pandas.ExcelWriter(stream, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False)
        for row in writer.sheets["Sheet1"].iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"


def _fitted(value: Any) -> Any:
    """Text cut to what a worksheet cell holds (pandas and Excel cut a longer one silently),
    saying so at its end; other values as given."""
    text = _sheet_text(value)
    if not isinstance(text, str) or len(text) <= EXCEL_CELL:
        return text
    note = f" … [cut: {len(text):,} characters in all; --format json holds them]"
    return text[: EXCEL_CELL - len(note)] + note
