"""Read JSON Lines files and JSON arrays of objects, one record at a time.

A JSON array is parsed element by element from a bounded window on the file, so a large array
is never held whole; a record nested too deep or an element too long refuses the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import IO

from intake.lines import text_lines
from intake.source import Row, SourceError, changed_while_reading, open_text

COLUMN_SCAN_RECORDS = 1000
"""JSON/JSONL columns are the union of the keys of this many first records."""
MAX_JSON_DEPTH = 64
"""Arrays and objects nested deeper than this in one record refuse the file."""
MAX_ELEMENT_CHARS = 16 << 20
"""A JSON array element longer than this stops the read: it cannot be held to be parsed."""
_JSON_CHUNK_CHARS = 64 * 1024
_NOT_JSON_WS = re.compile(r"[^ \t\n\r]")
# A JSON error this close to the end of the buffer may only mean the element goes on.
_JSON_TAIL = 16


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


def jsonl_rows(path: Path, encoding: str, columns: list[str]) -> Generator[Row, None, None]:
    """One row per non-blank line; a line that is not a JSON object is an error row."""
    lines = text_lines(path, encoding)
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


def union_keys(records: Iterable[dict[str, str | None] | None]) -> list[str]:
    """The keys of the first `COLUMN_SCAN_RECORDS` parsed records, in first-seen order."""
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


def json_rows(path: Path, encoding: str, columns: list[str]) -> Generator[Row, None, None]:
    """One row per element of the file's top-level array; one not an object is an error row."""
    with open_text(path, encoding, None) as handle:
        try:
            for number, value in _json_elements(path, _TextBuffer(handle)):
                yield _object_row(number, value, columns)
        except UnicodeDecodeError as exc:
            raise changed_while_reading(path, exc) from exc


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
