"""The preprocessing pipeline: read a source, map its columns, clean and check every row.

Rows stream through: reader (intake.readers) -> column mapping -> text cleaning
(intake.cleaning) -> media checks (intake.media) -> truth check -> exact and near duplicates.
Every row ends kept, kept-with-fixes, flagged or dropped, and the report counts each rule with
its first examples (row number and reason). Duplicates against samples already in a project
are the caller's to check (they live in the database); `Report.drop` records them the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from intake.cleaning import CleaningOptions, clean_text, content_key
from intake.columns import (
    ANSWER_LIKE,
    TRUTH_COLUMNS,
    Columns,
    IntakeError,
    media_kind,
    resolve_columns,
)
from intake.dedup import KeySet, NearDuplicates, key64
from intake.media import check_media, iter_media_files
from intake.readers import Row, open_source

EXAMPLES = 5
MAX_ID = 190  # characters in a source id (storage takes 200; split pieces add "#n")
_FIXES = {
    "nfc": "Unicode normalised to NFC",
    "invisible": "control or zero-width characters removed",
    "whitespace": "whitespace collapsed",
    "truncated": "text truncated to fit a Telegram message",
}


@dataclass
class RuleTally:
    """How often one rule fired, with its first examples."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str) -> None:
        """Count one more, keeping the first few examples."""
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)


@dataclass
class Report:
    """What a run did to every row: read, kept, fixed, flagged, dropped — per rule."""

    source: str
    format: str = ""
    encoding: str | None = None
    rows: int = 0
    kept: int = 0
    rows_fixed: int = 0  # kept rows that at least one rule changed
    dropped: dict[str, RuleTally] = field(default_factory=dict)
    fixed: dict[str, RuleTally] = field(default_factory=dict)
    flagged: dict[str, RuleTally] = field(default_factory=dict)
    seconds: float = 0.0
    dry_run: bool = False
    started: float = field(default_factory=time.perf_counter)
    # The column mapping used: role ("text", "media", "id", "gold", "meta") -> column(s).
    columns: dict[str, str] = field(default_factory=dict)
    unused_answers: list[str] = field(default_factory=list)  # answer-like, not taken as gold
    # Filled in by the importer, which knows the project: kept rows that became control tasks
    # (a gold answer, gold rate above 0) and rows to label; no_work: the project is left with
    # control tasks and nothing to label.
    control: int = 0
    work: int = 0
    no_work: bool = False

    def drop(self, rule: str, number: int, reason: str) -> None:
        """Record a dropped row."""
        self.dropped.setdefault(rule, RuleTally()).add(f"row {number}: {reason}")

    def fix(self, rule: str, number: int, what: str) -> None:
        """Record a fix applied to a kept row."""
        self.fixed.setdefault(rule, RuleTally()).add(f"row {number}: {what}")

    def flag(self, rule: str, number: int, what: str) -> None:
        """Record a kept row that a coordinator should look at."""
        self.flagged.setdefault(rule, RuleTally()).add(f"row {number}: {what}")

    def unflag(self, rule: str, number: int) -> None:
        """Take back a flag: the row was dropped later (e.g. by the database's duplicate check)."""
        tally = self.flagged.get(rule)
        if tally is None:
            return
        tally.count -= 1
        tally.examples = [e for e in tally.examples if not e.startswith(f"row {number}:")]
        if tally.count <= 0:
            del self.flagged[rule]

    @property
    def n_dropped(self) -> int:
        """Rows dropped, all rules together."""
        return sum(t.count for t in self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for the database and exports."""

        def tallies(d: dict[str, RuleTally]) -> dict[str, Any]:
            return {k: {"count": v.count, "examples": v.examples} for k, v in sorted(d.items())}

        return {
            "source": self.source,
            "format": self.format,
            "encoding": self.encoding,
            "rows": self.rows,
            "kept": self.kept,
            "fixed": self.rows_fixed,
            "dropped_total": self.n_dropped,
            "dropped_by_rule": tallies(self.dropped),
            "fixed_by_rule": tallies(self.fixed),
            "flagged": tallies(self.flagged),
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "columns": dict(self.columns),
            "unused_answer_columns": list(self.unused_answers),
            "control": self.control,
            "work": self.work,
            "no_work": self.no_work,
        }

    def mapping(self) -> str:
        """The column mapping as one line: `text='review', id='id', gold=(none)`."""
        parts = []
        for role in ("text", "media", "id", "gold", "meta"):
            column = self.columns.get(role)
            if column is not None or role in ("text", "gold"):
                parts.append(f"{role}={column!r}" if column is not None else f"{role}=(none)")
        return ", ".join(parts)

    def summary(self) -> str:
        """A few lines for the terminal or a chat message."""
        head = (
            f"{self.source} ({self.format}{', ' + self.encoding if self.encoding else ''}): "
            f"{self.rows} rows read, {self.kept} kept, "
            f"{self.rows_fixed} fixed, {self.n_dropped} dropped, "
            f"{sum(t.count for t in self.flagged.values())} flagged in {self.seconds:.2f} s"
            + (" — dry run, nothing written" if self.dry_run else "")
        )
        lines = [head, "  columns: " + self.mapping()]
        lines += [
            f"  column '{name}' is not taken as gold (only a column named 'gold' is); to make "
            f"control tasks from it, import again with --gold-col {name} (in the bot: caption "
            f"gold={name})"
            for name in self.unused_answers
        ]
        verb = "would add" if self.dry_run else "added"
        lines.append(f"  {verb}: {self.work} to label, {self.control} control tasks")
        if self.no_work:
            lines.append(
                "  warning: the project has control tasks but nothing to label, so workers "
                "get no work; import samples to label: rows without a gold answer"
            )
        for title, group in (
            ("dropped", self.dropped),
            ("fixed", self.fixed),
            ("flagged", self.flagged),
        ):
            for rule, tally in sorted(group.items(), key=lambda kv: -kv[1].count):
                lines.append(f"  {title} {rule}: {tally.count}")
                lines += [f"      {e}" for e in tally.examples]
        return "\n".join(lines)


@dataclass(frozen=True)
class Item:
    """A row that survived: ready to store."""

    number: int
    ext_id: str
    kind: str
    text: str | None
    media: str | None
    truth: str | None
    key: str  # content key, for duplicate checks against the database
    meta: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()  # rules that flagged this row

    @property
    def content_key(self) -> str:
        """The content key under the name storage uses."""
        return self.key


@dataclass(frozen=True)
class PipelineOptions:
    """How to read and clean one source."""

    columns: Columns = field(default_factory=Columns)
    meta_columns: tuple[str, ...] = ()
    cleaning: CleaningOptions = field(default_factory=CleaningOptions)
    truths: frozenset[str] | None = None  # allowed gold labels (option ids); None: any
    check_files: bool = True
    check_urls: bool = True  # fetch the first bytes of http(s) media (intake.urls)
    header: bool = True  # CSV/TSV: False when the file has no header row (give column_names)
    column_names: tuple[str, ...] | None = None
    media_out: Path | None = None  # where downscaled copies go (default: beside the source)
    # Column names taken as gold unasked (lower case); see intake.columns.TRUTH_COLUMNS.
    truth_names: tuple[str, ...] = TRUTH_COLUMNS


def _media_rows(path: Path, options: PipelineOptions) -> tuple[list[str], Iterator[Row]]:
    """A folder or .zip of media files as rows with one `media` column (id: relative path)."""
    store = options.media_out or path.parent
    extract = store / "extracted" / path.stem
    root = path if path.is_dir() else extract

    def rows() -> Iterator[Row]:
        for number, file in enumerate(iter_media_files(path, extract_dir=extract), start=1):
            relative = (
                file.relative_to(root).as_posix() if file.is_relative_to(root) else file.name
            )
            yield Row(number, {"media": str(file), "id": relative})

    return ["media", "id"], rows()


CHUNK = 2048  # rows per batch for the duplicate checks (vectorised over a batch)


@dataclass
class _Staged:
    """A row's item(s) that passed the per-row rules, waiting for the duplicate checks."""

    item: Item
    fixes: list[tuple[str, str]]
    split: int = 0  # pieces, when a long text was split (reported once, on the first piece)
    url: str | None = None  # http(s) media still to check (a batch's URLs go at once)


def run(path: Path, options: PipelineOptions, report: Report) -> Iterator[Item]:
    """Stream the kept rows of `path`; `report` fills in as the iterator is consumed."""
    if path.is_dir() or path.suffix.lower() == ".zip":
        names, rows = _media_rows(path, options)
        report.format, report.encoding = ("folder" if path.is_dir() else "zip"), None
        cols = resolve_columns(names, Columns(media="media", id="id"))
    else:
        names_given = list(options.column_names) if options.column_names else None
        source, rows = open_source(path, column_names=names_given, header=options.header)
        names = source.columns
        report.format, report.encoding = source.format, source.encoding
        cols = resolve_columns(source.columns, options.columns, options.truth_names)
    missing = [c for c in options.meta_columns if c not in names]
    if missing:
        raise IntakeError(
            f"no meta column {', '.join(missing)}; the file has: {', '.join(names)}",
            "no_meta_column",
            missing=missing,
            found=list(names),
        )
    report.columns = {
        role: column
        for role, column in (
            ("text", cols.text),
            ("media", cols.media),
            ("id", cols.id),
            ("gold", cols.truth),
            ("meta", ",".join(options.meta_columns) or None),
        )
        if column is not None
    }
    report.unused_answers = [
        n for n in names if n.strip().lower() in ANSWER_LIKE and n != cols.truth
    ]
    near = (
        NearDuplicates(options.cleaning.near_threshold)
        if options.cleaning.near_duplicates != "off"
        else None
    )
    exact = KeySet() if options.cleaning.drop_duplicates else None
    try:
        staged: list[_Staged] = []
        for row in rows:
            report.rows += 1
            staged += _row(row, cols, options, path, report)
            if len(staged) >= CHUNK:
                yield from _finish(staged, options, report, exact, near)
                staged = []
        yield from _finish(staged, options, report, exact, near)
    finally:
        report.seconds = time.perf_counter() - report.started
        if near is not None:
            near.close()


def _finish(
    staged: list[_Staged],
    options: PipelineOptions,
    report: Report,
    exact: KeySet | None,
    near: NearDuplicates | None,
) -> list[Item]:
    """Duplicate checks for a batch of rows, then the fixes of the rows that stay."""
    staged = _check_urls(staged, report)
    if exact is not None and staged:
        earlier = exact.check_batch([key64(s.item.key) for s in staged])
        kept = []
        for s, e in zip(staged, earlier, strict=True):
            if e:
                report.drop("duplicate", s.item.number, "same content as an earlier row")
            else:
                kept.append(s)
        staged = kept
    if near is not None:
        with_text = [s for s in staged if s.item.text]
        matches = near.check_batch([s.item.text or "" for s in with_text])
        near_rows = {id(s) for s, m in zip(with_text, matches, strict=True) if m >= 0}
        if near_rows:
            kept = []
            for s in staged:
                if id(s) not in near_rows:
                    kept.append(s)
                elif options.cleaning.near_duplicates == "drop":
                    report.drop(
                        "near_duplicate", s.item.number, "nearly the same text as an earlier row"
                    )
                else:
                    report.flag(
                        "near_duplicate", s.item.number, "nearly the same text as an earlier row"
                    )
                    s.item = replace(s.item, flags=("near_duplicate",))
                    kept.append(s)
            staged = kept
    items = []
    for s in staged:
        # Only rows that are kept count as fixed.
        for rule, what in s.fixes:
            report.fix(rule, s.item.number, what)
        report.rows_fixed += bool(s.fixes)
        if s.split:
            report.fix("split", s.item.number, f"text split into {s.split} samples")
        report.kept += 1
        items.append(s.item)
    return items


def _check_urls(staged: list[_Staged], report: Report) -> list[_Staged]:
    """Fetch the head of every URL in the batch at once; drop the rows whose URL fails."""
    urls = list(dict.fromkeys(s.url for s in staged if s.url is not None))
    if not urls:
        return staged
    from intake.urls import check_urls  # httpx: ~7 MB, only for files that hold URLs

    verdicts = dict(zip(urls, check_urls(urls), strict=True))
    kept, dropped, noted = [], set(), set()
    for s in staged:
        verdict = verdicts.get(s.url) if s.url is not None else None
        if verdict is None:
            kept.append(s)
        elif verdict.drop is not None or verdict.kind is None:
            if s.item.number not in dropped:  # a split text's pieces: one drop
                dropped.add(s.item.number)
                report.drop("media", s.item.number, verdict.drop or "unusable URL")
        else:
            s.item = replace(s.item, kind=verdict.kind)
            if verdict.note and s.item.number not in noted:
                noted.add(s.item.number)
                s.fixes.append(("media", verdict.note))
            kept.append(s)
    return kept


def _row(
    row: Row,
    cols: Columns,
    options: PipelineOptions,
    path: Path,
    report: Report,
) -> list[_Staged]:
    n = row.number
    if row.values is None:
        report.drop("unreadable", n, row.error or "could not be parsed")
        return []
    values = row.values
    raw_text = values.get(cols.text) if cols.text else None
    media = values.get(cols.media) if cols.media else None
    if cols.media is not None and not (media or "").strip():
        report.drop("missing_column", n, f"no value in the media column '{cols.media}'")
        return []
    cleaned = clean_text(raw_text, options.cleaning)
    text = cleaned.text
    if cleaned.drop is not None and not media:
        reason = {"empty": "empty or only whitespace", "too_long": "text too long"}.get(
            cleaned.drop, cleaned.drop
        )
        report.drop(cleaned.drop, n, reason)
        return []
    fixes = [(fix, _FIXES.get(fix, fix)) for fix in cleaned.fixes]
    kind = "text"
    url = None
    if media:
        media = media.strip()
        if media.startswith(("http://", "https://")):
            kind = media_kind(media)
            url = media if options.check_urls else None
        else:
            file = Path(media)
            if not file.is_absolute():
                file = path.parent / file
            if options.check_files:
                check = check_media(file, out_dir=options.media_out or path.parent)
                if check.drop is not None or check.path is None or check.kind is None:
                    report.drop("media", n, check.drop or "unusable file")
                    return []
                if check.note:
                    fixes.append(("media", check.note))
                media, kind = str(check.path.resolve()), check.kind
            else:
                media, kind = str(file.resolve()), media_kind(str(file))
    truth = (values.get(cols.truth) or "").strip() or None if cols.truth else None
    if truth is not None and options.truths is not None and truth not in options.truths:
        allowed = ", ".join(sorted(options.truths))
        report.drop("bad_gold", n, f"gold label '{truth}' is not an option ({allowed})")
        return []
    key = content_key(text, media)
    ext_id = (values.get(cols.id) or "").strip() if cols.id else ""
    ext_id = ext_id or "h" + key[:16]
    if len(ext_id) > MAX_ID:
        report.drop("bad_id", n, f"id longer than {MAX_ID} characters")
        return []
    meta = {c: values.get(c) or "" for c in options.meta_columns}
    if len(cleaned.parts) > 1:
        return [
            _Staged(
                Item(n, f"{ext_id}#{i}", kind, part, media, truth, content_key(part, media), meta),
                fixes if i == 1 else [],
                len(cleaned.parts) if i == 1 else 0,
                url,
            )
            for i, part in enumerate(cleaned.parts, start=1)
        ]
    return [_Staged(Item(n, ext_id, kind, text, media, truth, key, meta), fixes, url=url)]
