"""Read a CSV or JSONL data file into samples: text or media, a stable id, an optional answer.

This is the core import path; the data-intake pipeline (encodings, cleaning rules, reports)
builds on it. Rows stream: memory stays flat whatever the file size.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEXT_COLUMNS = ("text", "sentence", "content", "review", "body", "message")
MEDIA_COLUMNS = ("media", "image", "photo", "path", "file", "url", "audio", "video")
ID_COLUMNS = ("id", "sample_id", "item", "task", "uid")
TRUTH_COLUMNS = ("truth", "gold", "answer", "label")

_KIND_BY_SUFFIX = {
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".webp", ".bmp"), "photo"),
    **dict.fromkeys((".mp3", ".m4a", ".wav", ".flac", ".aac"), "audio"),
    **dict.fromkeys((".ogg", ".oga", ".opus"), "voice"),
    **dict.fromkeys((".mp4", ".mov", ".webm", ".mkv", ".avi"), "video"),
}


class IntakeError(Exception):
    """The data file cannot be read as asked; the message says what to change."""


@dataclass(frozen=True)
class RawSample:
    """One sample read from a data file."""

    ext_id: str
    kind: str
    text: str | None
    media: str | None
    truth: str | None


@dataclass
class IntakeStats:
    """What reading the file did, row by row."""

    rows: int = 0
    kept: int = 0
    empty: int = 0
    duplicate_ids: int = 0
    examples: list[str] = field(default_factory=list)

    def drop(self, reason: str) -> None:
        """Count a dropped row, keeping the first few reasons as examples."""
        if len(self.examples) < 5:
            self.examples.append(reason)


@dataclass(frozen=True)
class Columns:
    """Which column holds what (None: not used)."""

    text: str | None = None
    media: str | None = None
    id: str | None = None
    truth: str | None = None


def media_kind(path_or_url: str) -> str:
    """The Telegram message kind for a media file, by its extension."""
    suffix = Path(path_or_url.split("?", 1)[0]).suffix.lower()
    return _KIND_BY_SUFFIX.get(suffix, "document")


def resolve_columns(found: list[str], wanted: Columns) -> Columns:
    """Check the asked-for columns exist and fill the rest in by common names."""
    lower = {c.lower(): c for c in found}

    def pick(asked: str | None, names: tuple[str, ...], what: str) -> str | None:
        if asked is not None:
            if asked not in found:
                raise IntakeError(
                    f"no {what} column '{asked}'; the file has: {', '.join(found) or 'none'}"
                )
            return asked
        return next((lower[n] for n in names if n in lower), None)

    cols = Columns(
        text=pick(wanted.text, TEXT_COLUMNS, "text"),
        media=pick(wanted.media, MEDIA_COLUMNS, "media"),
        id=pick(wanted.id, ID_COLUMNS, "id"),
        truth=pick(wanted.truth, TRUTH_COLUMNS, "truth"),
    )
    if cols.text is None and cols.media is None:
        raise IntakeError(
            "no text or media column found; name one with --text-col or --media-col "
            f"(the file has: {', '.join(found) or 'none'})"
        )
    return cols


def _rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """Column names and (line number, row) pairs of a CSV/TSV or JSONL file."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        handle = path.open(encoding="utf-8-sig")
        first: dict[str, Any] | None = None
        first_line = 0
        for number, line in enumerate(handle, start=1):
            if line.strip():
                first, first_line = _json_row(line, number, path), number
                break

        def jsonl() -> Iterator[tuple[int, dict[str, Any]]]:
            with handle:
                if first is None:
                    return
                yield first_line, first
                for number, line in enumerate(handle, start=first_line + 1):
                    if line.strip():
                        yield number, _json_row(line, number, path)

        return (list(first) if first else []), jsonl()
    if suffix in (".csv", ".tsv", ".txt"):
        handle = path.open(encoding="utf-8-sig", newline="")
        reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
        names = list(reader.fieldnames or [])

        def table() -> Iterator[tuple[int, dict[str, Any]]]:
            with handle:
                for row in reader:
                    yield reader.line_num, row

        return names, table()
    raise IntakeError(f"{path.name}: use a .csv, .tsv or .jsonl data file")


def _json_row(line: str, number: int, path: Path) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise IntakeError(f"{path.name}, line {number}: not valid JSON ({exc.msg})") from exc
    if not isinstance(value, dict):
        raise IntakeError(f"{path.name}, line {number}: each line must be a JSON object")
    return value


def _cell(row: dict[str, Any], column: str | None) -> str | None:
    if column is None:
        return None
    value = row.get(column)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def read_samples(
    path: Path, columns: Columns = Columns(), stats: IntakeStats | None = None
) -> Iterator[RawSample]:
    """Stream the samples of a data file; rows with nothing to label are counted, not kept."""
    stats = stats if stats is not None else IntakeStats()
    try:
        names, rows = _rows(path)
    except OSError as exc:
        raise IntakeError(f"{path}: cannot read the data file ({exc.strerror})") from exc
    cols = resolve_columns(names, columns)
    seen: set[str] = set()
    try:
        for number, row in rows:
            stats.rows += 1
            text, media = _cell(row, cols.text), _cell(row, cols.media)
            if text is None and media is None:
                stats.empty += 1
                stats.drop(f"line {number}: empty")
                continue
            if media is not None and not media.startswith(("http://", "https://")):
                media_path = Path(media)
                if not media_path.is_absolute():
                    media_path = path.parent / media_path
                media = str(media_path.resolve())
            ext_id = _cell(row, cols.id) or _content_id(text, media)
            if ext_id in seen:
                stats.duplicate_ids += 1
                stats.drop(f"line {number}: id '{ext_id}' already in this file")
                continue
            seen.add(ext_id)
            stats.kept += 1
            yield RawSample(
                ext_id=ext_id,
                kind=media_kind(media) if media else "text",
                text=text,
                media=media,
                truth=_cell(row, cols.truth),
            )
    except UnicodeDecodeError as exc:
        raise IntakeError(
            f"{path.name}: not UTF-8 text (byte {exc.start} of a read block); "
            "save it as UTF-8 and import again"
        ) from exc
    except csv.Error as exc:
        raise IntakeError(f"{path.name}: malformed CSV: {exc}") from exc


def _content_id(text: str | None, media: str | None) -> str:
    """A stable id from the content, so re-importing the same file adds nothing."""
    digest = hashlib.sha1(f"{text or ''}\x00{media or ''}".encode(), usedforsecurity=False)
    return "h" + digest.hexdigest()[:16]
