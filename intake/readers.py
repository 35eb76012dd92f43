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
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
from collections.abc import Generator, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from intake.archive import ArchiveRefused, WorkbookScan, check_area, check_xlsx

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
SNIFF_CHARS = 64 * 1024
"""Characters of a CSV/TSV file given to csv.Sniffer (bounded: the sniffer's regexes are slow)."""
TXT_SNIFF_RECORDS = 50
"""A .txt file is read as TSV when this many first records all have the same tab count."""
COLUMN_SCAN_RECORDS = 1000
"""JSON/JSONL columns are the union of the keys of this many first records."""
MAX_LINE_CHARS = 1 << 20
"""A line (of any text format) longer than this refuses the file; it is never read whole."""
MAX_RECORD_CHARS = 4 << 20
"""A CSV/TSV record (its lines together, when quoted fields hold line breaks) longer than this
refuses the file."""
MAX_JSON_DEPTH = 64
"""Arrays and objects nested deeper than this in one record refuse the file."""
MAX_ELEMENT_CHARS = 16 << 20
"""A JSON array element longer than this stops the read: it cannot be held to be parsed."""
_JSON_CHUNK_CHARS = 64 * 1024
_DECODE_STEP = 64 * 1024
_NOT_JSON_WS = re.compile(r"[^ \t\n\r]")
# A JSON error this close to the end of the buffer may only mean the element goes on.
_JSON_TAIL = 16
_DELIMITERS = ",\t;|"
_DEFAULT_DELIMITER = {".csv": ",", ".tsv": "\t"}
_NO_SPLIT = "\x00"

Rows = Generator["Row", None, None]
"""The rows of a file; `close()` it to release the file before the end."""


class SourceError(Exception):
    """The whole file cannot be read as asked; the message says what to do (names the file).

    A refusal for a limit also has a `code` and its `params` (see `intake.archive`), so the bot
    can say the same in the user's language; `code` is None for the other errors.
    """

    def __init__(self, message: str, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Row:
    """One record of a data file, parsed or not.

    `number` is the record's position as a user would count it: for CSV/TSV/TXT/JSONL the line
    number of the record's first line (the header is line 1), for a JSON array the element's
    index + 1, for xlsx the sheet row number.
    """

    number: int
    values: dict[str, str | None] | None
    error: str | None = None


@dataclass(frozen=True)
class Source:
    """What was found out about a data file before reading its rows."""

    path: Path
    format: str
    encoding: str | None
    delimiter: str | None
    columns: list[str]


# --- encodings -------------------------------------------------------------------------------


def detect_encoding(path: Path, *, sample_bytes: int = 1 << 20) -> str:
    """The encoding of the whole file: "utf-8", "utf-8-sig", "utf-16" or "cp949".

    A byte-order mark decides first (UTF-8 BOM: "utf-8-sig", UTF-16 LE/BE BOM: "utf-16"), and the
    rest of the file must then decode under it. Without one the whole file must decode as strict
    UTF-8 ("utf-8", which includes plain ASCII), else as CP949 (a superset of EUC-KR). The file
    is read in `sample_bytes`-sized chunks through an incremental decoder, so memory stays
    near that size; detection is per file, never per line.

    Refused with `SourceError`: anything else (the message gives the byte offset of the first
    sequence that is not UTF-8), UTF-32, and files holding NUL bytes - which also covers UTF-16
    without a BOM: that is out of scope, as telling it apart from binary data is guesswork.
    """
    if sample_bytes < 1:
        raise ValueError("sample_bytes must be positive")
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the data file ({exc.strerror})") from exc
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise SourceError(f"{path.name}: UTF-32 text is not supported; re-save it as UTF-8")
    for bom, codec, name in (
        (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
    ):
        if head.startswith(bom):
            bad = _first_bad_byte(path, codec, skip=len(bom), chunk=sample_bytes)
            if bad is not None:
                raise SourceError(
                    f"{path.name}: starts with a {name.upper()} byte-order mark but has "
                    f"{_describe(bad)}; re-save it as UTF-8 and import again"
                )
            return name
    bad = _first_bad_byte(path, "utf-8", skip=0, chunk=sample_bytes, refuse_nul=True)
    if bad is None:
        return "utf-8"
    if bad[0] == "nul":
        raise SourceError(
            f"{path.name}: has {_describe(bad)}, so it is not a text file, or it is UTF-16 "
            "without a byte-order mark (not supported); re-save it as UTF-8 and import again"
        )
    if _first_bad_byte(path, "cp949", skip=0, chunk=sample_bytes) is None:
        return "cp949"
    raise SourceError(
        f"{path.name}: is neither UTF-8, UTF-16 nor CP949/EUC-KR text (the first byte sequence "
        f"that is not UTF-8 is at byte offset {bad[1]}); re-save it as UTF-8 and import again"
    )


def _describe(bad: tuple[str, int]) -> str:
    kind, offset = bad
    what = "a NUL byte" if kind == "nul" else "an invalid byte sequence"
    return f"{what} at byte offset {offset}"


def _first_bad_byte(
    path: Path, codec: str, *, skip: int, chunk: int, refuse_nul: bool = False
) -> tuple[str, int] | None:
    """("invalid" | "nul", absolute byte offset) of the first problem decoding, or None."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    # One reused read buffer, decoded in small steps: the text decoded is thrown away, so
    # memory stays near `chunk` bytes whatever the file size.
    buffer = bytearray(chunk)
    fed = skip  # absolute offset of buffer[0]
    try:
        with path.open("rb") as handle, memoryview(buffer) as view:
            handle.seek(skip)
            while size := handle.readinto(buffer):
                nul = buffer.find(b"\x00", 0, size) if refuse_nul else -1
                for start in range(0, size, _DECODE_STEP):
                    # Bytes the decoder still holds from the last step come before `start`:
                    # an error's position counts from the first of them.
                    pending = len(decoder.getstate()[0])
                    try:
                        decoder.decode(view[start : min(start + _DECODE_STEP, size)])
                    except UnicodeDecodeError as exc:
                        offset = fed + start - pending + exc.start
                        if 0 <= nul < offset - fed:
                            return "nul", fed + nul
                        return "invalid", offset
                if nul >= 0:
                    return "nul", fed + nul
                fed += size
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                return "invalid", fed - pending + exc.start
            return None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the data file ({exc.strerror})") from exc


# --- opening ---------------------------------------------------------------------------------


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
        return _open_xlsx(path, column_names, header)
    encoding = detect_encoding(path)
    if fmt in ("csv", "tsv"):
        return _open_csv(path, fmt, encoding, column_names, delimiter, header)
    if fmt == "txt":
        wants_tsv = len(column_names) > 1 if column_names is not None else header
        if wants_tsv and _txt_is_tsv(path, encoding, header):
            table, records = _open_csv(path, "tsv", encoding, column_names, "\t", header)
            return replace(table, format="tsv (from .txt)"), records
        names = column_names or ["text"]
        if len(names) != 1 or not names[0]:
            raise SourceError(f"{path.name}: a .txt file has one column; give one name")
        source = Source(path, fmt, encoding, None, list(names))
        return source, _txt_rows(path, encoding, names[0])
    rows = _jsonl_rows if fmt == "jsonl" else _json_rows
    if column_names is None or fmt == "json":
        # A separate bounded first pass, so no rows are held meanwhile; for a JSON array it
        # also refuses a file that is not one before any row is handed out.
        scan = rows(path, encoding, [])
        try:
            keys = _union_keys(row.values for row in scan)
        finally:
            scan.close()
        column_names = keys if column_names is None else column_names
    return Source(path, fmt, encoding, None, list(column_names)), rows(
        path, encoding, list(column_names)
    )


def _open_text(path: Path, encoding: str, newline: str | None) -> IO[str]:
    try:
        return path.open(encoding=encoding, errors="strict", newline=newline)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the data file ({exc.strerror})") from exc


def _changed(path: Path, exc: UnicodeDecodeError) -> SourceError:
    # Detection decoded the whole file, so this means it changed while being read.
    return SourceError(
        f"{path.name}: could not be decoded while reading ({exc.reason}); "
        "was it changed meanwhile? Import it again"
    )


def _check_header(path: Path, names: list[str], what: str = "the header row") -> list[str]:
    names = [n.strip() for n in names]
    if names:
        names[0] = names[0].lstrip("\ufeff").strip()
    seen: set[str] = set()
    duplicates: set[str] = set()
    for n in names:
        (duplicates if n in seen else seen).add(n)
    empty = [i for i, n in enumerate(names, start=1) if not n]
    if not duplicates and not empty:
        return names
    problems = []
    if duplicates:
        problems.append("duplicate " + ", ".join(sorted(duplicates)))
    if empty:
        problems.append("no name for column " + ", ".join(map(str, empty)))
    raise SourceError(
        f"{path.name}: {what} {names!r} has {'; '.join(problems)}; give every column a unique name"
    )


def _columns(
    path: Path, found: list[str] | None, column_names: list[str] | None, header: bool
) -> list[str]:
    """The column names to use, from the header row found and/or the names given."""
    if header and found is None:
        raise SourceError(f"{path.name}: the file is empty; it needs a header row")
    if column_names is None:  # so there is a header: header=False needs names
        return _check_header(path, found or [])
    names = _check_header(path, list(column_names), "the column names given")
    if header and found is not None and len(found) != len(names):
        raise SourceError(
            f"{path.name}: {len(names)} column names given but the header row has "
            f"{len(found)}: {found!r}"
        )
    return names


def _too_wide(count: int, width: int, header: bool) -> str:
    if header:
        return f"{count} fields, header has {width}"
    return f"{count} fields, {width} column names given"


# --- CSV / TSV -------------------------------------------------------------------------------


def _open_csv(
    path: Path,
    fmt: str,
    encoding: str,
    column_names: list[str] | None,
    delimiter: str | None,
    header: bool,
) -> tuple[Source, Rows]:
    if delimiter is not None:
        if len(delimiter) != 1:
            raise SourceError(
                f"{path.name}: the delimiter must be one character, not {delimiter!r}"
            )
        split_on = delimiter
    else:
        with _open_text(path, encoding, "") as handle:
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
    names = _columns(path, found, column_names, header)
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


class _LineFeed:
    """The physical lines of a text file for csv.reader, each refused past `MAX_LINE_CHARS`.

    csv.reader reads a whole line before it looks at the field limit, so a 500 MB line would be
    in memory first; here no line is read past the limit. The lines of the record being read
    are kept (`pending`) so the last one can be checked for a quote that never closes.
    """

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path, self.handle = path, handle
        self.number = 0
        self.eof = False
        self.pending: list[str] = []
        self.record_chars = 0

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line = self.handle.readline(MAX_LINE_CHARS + 2)  # room for "\r\n"
        if not line:
            self.eof = True
            raise StopIteration
        self.number += 1
        if len(line) > MAX_LINE_CHARS and len(line.rstrip("\r\n")) > MAX_LINE_CHARS:
            raise _line_too_long(self.path, self.number)
        self.record_chars += len(line)
        if self.record_chars > MAX_RECORD_CHARS:
            first = self.number - len(self.pending)
            raise SourceError(
                f"{self.path.name}, line {first}: one record is longer than "
                f"{MAX_RECORD_CHARS:,} characters (a quoted field may run on over many lines); "
                "check the quoting there, or split the record",
                "record_long",
                file=self.path.name,
                line=first,
                limit=f"{MAX_RECORD_CHARS:,}",
            )
        self.pending.append(line)
        return line

    def new_record(self) -> None:
        """The reader has returned a record: the lines kept so far were all of it."""
        self.pending.clear()
        self.record_chars = 0


def _line_too_long(path: Path, number: int) -> SourceError:
    return SourceError(
        f"{path.name}, line {number}: longer than {MAX_LINE_CHARS:,} characters, the limit "
        "for one line, so the file is refused (the rest of that line is not read); a line "
        "holds one record: check it is the right file, or split the line",
        "line_long",
        file=path.name,
        line=number,
        limit=f"{MAX_LINE_CHARS:,}",
    )


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
    with _open_text(path, encoding, "") as handle:
        feed = _LineFeed(path, handle)
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
            raise _changed(path, exc) from exc


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
                yield Row(number, None, _too_wide(len(fields), width, header))
                continue
            values: dict[str, str | None] = dict(zip(names, fields, strict=False))
            for name in names[len(fields) :]:
                values[name] = None
            yield Row(number, values)
    finally:
        records.close()


def _txt_is_tsv(path: Path, encoding: str, header: bool) -> bool:
    """Whether a .txt file is really a table (Excel's "Unicode Text" is TSV named .txt).

    A one-sample-per-line file can hold a tab here and there; a table has the same number of
    tab-separated fields in every record (quoted fields may span lines, as Excel writes them).
    """
    with _open_text(path, encoding, "") as handle:
        try:
            sample = handle.read(SNIFF_CHARS)
        except UnicodeDecodeError as exc:
            raise _changed(path, exc) from exc
    full = len(sample) == SNIFF_CHARS
    try:
        records = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter="\t") if r]
    except csv.Error:
        return False
    if full:
        records = records[:-1]  # the last record may be cut off by the end of the sample
    records = records[:TXT_SNIFF_RECORDS]
    if len(records) < 2 or len(records[0]) < 2:
        return False
    if any(len(r) != len(records[0]) for r in records):
        return False
    if not header:
        return True
    names = [n.strip() for n in records[0]]
    names[0] = names[0].lstrip("\ufeff").strip()
    return all(names) and len(set(names)) == len(names)


# --- TXT and JSON Lines ----------------------------------------------------------------------


def _lines(path: Path, encoding: str) -> Generator[tuple[int, str], None, None]:
    """(line number, line without its ending) for each line; a line past the limit refuses."""
    with _open_text(path, encoding, None) as handle:
        number = 0
        try:
            while line := handle.readline(MAX_LINE_CHARS + 1):
                number += 1
                if line.endswith("\n"):
                    yield number, line[:-1]
                elif len(line) <= MAX_LINE_CHARS:
                    yield number, line  # the last line, without a line ending
                else:
                    # Refused, not skipped: a line this long is a wrong file or a bomb, and
                    # what is left of it is not read.
                    raise _line_too_long(path, number)
        except UnicodeDecodeError as exc:
            raise _changed(path, exc) from exc


def _txt_rows(path: Path, encoding: str, name: str) -> Generator[Row, None, None]:
    lines = _lines(path, encoding)
    try:
        for number, line in lines:
            yield Row(number, {name: line if line.strip() else None})
    finally:
        lines.close()


def _too_deep(path: Path, where: str, line: int) -> SourceError:
    return SourceError(
        f"{path.name}, {where}: nests arrays or objects more than {MAX_JSON_DEPTH} deep, so "
        "the file is refused; a record is a flat object of fields: fix or remove that record",
        "json_depth",
        file=path.name,
        line=line,
        limit=MAX_JSON_DEPTH,
    )


def _deeper_than(value: object, limit: int) -> bool:
    """Whether arrays/objects nest more than `limit` levels in `value` (iteratively)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[object]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _jsonl_rows(path: Path, encoding: str, columns: list[str]) -> Generator[Row, None, None]:
    lines = _lines(path, encoding)
    try:
        for number, line in lines:
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Row(number, None, f"not valid JSON: {exc.msg}")
                continue
            except RecursionError as exc:
                raise _too_deep(path, f"line {number}", number) from exc
            except ValueError as exc:  # an integer too long to convert
                yield Row(number, None, f"not valid JSON: {exc}")
                continue
            if _deeper_than(value, MAX_JSON_DEPTH):
                raise _too_deep(path, f"line {number}", number)
            yield _object_row(number, value, columns)
    finally:
        lines.close()


def _object_row(number: int, value: object, columns: list[str]) -> Row:
    if not isinstance(value, dict):
        return Row(number, None, f"not a JSON object (found {_json_type(value)})")
    values: dict[str, str | None] = dict.fromkeys(columns)
    for key, item in value.items():
        values[key] = _json_text(item)
    return Row(number, values)


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value) if isinstance(value, bool) else str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def _union_keys(records: Iterable[dict[str, str | None] | None]) -> list[str]:
    seen: dict[str, None] = {}
    count = 0
    for values in records:
        if values is None:
            continue
        seen.update(dict.fromkeys(values))
        count += 1
        if count >= COLUMN_SCAN_RECORDS:
            break
    return list(seen)


# --- JSON arrays -----------------------------------------------------------------------------


class _TextBuffer:
    """A window on a text file: what has been read and not yet consumed, and a cursor."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.text = ""
        self.pos = 0
        self.eof = False
        self.dropped_lines = 0

    def read_more(self, amount: int) -> None:
        """Append up to `amount` characters, first dropping what was consumed."""
        if self.pos:
            self.dropped_lines += self.text.count("\n", 0, self.pos)
            self.text = self.text[self.pos :]
            self.pos = 0
        data = self.handle.read(amount)
        if data:
            self.text += data
        else:
            self.eof = True

    def peek(self) -> str:
        """The next character that is not JSON whitespace ("" at the end), moving onto it."""
        while True:
            # A regex, not a loop per character: a file can hold a gigabyte of whitespace.
            found = _NOT_JSON_WS.search(self.text, self.pos)
            self.pos = found.start() if found is not None else len(self.text)
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos : self.pos + 1]
            self.read_more(_JSON_CHUNK_CHARS)

    def line(self, pos: int | None = None) -> int:
        """The 1-based line number of a position in the buffer (default: the cursor)."""
        return self.dropped_lines + self.text.count("\n", 0, self.pos if pos is None else pos) + 1


def _json_rows(path: Path, encoding: str, columns: list[str]) -> Generator[Row, None, None]:
    with _open_text(path, encoding, None) as handle:
        try:
            for number, value in _json_elements(path, _TextBuffer(handle)):
                yield _object_row(number, value, columns)
        except UnicodeDecodeError as exc:
            raise _changed(path, exc) from exc


def _json_elements(path: Path, buf: _TextBuffer) -> Generator[tuple[int, object], None, None]:
    """(index + 1, value) of each element of the top-level JSON array, parsed one at a time."""
    name = path.name
    first = buf.peek()
    if first == "{":
        raise SourceError(
            f"{name}: holds one JSON object, not an array of objects; put the records in "
            "[ ... ] or write one object per line in a .jsonl file"
        )
    if first != "[":
        found = f"starts with {first!r}" if first else "is empty"
        raise SourceError(f"{name}: is not a JSON array of objects (the file {found})")
    buf.pos += 1
    decoder = json.JSONDecoder()
    number = 0
    if buf.peek() == "]":
        buf.pos += 1
    else:
        while True:
            number += 1
            buf.peek()
            yield number, _json_element(path, buf, decoder, number)
            after = buf.peek()
            if after == ",":
                buf.pos += 1
                continue
            if after == "]":
                buf.pos += 1
                break
            if not after:
                raise SourceError(
                    f"{name}: the JSON array is not closed (the file ends after element "
                    f"{number}); the file may be cut short"
                )
            raise SourceError(
                f"{name}, line {buf.line()}: expected ',' or ']' after element {number}, "
                f"found {after!r}"
            )
    trailing = buf.peek()
    if trailing:
        raise SourceError(
            f"{name}, line {buf.line()}: unexpected {trailing!r} after the end of the JSON array"
        )


def _json_element(path: Path, buf: _TextBuffer, decoder: json.JSONDecoder, number: int) -> object:
    name = path.name
    while True:
        try:
            value, end = decoder.raw_decode(buf.text, buf.pos)
        except json.JSONDecodeError as exc:
            if not buf.eof and (
                exc.msg.startswith("Unterminated string") or exc.pos >= len(buf.text) - _JSON_TAIL
            ):
                _grow(name, buf, number)  # the element may only be cut at the buffer's end
                continue
            raise SourceError(
                f"{name}, line {buf.line(exc.pos)}: element {number} is not valid JSON "
                f"({exc.msg}); fix it and import again"
            ) from exc
        except RecursionError as exc:
            raise _too_deep(path, f"line {buf.line()}, element {number}", buf.line()) from exc
        except ValueError as exc:
            raise SourceError(
                f"{name}, line {buf.line()}: element {number} cannot be read ({exc})"
            ) from exc
        if end == len(buf.text) and not buf.eof and not isinstance(value, dict | list | str):
            _grow(name, buf, number)  # a number or literal may go on in the next chunk
            continue
        if _deeper_than(value, MAX_JSON_DEPTH):
            raise _too_deep(path, f"line {buf.line()}, element {number}", buf.line())
        buf.pos = end
        return value


def _grow(name: str, buf: _TextBuffer, number: int) -> None:
    pending = len(buf.text) - buf.pos
    if pending > MAX_ELEMENT_CHARS:
        raise SourceError(
            f"{name}: element {number} is longer than {MAX_ELEMENT_CHARS:,} characters; "
            "split it or use one object per line in a .jsonl file"
        )
    # Doubling keeps re-parsing a long element linear overall.
    buf.read_more(max(_JSON_CHUNK_CHARS, pending))


# --- XLSX ------------------------------------------------------------------------------------


def _refused(exc: ArchiveRefused) -> SourceError:
    return SourceError(str(exc), exc.code, **exc.params)


def _unreadable(path: Path, exc: Exception) -> SourceError:
    return SourceError(
        f"{path.name}: is not a readable Excel workbook ({exc}); open it in Excel and "
        "save it again as .xlsx, or as CSV UTF-8"
    )


def _scan_xlsx(path: Path) -> WorkbookScan:
    """`check_xlsx`, its refusals as `SourceError`s: run before openpyxl sees the file."""
    try:
        return check_xlsx(path)
    except ArchiveRefused as exc:
        raise _refused(exc) from exc
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the data file ({exc.strerror})") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise _unreadable(path, exc) from exc


def _load_workbook(path: Path) -> Any:
    """The workbook, read-only and values only (call `_scan_xlsx` first)."""
    try:
        import openpyxl  # type: ignore[import-untyped]  # only xlsx needs it
        from openpyxl.utils.exceptions import (  # type: ignore[import-untyped]
            InvalidFileException,
        )
    except ImportError as exc:
        raise SourceError(
            f"{path.name}: reading .xlsx needs the openpyxl package; install it or save the "
            "sheet as CSV UTF-8"
        ) from exc
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the data file ({exc.strerror})") from exc
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,  # a compression method zipfile cannot unpack
        EOFError,
        InvalidFileException,
        KeyError,
        ValueError,
        TypeError,
        SyntaxError,
    ) as exc:
        raise _unreadable(path, exc) from exc


def _sheet_rows(
    path: Path, scan: WorkbookScan
) -> Generator[tuple[int, list[str | None]], None, None]:
    """(sheet row number, cell texts without trailing empties) of each non-empty row."""
    workbook = _load_workbook(path)
    try:
        sheet = workbook.worksheets[0]
        # Walk to the last cell that exists, not to the dimension the file states: a false
        # "A1:XFD1048576" would pad every row to 16,384 cells (or stop before the real end).
        extent = scan.extent(getattr(sheet, "_worksheet_path", None))
        if extent is not None:
            check_area(path.name, extent)
        bounds = (extent.rows or 1, extent.columns or 1) if extent is not None else (None, None)
        cells_by_row = sheet.iter_rows(
            min_row=1, max_row=bounds[0], max_col=bounds[1], values_only=True
        )
        for number, cells in enumerate(cells_by_row, start=1):
            texts = [_cell_text(v) for v in cells]
            while texts and texts[-1] is None:
                texts.pop()
            if texts:
                yield number, texts
    except ArchiveRefused as exc:
        raise _refused(exc) from exc
    except (KeyError, ValueError, TypeError, SyntaxError, zipfile.BadZipFile) as exc:
        raise SourceError(
            f"{path.name}: the first sheet cannot be read ({exc}); open it in Excel and save "
            "it again, or as CSV UTF-8"
        ) from exc
    finally:
        workbook.close()


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _open_xlsx(path: Path, column_names: list[str] | None, header: bool) -> tuple[Source, Rows]:
    scan = _scan_xlsx(path)  # refused here, before any row is handed out
    found: list[str] | None = None
    if header:
        rows = _sheet_rows(path, scan)
        try:
            first = next(rows, None)
        finally:
            rows.close()
        if first is not None:
            found = [text or "" for text in first[1]]
    names = _columns(path, found, column_names, header)
    return Source(path, "xlsx", None, None, names), _xlsx_rows(path, scan, names, header)


def _xlsx_rows(
    path: Path, scan: WorkbookScan, names: list[str], header: bool
) -> Generator[Row, None, None]:
    rows = _sheet_rows(path, scan)
    try:
        if header:
            next(rows, None)
        width = len(names)
        for number, texts in rows:
            if len(texts) > width:
                yield Row(number, None, _too_wide(len(texts), width, header))
                continue
            values: dict[str, str | None] = dict.fromkeys(names)
            values.update(zip(names, texts, strict=False))
            yield Row(number, values)
    finally:
        rows.close()
