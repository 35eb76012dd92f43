"""What every data-file reader shares: the rows it yields, the one error it raises, the rules.

`Row`, `Source` and `SourceError` are the readers' vocabulary (`intake.readers` hands them out);
opening a text file and the rules for header rows and column names are the same for every format.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

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


def open_text(path: Path, encoding: str, newline: str | None) -> IO[str]:
    """The file opened to decode strictly as `encoding`; `SourceError` if it cannot be opened."""
    try:
        return path.open(encoding=encoding, errors="strict", newline=newline)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the data file ({exc.strerror})") from exc


def changed_while_reading(path: Path, exc: UnicodeDecodeError) -> SourceError:
    """The error for a file that stopped decoding part-way through a read."""
    # Detection decoded the whole file, so this means it changed while being read.
    return SourceError(
        f"{path.name}: could not be decoded while reading ({exc.reason}); "
        "was it changed meanwhile? Import it again"
    )


def _check_header(path: Path, names: list[str], what: str = "the header row") -> list[str]:
    """The names stripped (and of a leading BOM); refused unless unique and non-empty."""
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


def header_columns(
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


def too_wide(count: int, width: int, header: bool) -> str:
    """The error text for a row with more fields (`count`) than there are columns (`width`)."""
    if header:
        return f"{count} fields, header has {width}"
    return f"{count} fields, {width} column names given"
