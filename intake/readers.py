"""Stream rows out of raw data files: CSV/TSV, JSON Lines, JSON arrays, plain text and xlsx.

The successor of `intake.columns`'s reader. `open_source()` detects the file's encoding once for
the whole file, reads what it needs to know the columns, and returns a `Source` description with
an iterator of `Row`s for the cleaning pipeline. Memory stays flat whatever the file size: files
are read in bounded chunks and rows are yielded one at a time; nothing holds a whole file.

A record that cannot be parsed (a broken JSON line, a CSV row with too many fields) is a `Row`
with `values=None` and an `error`, so the report can count it; only a file that cannot be read
as asked at all raises `SourceError`. The iterator itself may also raise `SourceError` when the
file's structure breaks part-way (a JSON array with a syntax error or left unclosed, a CSV field
over the size limit), after the rows before the break have been yielded.

Iterators open their own file handles and close them when exhausted, closed or collected; an
iterator that is never started holds no file.

This module picks the reader; each format is read in its own module, which also holds the limits
it enforces: `intake.encoding` (detection), `intake.delimited` (CSV/TSV), `intake.plaintext`
(.txt), `intake.jsondata` (JSON Lines, JSON arrays), `intake.xlsx`; `intake.lines` bounds every
line and CSV record, and `intake.source` has the types and the header rules they share.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from intake.delimited import open_delimited
from intake.encoding import detect_encoding
from intake.jsondata import json_rows, jsonl_rows, union_keys
from intake.plaintext import txt_is_tsv, txt_rows
from intake.source import Row, Rows, Source, SourceError
from intake.xlsx import open_xlsx

__all__ = [
    "SUPPORTED",
    "Row",
    "Rows",
    "Source",
    "SourceError",
    "detect_encoding",
    "open_source",
]

SUPPORTED = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".xlsx")

#: Text formats and the `Source.format` each suffix reads as.
_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "txt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".xlsx": "xlsx",
}


def open_source(
    path: Path,
    *,
    column_names: list[str] | None = None,
    delimiter: str | None = None,
    header: bool = True,
) -> tuple[Source, Rows]:
    """Describe a data file and stream its rows; raise `SourceError` if it cannot be read.

    - CSV/TSV: the first non-blank record is the header unless `header=False`, which needs
      `column_names`; with a header, `column_names` renames its columns (same count). Header
      names are stripped of whitespace (and a leading BOM) and must be unique and non-empty.
      The delimiter is sniffed from the first 64 KiB (one of `,` tab `;` `|`, and it must occur
      in the header line) unless given, falling back to `,` for .csv and tab for .tsv. If the
      header line has none of them the file has one column: records are not split (commas in
      the text stay text) and `Source.delimiter` is None. Blank
      lines are skipped; a row with fewer fields than the header gets None for the missing
      ones, a row with more is an error row. Values are kept as they are (not stripped).
    - JSONL/NDJSON: one JSON object per line; blank lines are skipped, a broken or non-object
      line is an error row. JSON (.json): a top-level array of objects; an element that is not
      an object is an error row. For both, `columns` is the union of the keys of the first
      1,000 objects in first-seen order, or `column_names` if given; each row's values have
      every column (None when absent) plus any other keys the object has. Strings stay as
      they are, numbers become their str(), true/false "true"/"false", null None, arrays and
      objects compact JSON text.
    - TXT: one sample per line in a column "text" (or `column_names[0]`). Lines end at \\n,
      \\r\\n or \\r, which is removed; a line that is empty or only whitespace has value None.
      Except Excel's "Unicode Text" (UTF-16 with a BOM, tab-separated, named .txt): a .txt
      whose first 50 non-blank records all have the same number (2 or more) of tab-separated
      fields, the first being a usable header, is read as TSV with rules as for CSV, and
      `Source.format` is "tsv (from .txt)". A header is needed for that unless two or more
      `column_names` are given; one column name keeps the file plain text.
    - XLSX: the first sheet; the first non-empty row is the header (rules as for CSV). Numbers
      that are whole come without ".0", dates in ISO format, booleans TRUE/FALSE, formulas as
      their value last saved by Excel. Empty rows are skipped. openpyxl is needed only here.
    """
    suffix = path.suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        raise SourceError(
            f"{path.name}: unsupported file type '{suffix or '(none)'}'; "
            f"use one of {', '.join(SUPPORTED)}"
        )
    if not header and not column_names and fmt in ("csv", "tsv", "xlsx"):
        raise SourceError(f"{path.name}: without a header row the column names must be given")
    if fmt == "xlsx":
        return open_xlsx(path, column_names, header)
    encoding = detect_encoding(path)
    if fmt in ("csv", "tsv"):
        return open_delimited(path, fmt, encoding, column_names, delimiter, header)
    if fmt == "txt":
        wants_tsv = len(column_names) > 1 if column_names is not None else header
        if wants_tsv and txt_is_tsv(path, encoding, header):
            table, records = open_delimited(path, "tsv", encoding, column_names, "\t", header)
            return replace(table, format="tsv (from .txt)"), records
        names = column_names or ["text"]
        if len(names) != 1 or not names[0]:
            raise SourceError(f"{path.name}: a .txt file has one column; give one name")
        source = Source(path, fmt, encoding, None, list(names))
        return source, txt_rows(path, encoding, names[0])
    rows = jsonl_rows if fmt == "jsonl" else json_rows
    if column_names is None or fmt == "json":
        # A separate bounded first pass, so no rows are held meanwhile; for a JSON array it
        # also refuses a file that is not one before any row is handed out.
        scan = rows(path, encoding, [])
        try:
            keys = union_keys(row.values for row in scan)
        finally:
            scan.close()
        column_names = keys if column_names is None else column_names
    return Source(path, fmt, encoding, None, list(column_names)), rows(
        path, encoding, list(column_names)
    )
