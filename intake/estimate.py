"""About how many rows an import will read, before it starts: the progress bar's ETA.

The reader counts the rows of a sample from the head of the file and the density is scaled
to the file's size; an xlsx sheet states its own row count.
"""

from __future__ import annotations

import codecs
import json
import tempfile
import zipfile
from pathlib import Path

from intake.archive import ArchiveRefused, check_xlsx
from intake.readers import SUPPORTED, SourceError, open_source

ETA_SAMPLE_BYTES = 1 << 20


def estimate_rows(
    path: Path,
    *,
    header: bool = True,
    column_names: list[str] | None = None,
    sample_bytes: int = ETA_SAMPLE_BYTES,
) -> float | None:
    """About how many rows the importer will read from `path`; None when it cannot tell.

    The reader itself counts the rows in the first `sample_bytes` (cut at a line end), and
    that density is scaled to the file size: exact for files that fit in the sample, close
    for the rest (quoted line breaks, blank lines and the header are counted as the reader
    counts them). An xlsx sheet states its row count; folders and zips have no estimate.
    """
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
        if path.is_dir() or suffix not in SUPPORTED:
            return None
        if suffix == ".xlsx":
            return _xlsx_rows(path, header)
        with path.open("rb") as handle:
            head = handle.read(sample_bytes)
    except OSError:
        return None
    if len(head) < size:
        head = _cut_at_line_end(head)
    if not head:
        return None
    if suffix == ".json":
        rows = _json_elements(head)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            sample = Path(tmp, "sample" + suffix)
            sample.write_bytes(head)
            rows = _count_rows(sample, header, column_names)
    return rows * size / len(head) if rows else None


def _cut_at_line_end(head: bytes) -> bytes:
    """The bytes up to the last line end (two-byte aligned for UTF-16), so no row is cut."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        newline = "\n".encode("utf-16-le" if head.startswith(codecs.BOM_UTF16_LE) else "utf-16-be")
        end = head.rfind(newline)
        while end > 0 and end % 2:
            end = head.rfind(newline, 0, end)
        return head[: end + 2] if end > 0 else b""
    return head[: head.rfind(b"\n") + 1]


def _count_rows(path: Path, header: bool, column_names: list[str] | None) -> int:
    try:
        _, rows = open_source(path, header=header, column_names=column_names)
    except SourceError:
        return 0
    count = 0
    try:
        for _ in rows:
            count += 1
    except SourceError:
        pass  # the sample may end inside a quoted field: the rows before it still count
    finally:
        rows.close()
    return count


def _json_elements(head: bytes) -> int:
    """Elements of the JSON array that start within `head` and end there."""
    encoding = "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else None
    text = head.decode(encoding or "utf-8-sig", errors="replace")
    decoder = json.JSONDecoder()
    pos = text.find("[") + 1
    count = 0
    while pos > 0:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        try:
            _, pos = decoder.raw_decode(text, pos)
        except ValueError:
            break
        count += 1
    return count


def _xlsx_rows(path: Path, header: bool) -> float | None:
    """The row count the first sheet declares (its dimension), without reading the rows."""
    # Any trouble means no estimate; the import itself reports what is wrong with the file.
    broken = (ImportError, OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError)
    try:
        # Bombs first: openpyxl reads every shared string while it opens a workbook.
        scan = check_xlsx(path)
    except (ArchiveRefused, *broken):
        return None
    if len(scan.sheets) == 1:
        (extent,) = scan.sheets.values()
        return float(extent.rows - 1 if header else extent.rows) or None
    try:
        import openpyxl  # type: ignore[import-untyped]

        workbook = openpyxl.load_workbook(path, read_only=True)
    except broken:
        return None
    try:
        declared = workbook.worksheets[0].max_row
    except broken:
        return None
    finally:
        workbook.close()
    if not isinstance(declared, int) or declared < 1:
        return None
    return float(declared - 1 if header else declared) or None
