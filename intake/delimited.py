"""Read CSV and TSV files: sniff the delimiter, read the header, stream the records as rows.

The rules a user sees are in `intake.readers.open_source`; lines and records are bounded by
`intake.lines`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Generator
from pathlib import Path

from intake.lines import LineFeed
from intake.source import (
    Row,
    Rows,
    Source,
    SourceError,
    changed_while_reading,
    header_columns,
    open_text,
    too_wide,
)

SNIFF_CHARS = 64 * 1024
"""Characters of a CSV/TSV file given to csv.Sniffer (bounded: the sniffer's regexes are slow)."""
_DELIMITERS = ",\t;|"
_DEFAULT_DELIMITER = {".csv": ",", ".tsv": "\t"}
_NO_SPLIT = "\x00"


def open_delimited(
    path: Path,
    fmt: str,
    encoding: str,
    column_names: list[str] | None,
    delimiter: str | None,
    header: bool,
) -> tuple[Source, Rows]:
    """Describe a CSV or TSV file (`fmt` "csv" or "tsv") and stream its rows."""
    if delimiter is not None:
        if len(delimiter) != 1:
            raise SourceError(
                f"{path.name}: the delimiter must be one character, not {delimiter!r}"
            )
        split_on = delimiter
    else:
        with open_text(path, encoding, "") as handle:
            sample = handle.read(SNIFF_CHARS)
        delimiter = _sniff_delimiter(sample, full=len(sample) == SNIFF_CHARS, suffix="." + fmt)
        if delimiter is not None:
            split_on = delimiter
        elif header or len(column_names or ()) == 1:
            # One column (a header with no delimiter in it): commas in the text are text,
            # not a "too many fields" error. Quotes still work; NUL was refused on detection.
            split_on = _NO_SPLIT
        else:
            split_on = delimiter = _DEFAULT_DELIMITER["." + fmt]
    found: list[str] | None = None
    if header:
        records = _csv_records(path, encoding, split_on)
        try:
            found = next((fields for _, fields in records), None)
        finally:
            records.close()
    names = header_columns(path, found, column_names, header)
    source = Source(path, fmt, encoding, delimiter, names)
    return source, _csv_rows(path, encoding, split_on, names, header)


def _sniff_delimiter(sample: str, *, full: bool, suffix: str) -> str | None:
    """The sample's delimiter among `,` tab `;` `|`, the suffix's usual one, or None.

    None when the first line has none of them: the file has a single column.
    """
    if full and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]  # no half line at the end
    first = next((line for line in sample.splitlines() if line.strip()), "")
    if not any(d in first for d in _DELIMITERS):
        return None
    try:
        found = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return _DEFAULT_DELIMITER[suffix]
    # The sniffer can pick a character that only occurs in the text of some rows.
    return found if found in first else _DEFAULT_DELIMITER[suffix]


def _unclosed_quote(record: str, delimiter: str) -> bool:
    """Whether a record that ended at the end of the file ends inside a quoted field."""
    # The lenient reader ends such a record at the end of the file and hands it out as if it
    # were whole; a strict reader calls that "unexpected end of data". The added line break
    # lets a last record without one pass, unless it is inside quotes.
    try:
        for _ in csv.reader(
            io.StringIO(record + "\n", newline=""), delimiter=delimiter, strict=True
        ):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _csv_records(
    path: Path, encoding: str, delimiter: str
) -> Generator[tuple[int, list[str]], None, None]:
    """(line number of the first line, fields) of each non-blank record.

    Refused (`SourceError`): a line or record past the limits, and a quoted field the file
    ends inside (a file cut short): it would be one garbage last record.
    """
    with open_text(path, encoding, "") as handle:
        feed = LineFeed(path, handle)
        reader = csv.reader(feed, delimiter=delimiter)
        before = 0
        try:
            for fields in reader:
                number, before = before + 1, reader.line_num
                if feed.eof and _unclosed_quote("".join(feed.pending), delimiter):
                    raise SourceError(
                        f"{path.name}, line {number}: a quoted field starts in this record "
                        "and is never closed (the file ends inside it), so nothing is "
                        'imported; the file may be cut short: add the closing quote (") or '
                        "export the file again",
                        "unclosed_quote",
                        file=path.name,
                        line=number,
                    )
                feed.new_record()
                if fields:
                    yield number, fields
        except csv.Error as exc:
            raise SourceError(
                f"{path.name}, line {before + 1}: malformed CSV ({exc}); fix the quoting there "
                "(a field may be at most 131,072 characters)"
            ) from exc
        except UnicodeDecodeError as exc:
            raise changed_while_reading(path, exc) from exc


def _csv_rows(
    path: Path, encoding: str, delimiter: str, names: list[str], header: bool
) -> Generator[Row, None, None]:
    records = _csv_records(path, encoding, delimiter)
    try:
        if header:
            next(records, None)
        width = len(names)
        for number, fields in records:
            if len(fields) > width:
                yield Row(number, None, too_wide(len(fields), width, header))
                continue
            values: dict[str, str | None] = dict(zip(names, fields, strict=False))
            for name in names[len(fields) :]:
                values[name] = None
            yield Row(number, values)
    finally:
        records.close()
