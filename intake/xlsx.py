"""Read the first sheet of an .xlsx workbook as rows, with openpyxl.

`intake.archive` checks the workbook's zip first (sizes, sheet extent), so openpyxl never opens
a workbook bomb; openpyxl is imported only when an .xlsx is read.
"""

from __future__ import annotations

import zipfile
from collections.abc import Generator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from intake.archive import ArchiveRefused, WorkbookScan, check_area, check_xlsx
from intake.source import Row, Rows, Source, SourceError, header_columns, too_wide


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


def open_xlsx(path: Path, column_names: list[str] | None, header: bool) -> tuple[Source, Rows]:
    """Describe an .xlsx file (its first sheet) and stream its rows."""
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
    names = header_columns(path, found, column_names, header)
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
                yield Row(number, None, too_wide(len(texts), width, header))
                continue
            values: dict[str, str | None] = dict.fromkeys(names)
            values.update(zip(names, texts, strict=False))
            yield Row(number, values)
    finally:
        rows.close()
