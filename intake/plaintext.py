"""Read .txt files: one sample per line, or tell that the file is really a table.

Excel's "Unicode Text" is a tab-separated table named .txt; `txt_is_tsv()` tells it apart from
one sample per line, and `intake.readers` then reads it with `intake.delimited`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Generator
from pathlib import Path

from intake.delimited import SNIFF_CHARS
from intake.lines import text_lines
from intake.source import Row, changed_while_reading, open_text

TXT_SNIFF_RECORDS = 50
"""A .txt file is read as TSV when this many first records all have the same tab count."""


def txt_is_tsv(path: Path, encoding: str, header: bool) -> bool:
    """Whether a .txt file is really a table (Excel's "Unicode Text" is TSV named .txt).

    A one-sample-per-line file can hold a tab here and there; a table has the same number of
    tab-separated fields in every record (quoted fields may span lines, as Excel writes them).
    """
    with open_text(path, encoding, "") as handle:
        try:
            sample = handle.read(SNIFF_CHARS)
        except UnicodeDecodeError as exc:
            raise changed_while_reading(path, exc) from exc
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


def txt_rows(path: Path, encoding: str, name: str) -> Generator[Row, None, None]:
    """One row per line, in the column `name`; a blank line's value is None."""
    lines = text_lines(path, encoding)
    try:
        for number, line in lines:
            yield Row(number, {name: line if line.strip() else None})
    finally:
        lines.close()
