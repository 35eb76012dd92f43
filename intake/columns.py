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
from typing import Any, TextIO

TEXT_COLUMNS = ("text", "sentence", "content", "review", "body", "message")
MEDIA_COLUMNS = ("media", "image", "photo", "path", "file", "url", "audio", "video")
ID_COLUMNS = ("id", "sample_id", "item", "task", "uid")
TRUTH_COLUMNS = ("gold",)
"""Taken as gold without asking: rows with a gold answer become control tasks (at the project's
gold rate), so only a column that says so by its name is; any other must be named."""
ANSWER_LIKE = ("truth", "answer", "answers", "label", "labels", "gold_label", "correct")
"""Columns that look like answers but are not taken as gold: the report points them out."""

Numbered = tuple[int, dict[str, Any]]
_KIND_BY_SUFFIX = {
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".webp", ".bmp"), "photo"),
    **dict.fromkeys((".mp3", ".m4a", ".wav", ".flac", ".aac"), "audio"),
    **dict.fromkeys((".ogg", ".oga", ".opus"), "voice"),
    **dict.fromkeys((".mp4", ".mov", ".webm", ".mkv", ".avi"), "video"),
}


class IntakeError(Exception):
    """The data file cannot be read as asked; the message says what to change.

    A refusal the bot can word itself also has a `code` and its `params` (as
    `intake.source.SourceError` has), so it is said in the user's language; `code` is None
    for the others.
    """

    def __init__(self, message: str, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


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


def resolve_columns(
    found: list[str], wanted: Columns, truth_names: tuple[str, ...] = TRUTH_COLUMNS
) -> Columns:
    """Check the asked-for columns exist and fill the rest in by common names.

    `truth_names`: the names a gold column is taken by unasked (lower case).
    """
    lower = {c.lower(): c for c in found}

    def pick(asked: str | None, names: tuple[str, ...], what: str) -> str | None:
        if asked is not None:
            if asked not in found:
                raise IntakeError(
                    f"no {what} column '{asked}'; the file has: {', '.join(found) or 'none'}",
                    "no_column",
                    what=what,
                    column=asked,
                    found=list(found),
                )
            return asked
        return next((lower[n] for n in names if n in lower), None)

    cols = Columns(
        text=pick(wanted.text, TEXT_COLUMNS, "text"),
        media=pick(wanted.media, MEDIA_COLUMNS, "media"),
        id=pick(wanted.id, ID_COLUMNS, "id"),
        truth=pick(wanted.truth, truth_names, "truth"),
    )
    if cols.text is None and cols.media is None:
        raise IntakeError(
            "no text or media column found; name one with --text-col or --media-col "
            f"(the file has: {', '.join(found) or 'none'})",
            "no_content_column",
            found=list(found),
        )
    return cols


def _rows(handle: TextIO, suffix: str, path: Path) -> tuple[list[str], Iterator[Numbered]]:
    """Column names and (line number, row) pairs of an open CSV/TSV or JSONL file."""
    if suffix in (".jsonl", ".ndjson"):
        lines = enumerate(handle, start=1)
        first = next(((n, line) for n, line in lines if line.strip()), None)
        if first is None:
            return [], iter(())
        head = (first[0], _json_row(first[1], first[0], path))

        def jsonl() -> Iterator[Numbered]:
            yield head
            for number, line in lines:
                if line.strip():
                    yield number, _json_row(line, number, path)

        return list(head[1]), jsonl()
    reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
    names = list(reader.fieldnames or [])
    return names, ((reader.line_num, row) for row in reader)


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
    path: Path, columns: Columns | None = None, stats: IntakeStats | None = None
) -> Iterator[RawSample]:
    """Stream the samples of a data file; rows with nothing to label are counted, not kept."""
    stats = stats if stats is not None else IntakeStats()
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".txt", ".jsonl", ".ndjson"):
        raise IntakeError(f"{path.name}: use a .csv, .tsv or .jsonl data file")
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise IntakeError(f"{path}: cannot read the data file ({exc.strerror})") from exc
    with handle:
        try:
            names, rows = _rows(handle, suffix, path)
            cols = resolve_columns(names, columns or Columns())
            seen: set[str] = set()
            for number, row in rows:
                stats.rows += 1
                sample = _sample(row, cols, path)
                if sample is None:
                    stats.empty += 1
                    stats.drop(f"line {number}: empty")
                elif sample.ext_id in seen:
                    stats.duplicate_ids += 1
                    stats.drop(f"line {number}: id '{sample.ext_id}' already in this file")
                else:
                    seen.add(sample.ext_id)
                    stats.kept += 1
                    yield sample
        except UnicodeDecodeError as exc:
            raise IntakeError(
                f"{path.name}: not UTF-8 text (byte {exc.start} of a read block); "
                "save it as UTF-8 and import again"
            ) from exc
        except csv.Error as exc:
            raise IntakeError(f"{path.name}: malformed CSV: {exc}") from exc


def _sample(row: dict[str, Any], cols: Columns, path: Path) -> RawSample | None:
    text, media = _cell(row, cols.text), _cell(row, cols.media)
    if text is None and media is None:
        return None
    if media is not None and not media.startswith(("http://", "https://")):
        media_path = Path(media)
        if not media_path.is_absolute():
            media_path = path.parent / media_path
        media = str(media_path.resolve())
    return RawSample(
        ext_id=_cell(row, cols.id) or _content_id(text, media),
        kind=media_kind(media) if media else "text",
        text=text,
        media=media,
        truth=_cell(row, cols.truth),
    )


def _content_id(text: str | None, media: str | None) -> str:
    """A stable id from the content, so re-importing the same file adds nothing."""
    digest = hashlib.sha1(f"{text or ''}\x00{media or ''}".encode(), usedforsecurity=False)
    return "h" + digest.hexdigest()[:16]
