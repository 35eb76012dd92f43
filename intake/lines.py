"""Read a text file line by line without ever holding a line past the limit.

Every text format goes through here: plain text and JSON Lines with `text_lines()`, CSV/TSV
through `LineFeed`, which also bounds a record of several lines (quoted line breaks).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import IO

from intake.source import SourceError, changed_while_reading, open_text

MAX_LINE_CHARS = 1 << 20
"""A line (of any text format) longer than this refuses the file; it is never read whole."""
MAX_RECORD_CHARS = 4 << 20
"""A CSV/TSV record (its lines together, when quoted fields hold line breaks) longer than this
refuses the file."""


class LineFeed:
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

    def __iter__(self) -> LineFeed:
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


def text_lines(path: Path, encoding: str) -> Generator[tuple[int, str], None, None]:
    """(line number, line without its ending) for each line; a line past the limit refuses."""
    with open_text(path, encoding, None) as handle:
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
            raise changed_while_reading(path, exc) from exc
