"""Decompression and parser bombs, built small and fast for tests and bench/bench_bombs.py.

Each builder writes a file of a few kilobytes to a few megabytes that would expand to hundreds
of megabytes (or lie about it) when read naively. Deflate output is made once per block and
repeated: after a full flush raw deflate starts afresh, so the same block compresses to the
same bytes, and a gigabyte of whitespace costs a second of CRC, not of compression.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

BLOCK = 1 << 20

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>hello</t></is></c></row>'
)
SHEET_TAIL = "</sheetData></worksheet>"


@dataclass(frozen=True)
class Member:
    """A zip member as raw deflate data, with the sizes and CRC its headers will state."""

    name: str
    data: bytes  # raw deflate stream (or the stored bytes when `stored`)
    size: int  # what the headers declare as the uncompressed size
    crc: int
    stored: bool = False


def deflated(name: str, parts: Iterable[tuple[bytes, int]], declare: int | None = None) -> Member:
    """A member made of (bytes, repeat) parts, deflated block by block; `declare` can lie."""
    out = bytearray()
    crc = size = 0
    for chunk, repeat in parts:
        squeezer = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = squeezer.compress(chunk) + squeezer.flush(zlib.Z_FULL_FLUSH)
        for _ in range(repeat):
            out += packed
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    out += zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    return Member(name, bytes(out), size if declare is None else declare, crc)


def text_member(name: str, text: str) -> Member:
    return deflated(name, [(text.encode(), 1)])


def write_zip(path: Path, members: Iterable[Member]) -> Path:
    """A plain zip (no zip64: members under 4 GiB) with exactly the headers given."""
    body = io.BytesIO()
    central = io.BytesIO()
    count = 0
    for m in members:
        offset = body.tell()
        method = 0 if m.stored else 8
        name = m.name.encode()
        fields = (20, 0, method, 0, 0x21, m.crc, len(m.data), m.size, len(name), 0)
        body.write(struct.pack("<4s5HIIIHH", b"PK\x03\x04", *fields) + name + m.data)
        central.write(
            struct.pack("<4s6HIIIHHHHHII", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, offset) + name
        )
        count += 1
    directory = central.getvalue()
    end = struct.pack(
        "<4s4HIIH", b"PK\x05\x06", 0, 0, count, count, len(directory), body.tell(), 0
    )
    path.write_bytes(body.getvalue() + directory + end)
    return path


def _workbook(path: Path, sheet: Member, *extra: Member) -> Path:
    return write_zip(
        path,
        [
            text_member("[Content_Types].xml", _CONTENT_TYPES),
            text_member("_rels/.rels", _RELS),
            text_member("xl/workbook.xml", _WORKBOOK),
            text_member("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            sheet,
            *extra,
        ],
    )


def xlsx_ok(path: Path) -> Path:
    """A tiny valid workbook in the same layout as the bombs (a control for the tests)."""
    return _workbook(path, text_member("xl/worksheets/sheet1.xml", SHEET_HEAD + SHEET_TAIL))


def xlsx_whitespace(path: Path, mib: int = 400) -> Path:
    """The reported bomb: the sheet holds `mib` MiB of whitespace between two rows."""
    sheet = deflated(
        "xl/worksheets/sheet1.xml",
        [(SHEET_HEAD.encode(), 1), (b" " * BLOCK, mib), (SHEET_TAIL.encode(), 1)],
    )
    return _workbook(path, sheet)


def xlsx_huge_cell(path: Path, mib: int = 12) -> Path:
    """One inline-string cell of `mib` MiB of text (a single run inside <t>)."""
    head = SHEET_HEAD + '<row r="3"><c r="A3" t="inlineStr"><is><t>'
    tail = "</t></is></c></row>" + SHEET_TAIL
    sheet = deflated(
        "xl/worksheets/sheet1.xml", [(head.encode(), 1), (b"x" * BLOCK, mib), (tail.encode(), 1)]
    )
    return _workbook(path, sheet)


def xlsx_quiet_whitespace(path: Path, mib: int = 12) -> Path:
    """Whitespace under the ratio check's threshold: only the streaming count can see it."""
    return xlsx_whitespace(path, mib)


def xlsx_declares_huge(path: Path) -> Path:
    """A workbook whose sheet declares 3 GiB uncompressed (it is small): refused unread."""
    sheet = text_member("xl/worksheets/sheet1.xml", SHEET_HEAD + SHEET_TAIL)
    return _workbook(path, Member(sheet.name, sheet.data, 3 << 30, sheet.crc))


def xlsx_lies_small(path: Path, mib: int = 512) -> Path:
    """A sheet that declares 1 KiB but unpacks to `mib` MiB of whitespace."""
    sheet = deflated(
        "xl/worksheets/sheet1.xml",
        [(SHEET_HEAD.encode(), 1), (b" " * BLOCK, mib), (SHEET_TAIL.encode(), 1)],
        declare=1024,
    )
    return _workbook(path, sheet)


def xlsx_wide_dimension(path: Path) -> Path:
    """Three cells under a dimension of A1:XFD1048576, and one cell far out in XFD1048576."""
    sheet = (
        SHEET_HEAD.replace("<sheetData>", '<dimension ref="A1:XFD1048576"/><sheetData>')
        + '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        + SHEET_TAIL
    )
    return _workbook(path, text_member("xl/worksheets/sheet1.xml", sheet))


def media_zip_past_cap(path: Path, members: int = 300, mib: int = 8) -> Path:
    """A zip of "photos" declaring (truthfully) members x `mib` MiB: past the 2 GiB cap."""
    one = deflated("img.png", [(b"\x00" * BLOCK, mib)])
    return write_zip(
        path, [Member(f"img{i:04d}.png", one.data, one.size, one.crc) for i in range(members)]
    )


def media_zip_lies(path: Path, mib: int = 512) -> Path:
    """One "photo" that declares 1 KiB and unpacks to `mib` MiB."""
    return write_zip(path, [deflated("a.png", [(b"\x00" * BLOCK, mib)], declare=1024)])


def long_line(path: Path, header: str, mib: int = 8, prefix: str = "", fill: bytes = b"x") -> Path:
    """A text file whose second line is `mib` MiB of `fill` without a line break."""
    block = fill * (BLOCK // len(fill))
    with path.open("wb") as out:
        out.write(f"{header}\n{prefix}".encode())
        for _ in range(mib):
            out.write(block)
        out.write(b"\n")
    return path


def deep_json_line(path: Path, depth: int = 200_000) -> Path:
    """A JSONL file whose one record nests `depth` arrays deep."""
    path.write_text('{"text": ' + "[" * depth + "]" * depth + "}\n")
    return path


def deep_json_array(path: Path, depth: int = 200_000) -> Path:
    """A JSON array whose one element nests `depth` arrays deep."""
    path.write_text('[{"text": ' + "[" * depth + "]" * depth + "}]\n")
    return path


Builder = Callable[[Path], Path]
