"""Check an .xlsx workbook (a zip of XML parts) before openpyxl reads any of it.

An .xlsx is small on disk and can be enormous inside: a 1.6 MB workbook whose sheet holds
1.6 GB of whitespace took `labelgram import` to a MemoryError at 2.7 GB, because openpyxl
keeps a whole text run (and all shared strings) in memory. `check_xlsx()` reads every XML part
once, in bounded chunks through expat, holding nothing but counters, and refuses the file
before parsing when

- the archive has too many entries, declares more than it may expand to (in total or for one
  part), or compresses one large part suspiciously well (the zip-bomb ratio);
- a part yields more bytes than its header declared (headers can lie: real bytes are counted);
- a text run (a cell's text, or the whitespace between two tags) is longer than a cell can be,
  elements nest deeper than any workbook does, or a part carries a DTD (entity expansion);
- a row has more cells or text than Excel allows, the sheet goes past Excel's last row or
  column, the first sheet's area is too large to walk, or the shared strings (all held in
  memory by openpyxl) are too many or too long.

What passes is safe for openpyxl's read-only mode: its memory then stays near one row plus the
shared strings, both capped here. The returned `WorkbookScan` also gives each sheet's real
extent, so rows are walked up to the last cell that exists rather than to the dimension the
file claims (which can be "A1:XFD1048576" over three cells).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.parsers import expat

MAX_ENTRIES = 10_000
"""Entries in one workbook's zip (a real one has a few dozen)."""
MAX_EXPANDED_BYTES = 1 << 30
"""What all the parts of one workbook may expand to together."""
MAX_PART_BYTES = 512 << 20
"""What one part (a sheet, the shared strings) may expand to."""
MAX_RATIO = 200.0
"""Largest compression ratio of a part over `RATIO_MIN_BYTES` (real sheets: 5-40 times)."""
RATIO_MIN_BYTES = 16 << 20
MAX_CELL_CHARS = 1 << 20
"""One text run: a cell's text or the whitespace between tags (Excel's cells hold 32,767)."""
MAX_ROW_CELLS = 16_384
"""Cells in one row: Excel's last column, XFD."""
MAX_ROW_CHARS = 16 << 20
"""Text in one row, all its cells together."""
MAX_SHEET_ROWS = 1_048_576
"""Excel's last row."""
MAX_SHEET_CELLS = 50_000_000
"""Rows times columns of the first sheet: every row is padded to the widest one when read."""
MAX_SHARED_STRINGS = 1_000_000
"""Entries of the shared-string table, which openpyxl holds in memory whole."""
MAX_SHARED_CHARS = 32 << 20
"""Characters of the shared-string table."""
MAX_XML_DEPTH = 64
"""Nesting of XML elements (workbooks go about 8 deep)."""

_CHUNK = 64 * 1024
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_CSV_HINT = "save the sheet as CSV UTF-8 and import that"


class ArchiveRefused(Exception):
    """The archive goes past a limit; the message names the file, the limit and what to do.

    `code` and `params` let a caller show the same refusal in another language.
    """

    def __init__(self, message: str, code: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class SheetExtent:
    """The last row and column a worksheet part really has cells in (1-based; 0: none)."""

    rows: int
    columns: int


@dataclass
class WorkbookScan:
    """What reading a workbook's parts found: each worksheet part's real extent."""

    sheets: dict[str, SheetExtent] = field(default_factory=dict)

    def extent(self, part: str | None) -> SheetExtent | None:
        """The extent of a worksheet part (as openpyxl names it, with or without a "/")."""
        if part is None:
            return None
        return self.sheets.get(part.lstrip("/"))


def mib(size: int) -> str:
    """A byte count as people read a limit: "512 MB", "1 GB"."""
    if size >= 1 << 30 and size % (1 << 30) == 0:
        return f"{size >> 30} GB"
    return f"{size / (1 << 20):,.0f} MB"


def check_xlsx(path: Path) -> WorkbookScan:
    """Refuse a workbook whose parts would take more memory than a sheet of data can need.

    Raises `ArchiveRefused` for anything past a limit and `zipfile.BadZipFile` for a damaged
    archive (the caller says how to repair it); returns each worksheet part's real extent.
    """
    name = path.name
    with zipfile.ZipFile(path) as zf:
        entries = zf.infolist()
        if len(entries) > MAX_ENTRIES:
            raise ArchiveRefused(
                f"{name}: has {len(entries):,} entries inside, more than the {MAX_ENTRIES:,} "
                f"a workbook may have; open it in Excel and save it again, or {_CSV_HINT}",
                "zip_entries",
                file=name,
                count=len(entries),
                limit=MAX_ENTRIES,
            )
        declared = 0
        for info in entries:
            declared += info.file_size
            _check_declared(name, info)
        if declared > MAX_EXPANDED_BYTES:
            raise _expanded(name)
        scan = WorkbookScan()
        expanded = 0
        for info in entries:
            if info.is_dir():
                continue
            try:
                with zf.open(info) as stream:
                    if info.filename.lower().endswith(_XML_SUFFIXES):
                        expanded += _Part(name, info, scan, expanded).read(stream)
                    else:
                        expanded += _count(name, info, stream, expanded)
            except zipfile.BadZipFile as exc:
                # zipfile stops a member at the size its header declares, so a part that
                # would unpack to more ends in a CRC mismatch: say what that means.
                if "CRC" in str(exc):
                    raise _lied(name, info.filename) from exc
                raise
    return scan


def _check_declared(name: str, info: zipfile.ZipInfo) -> None:
    if info.file_size > MAX_PART_BYTES:
        raise _part_too_big(name, info.filename)
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_MIN_BYTES and ratio > MAX_RATIO:
        raise ArchiveRefused(
            f"{name}: part '{info.filename}' would expand {ratio:,.0f} times (to "
            f"{info.file_size:,} bytes), more than the {MAX_RATIO:,.0f} times real data "
            f"compresses, so it is refused as a possible zip bomb; {_CSV_HINT}",
            "zip_ratio",
            file=name,
            member=info.filename,
            ratio=f"{ratio:,.0f}",
            limit=f"{MAX_RATIO:,.0f}",
        )


def _expanded(name: str) -> ArchiveRefused:
    return ArchiveRefused(
        f"{name}: would expand to more than {mib(MAX_EXPANDED_BYTES)}, the limit for one "
        f"workbook, so it is refused before reading; {_CSV_HINT}, or split it",
        "zip_expanded",
        file=name,
        limit=mib(MAX_EXPANDED_BYTES),
    )


def _part_too_big(name: str, member: str) -> ArchiveRefused:
    return ArchiveRefused(
        f"{name}: part '{member}' would expand to more than {mib(MAX_PART_BYTES)}, the limit "
        f"for one part, so it is refused before reading; {_CSV_HINT}, or split it",
        "zip_member",
        file=name,
        member=member,
        limit=mib(MAX_PART_BYTES),
    )


def _lied(name: str, member: str) -> ArchiveRefused:
    return ArchiveRefused(
        f"{name}: part '{member}' does not unpack to what its header declares; the file is "
        "damaged or built to mislead (a zip bomb); open it in Excel and save it again",
        "zip_lies",
        file=name,
        member=member,
    )


def _tally(name: str, info: zipfile.ZipInfo, got: int, expanded: int) -> None:
    """Check the real bytes read so far from one part (`got`) and from the others before."""
    if got > info.file_size:
        raise _lied(name, info.filename)
    if got > MAX_PART_BYTES:
        raise _part_too_big(name, info.filename)
    if expanded + got > MAX_EXPANDED_BYTES:
        raise _expanded(name)


def _count(name: str, info: zipfile.ZipInfo, stream: IO[bytes], expanded: int) -> int:
    """Read a part that is not XML (an image, a printer setting) only to count its bytes."""
    got = 0
    while chunk := stream.read(_CHUNK):
        got += len(chunk)
        _tally(name, info, got, expanded)
    return got


class _Part:
    """One XML part read through expat: counters only, no text kept."""

    def __init__(self, name: str, info: zipfile.ZipInfo, scan: WorkbookScan, expanded: int):
        self.name, self.info, self.scan, self.expanded = name, info, scan, expanded
        member = info.filename.lower()
        self.sheet = member.startswith("xl/worksheets/") and member.endswith(".xml")
        self.shared = member.endswith("sharedstrings.xml")
        self.depth = 0
        self.run = 0  # characters of the current text run
        self.row_chars = self.row_cells = 0
        self.row = self.column = 0  # position of the current row / last cell seen
        self.max_row = self.max_column = 0
        self.in_row = False
        self.strings = self.string_chars = 0
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.buffer_size = _CHUNK
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.text
        parser.StartDoctypeDeclHandler = self.doctype
        self.parser = parser

    def refuse(self, message: str, code: str, **params: object) -> ArchiveRefused:
        return ArchiveRefused(
            f"{self.name}: part '{self.info.filename}' {message}",
            code,
            file=self.name,
            member=self.info.filename,
            **params,
        )

    def read(self, stream: IO[bytes]) -> int:
        got = 0
        try:
            while chunk := stream.read(_CHUNK):
                got += len(chunk)
                _tally(self.name, self.info, got, self.expanded)
                self.parser.Parse(chunk, False)
            self.parser.Parse(b"", True)
        except expat.ExpatError as exc:
            raise zipfile.BadZipFile(
                f"part '{self.info.filename}' is not well-formed XML ({exc})"
            ) from exc
        if self.in_row:
            self.end_row()
        if self.sheet:
            self.scan.sheets[self.info.filename] = SheetExtent(self.max_row, self.max_column)
        return got

    def doctype(self, *_: object) -> None:
        raise self.refuse(
            "declares a DTD, which no workbook needs (it can expand entities without bound); "
            "open the file in Excel and save it again",
            "xml_doctype",
        )

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.run = 0
        self.depth += 1
        if self.depth > MAX_XML_DEPTH:
            raise self.refuse(
                f"nests elements more than {MAX_XML_DEPTH} deep, which no workbook does; "
                "open the file in Excel and save it again",
                "xml_depth",
                limit=MAX_XML_DEPTH,
            )
        local = tag.rpartition(":")[2]
        if self.sheet:
            if local == "row":
                self.start_row(attrs.get("r"))
            elif local == "c" and self.in_row:
                self.cell(attrs.get("r"))
        elif self.shared and local == "si":
            self.strings += 1
            if self.strings > MAX_SHARED_STRINGS:
                raise self.shared_refusal()

    def end(self, tag: str) -> None:
        self.run = 0
        self.depth -= 1
        if self.sheet and self.in_row and tag.rpartition(":")[2] == "row":
            self.end_row()

    def text(self, data: str) -> None:
        size = len(data)
        self.run += size
        if self.run > MAX_CELL_CHARS:
            raise self.refuse(
                f"holds a text run of more than {MAX_CELL_CHARS:,} characters (a cell's text "
                "or the space between two cells; Excel's cells hold at most 32,767), so it is "
                f"refused before parsing; shorten it, or {_CSV_HINT}",
                "xml_text",
                limit=f"{MAX_CELL_CHARS:,}",
            )
        if self.in_row:
            self.row_chars += size
            if self.row_chars > MAX_ROW_CHARS:
                raise self.refuse(
                    f"has a row ({self.row:,}) with more than {MAX_ROW_CHARS:,} characters "
                    f"of text; shorten it, or {_CSV_HINT}",
                    "row_chars",
                    row=self.row,
                    limit=f"{MAX_ROW_CHARS:,}",
                )
        if self.shared:
            self.string_chars += size
            if self.string_chars > MAX_SHARED_CHARS:
                raise self.shared_refusal()

    def shared_refusal(self) -> ArchiveRefused:
        return self.refuse(
            f"(the shared strings, held in memory whole) has more than "
            f"{MAX_SHARED_STRINGS:,} texts or {MAX_SHARED_CHARS:,} characters; {_CSV_HINT}",
            "shared_strings",
            strings=f"{MAX_SHARED_STRINGS:,}",
            limit=f"{MAX_SHARED_CHARS:,}",
        )

    def start_row(self, ref: str | None) -> None:
        self.in_row = True
        self.row = int(ref) if ref and ref.isdigit() else self.row + 1
        self.row_chars = self.row_cells = self.column = 0
        if self.row > MAX_SHEET_ROWS:
            raise self.refuse(
                f"has a row numbered {self.row:,}, past Excel's last row "
                f"({MAX_SHEET_ROWS:,}); open the file in Excel and save it again",
                "sheet_rows",
                row=f"{self.row:,}",
                limit=f"{MAX_SHEET_ROWS:,}",
            )

    def cell(self, ref: str | None) -> None:
        self.row_cells += 1
        letters = ref.rstrip("0123456789") if ref else ""
        self.column = _column(letters) if letters else self.column + 1
        if self.row_cells > MAX_ROW_CELLS or self.column > MAX_ROW_CELLS:
            raise self.refuse(
                f"has a row ({self.row:,}) with cells past Excel's last column "
                f"({MAX_ROW_CELLS:,} cells, XFD); open the file in Excel and save it again",
                "row_cells",
                row=f"{self.row:,}",
                limit=f"{MAX_ROW_CELLS:,}",
            )
        self.max_column = max(self.max_column, self.column)

    def end_row(self) -> None:
        self.in_row = False
        if self.row_cells:
            self.max_row = max(self.max_row, self.row)


def _column(letters: str) -> int:
    """The 1-based index of a column name ("A" 1, "XFD" 16,384); more than 3 letters: past it."""
    if len(letters) > 3 or not letters.isascii() or not letters.isalpha():
        return MAX_ROW_CELLS + 1
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - 64
    return index


def check_area(name: str, extent: SheetExtent) -> None:
    """Refuse a first sheet too large to walk: each of its rows is padded to the widest."""
    area = extent.rows * extent.columns
    if area > MAX_SHEET_CELLS:
        raise ArchiveRefused(
            f"{name}: the first sheet spans {extent.rows:,} rows by {extent.columns:,} columns "
            f"({area:,} cells), more than the {MAX_SHEET_CELLS:,} that are read; delete the "
            f"empty rows and columns in Excel, or {_CSV_HINT}",
            "sheet_area",
            file=name,
            rows=f"{extent.rows:,}",
            columns=f"{extent.columns:,}",
            limit=f"{MAX_SHEET_CELLS:,}",
        )
