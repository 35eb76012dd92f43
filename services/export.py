"""Exports: a project's samples, labels and decisions out of the bot, in the formats people use.

`export_project` is blocking and self-contained (its own read connection, no event loop), so
the command line calls it directly and the bot can run it in a thread. It reads one
consistent snapshot (`storage.export.ExportSnapshot`) and streams: memory stays flat whatever
the project's size. Formats:

- jsonl: one sample per line with everything known about it (`storage.export.SAMPLE_JSON_SQL`);
- csv: one flat row per sample;
- labels: `worker,task,label,...`, exactly the labels the quality check aggregates, with a
  second file of the answers it holds fixed (`labelgram aggregate --known` reads both);
- label-studio: Label Studio's task JSON (`services.export_ls`).

A folder export also writes the dataset card, README.md (`services.dataset_card`), and with
`media` the samples' files (`services.export_media`). Every file is written beside its final
name and renamed into place: a failed export leaves no half-written file. A folder export is
made in a new folder beside its place and renamed into it when complete: an earlier export
there is replaced whole (a file of an export with Telegram ids cannot outlive it under a card
that promises pseudonyms), and a folder holding anything else is refused, never emptied.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Full, Queue
from typing import Any, BinaryIO, TextIO, TypeVar

from services.dataset_card import CardInput, card_stats, is_card, render_card
from services.export_ls import label_config, ls_task
from services.export_media import MEDIA_DIR, MediaFetcher, MediaSource
from storage.export import STATUSES, ExportError, ExportSnapshot

FORMATS = ("jsonl", "csv", "labels", "label-studio")
# The data file of each format in a folder export.
DATA_FILE = {
    "jsonl": "data.jsonl",
    "csv": "data.csv",
    "labels": "labels.csv",
    "label-studio": "tasks.json",
}
KNOWN_FILE = "known.csv"
CARD_FILE = "README.md"
LS_CONFIG_FILE = "label_config.xml"
# Everything a folder export writes: a folder holding only these (and a card of ours) is an
# earlier export, replaced whole by the next; anything else is refused, never deleted.
EXPORT_NAMES = frozenset({*DATA_FILE.values(), KNOWN_FILE, CARD_FILE, LS_CONFIG_FILE, MEDIA_DIR})
_SUFFIXES = {"jsonl": (".jsonl",), "csv": (".csv",), "labels": (".csv",)}
_SUFFIXES["label-studio"] = (".json",)
CSV_COLUMNS = (
    "id",
    "kind",
    "text",
    "media",
    "answer",
    "confidence",
    "n_labels",
    "status",
    "excluded_reason",  # why a coordinator took the sample out (status excluded), else empty
)
LABEL_COLUMNS = ("worker", "task", "label", "answered_at", "seconds", "guide_version")
KNOWN_COLUMNS = ("task", "label", "source")
PROGRESS_EVERY = 1_000  # samples between progress calls

Progress = Callable[[int, int], None]  # (samples written, samples in all)
_T = TypeVar("_T")


@dataclass(frozen=True)
class ExportOptions:
    """How to export: which samples, whose names, media, the card."""

    status: str = "all"  # "all", or "done": samples whose answer is settled (no control)
    worker_ids: bool = False  # Telegram ids instead of pseudonyms (the project's own use)
    media: bool = False  # copy or fetch the samples' media into the export folder
    card: bool = True  # write README.md in a folder export
    source: MediaSource | None = None  # the Bot API, for media only Telegram still has


@dataclass
class ExportResult:
    """What an export wrote: its files and counts (samples, labels, ...)."""

    files: list[Path]
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def check_choice(fmt: str, status: str) -> None:
    """Refuse an unknown format or status with one line naming the valid ones."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    if status not in STATUSES:
        raise ExportError(f"unknown status {status!r}; statuses: {', '.join(STATUSES)}")


def is_single_file(fmt: str, out: Path) -> bool:
    """An output path with the format's file suffix is one data file; anything else a folder."""
    return out.suffix.lower() in _SUFFIXES[fmt]


def export_project(
    db_path: Path | str,
    project: str | int,
    fmt: str,
    out: Path | None,
    options: ExportOptions | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Export one project (by slug or id) in `fmt` to `out` (blocking; safe in a thread).

    `out`: a file with the format's suffix (just the data; its folder must exist), or a folder
    (data, README.md, and media with `options.media`); None: the folder `<slug>-export` here.
    A folder export is written into a new folder beside `out` and put in its place when
    complete: an earlier Labelgram export there is replaced whole, a folder holding anything
    else is refused. Raises ExportError (UnknownProject) with a message that says what to do.
    """
    options = options or ExportOptions()
    check_choice(fmt, options.status)
    with ExportSnapshot(db_path, project, worker_ids=options.worker_ids) as snap:
        target = out if out is not None else Path(f"{snap.project.slug}-export")
        if is_single_file(fmt, target):
            if options.media:
                raise ExportError(
                    f"--with-media writes files beside the data: give a folder, not {target}"
                )
            _check_file(target)
            return _export_into(snap, fmt, target, target, options, progress)
        _check_folder(target, fmt)
        with _fresh_folder(target, fmt) as work:
            result = _export_into(snap, fmt, work, work / DATA_FILE[fmt], options, progress)
        result.files = [target / path.relative_to(work) for path in result.files]
    return result


def _export_into(
    snap: ExportSnapshot,
    fmt: str,
    folder: Path,
    data: Path,
    options: ExportOptions,
    progress: Progress | None,
) -> ExportResult:
    """Write the export: `data` is `folder` itself for a single file, else a file in it."""
    single = data == folder
    result = ExportResult(files=[])
    total = snap.count_samples(options.status)
    tick = _ticker(progress, total)
    fetcher = MediaFetcher(folder, options.source) if options.media else None
    try:
        _write_data(snap, fmt, folder, data, single, options, fetcher, (tick, total), result)
    finally:
        if fetcher is not None:
            fetcher.close()
    if fetcher is not None:
        result.counts.update(fetcher.counts())
        result.warnings += fetcher.problems
    if not single and options.card:
        stats = card_stats(snap)
        card = folder / CARD_FILE
        with _atomic(card) as fh:
            fh.write(
                render_card(
                    CardInput(
                        snap.project,
                        stats,
                        fmt,
                        data.name,
                        options.status,
                        options.worker_ids,
                        options.media,
                    )
                )
            )
        result.files.append(card)
    return result


def _check_file(target: Path) -> None:
    """Refuse a data file that cannot be written (`unwritable`)."""
    if (why := unwritable(target)) is not None:
        raise ExportError(why)


def unwritable(target: Path) -> str | None:
    """Why no file can be written at `target` (it is a folder, or its folder is not there),
    as one line that says what to do; None: it can."""
    if target.is_dir():
        return f"cannot write {target}: it is a folder; choose another file name"
    folder = target.parent
    if not folder.is_dir():
        why = f"{folder} is a file, not a folder" if folder.exists() else "no such folder"
        todo = "choose another path" if folder.exists() else "create it or choose another path"
        return f"cannot write {target}: {why}; {todo}"
    return None


def _check_folder(target: Path, fmt: str) -> None:
    """Refuse a folder export's place unless it is new, empty or an earlier export."""
    if target.is_symlink():
        raise ExportError(f"{target} is a symbolic link; give the folder itself or a new one")
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target} is a file; give a folder or a {_SUFFIXES[fmt][0]} file")
    here = Path.cwd().resolve()
    if target.resolve() in (here, *here.parents):
        raise ExportError(f"{target} is the current folder or holds it; give a new folder")
    if target.is_dir() and (foreign := _foreign(target)):
        listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ExportError(
            f"{target} is not empty and not an earlier Labelgram export (it holds {listed});"
            " give a new or empty folder, or an earlier export's (it is replaced whole)"
        )


def _foreign(folder: Path) -> list[str]:
    """What in `folder` no Labelgram export wrote: nothing for an empty folder or an earlier
    export (whose every file may go); everything if it holds export names but no card of
    ours (someone's own data.csv is not to be deleted)."""
    names = sorted(p.name for p in folder.iterdir())
    foreign = [n for n in names if n not in EXPORT_NAMES and not _leftover(n)]
    if foreign or not names:
        return foreign
    card = folder / CARD_FILE
    return [] if card.is_file() and is_card(card) else names


def _leftover(name: str) -> bool:
    """A file an interrupted export left (`_atomic`'s temporary name)."""
    return name.startswith(".") and name.endswith(".part")


@contextmanager
def _fresh_folder(target: Path, fmt: str) -> Iterator[Path]:
    """A new folder beside `target` to write an export into, put in `target`'s place (an
    earlier export there goes) when the export is complete, or removed if it fails: no file
    of an earlier export survives beside a new card that would not describe it."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = target.parent / f".{target.name}.partial-{secrets.token_hex(6)}"
        work.mkdir()
    except OSError as exc:
        raise ExportError(
            f"cannot make the folder {target}: {exc.strerror or exc}; choose another path"
        ) from exc
    try:
        yield work
        _swap_in(work, target, fmt)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _swap_in(work: Path, target: Path, fmt: str) -> None:
    """Rename the finished `work` folder to `target`, replacing an earlier export there."""
    if not target.is_dir():
        os.replace(work, target)
        return
    _check_folder(target, fmt)  # files may have been put there while the export ran
    old = target.parent / f".{target.name}.old-{secrets.token_hex(6)}"
    os.replace(target, old)
    try:
        os.replace(work, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_data(
    snap: ExportSnapshot,
    fmt: str,
    target: Path,
    data: Path,
    single: bool,
    options: ExportOptions,
    fetcher: MediaFetcher | None,
    progress: tuple[Callable[[int], None], int],
    result: ExportResult,
) -> None:
    """Write the format's data file(s); `progress`: the ticker and the samples in all."""
    tick, total = progress
    if fmt == "jsonl":
        with _atomic_bytes(data) as fh:
            _write_jsonl(snap, fh, options, fetcher, tick, result)
        result.files.append(data)
    elif fmt == "csv":
        with _atomic(data) as fh:
            _write_csv(snap, fh, options, fetcher, tick, result)
        result.files.append(data)
    elif fmt == "labels":
        known = data.with_name(f"{data.stem}.known.csv") if single else target / KNOWN_FILE
        with _atomic(data) as fh:
            result.counts["labels"] = _write_labels(snap, fh)
        with _atomic(known) as fh:
            result.counts["known"] = _write_known(snap, fh)
        result.files += [data, known]
        tick(total)
    else:
        with _atomic(data) as fh:
            _write_label_studio(snap, fh, options, fetcher, tick, result)
        result.files.append(data)
        if not single:
            config = target / LS_CONFIG_FILE
            with _atomic(config) as fh:
                fh.write(label_config(snap.project, snap.sample_kinds()))
            result.files.append(config)


def _ticker(progress: Progress | None, total: int) -> Callable[[int], None]:
    def tick(done: int) -> None:
        if progress is not None:
            progress(done, total)

    tick(0)
    return tick


@contextmanager
def _atomic(path: Path) -> Iterator[TextIO]:
    """Write `path` via a temporary file beside it, renamed into place on success."""
    with _atomic_bytes(path) as raw:
        fh = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        yield fh
        fh.flush()
        fh.detach()  # the bytes file is closed (and renamed) by _atomic_bytes


@contextmanager
def _atomic_bytes(path: Path) -> Iterator[BinaryIO]:
    """`_atomic` for bytes."""
    tmp = path.with_name(f".{path.name}.part")
    try:
        with tmp.open("wb") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_ahead(batches: Iterator[_T], depth: int = 4) -> Iterator[_T]:
    """The batches of `batches`, read in a thread of their own while the caller writes the
    ones before (SQLite works without the GIL; at most `depth` batches wait, so memory stays
    flat). An exception in the reader comes out here."""
    queue: Queue[tuple[bool, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        queue.put((True, batch), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put((False, None))
        except BaseException as exc:  # handed to the caller, raised there
            queue.put((False, exc))

    reader = threading.Thread(target=read, name="export-reader", daemon=True)
    reader.start()
    try:
        while True:
            more, item = queue.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        reader.join()


def _write_jsonl(
    snap: ExportSnapshot,
    fh: BinaryIO,
    options: ExportOptions,
    fetcher: MediaFetcher | None,
    tick: Callable[[int], None],
    result: ExportResult,
) -> None:
    n = 0
    method = snap.last_method()
    if fetcher is None:
        # Joined into lines in the reader's thread, while this one writes the last batch.
        for count, lines in read_ahead(snap.sample_json_only(options.status, method)):
            fh.write(lines)
            fh.write(b"\n")
            before, n = n, n + count
            if n // PROGRESS_EVERY != before // PROGRESS_EVERY:
                tick(n)
        tick(n)
        result.counts["samples"] = n
        return
    for batch in read_ahead(snap.sample_json(options.status, method)):
        # The data is an object: one more key goes in before its closing brace.
        fh.write(
            b"\n".join(
                row[4][:-1]
                + b',"media_file":'
                + json.dumps(fetcher.fetch(row[0], row[1], row[2], row[3])).encode()
                + b"}"
                for row in batch
            )
        )
        fh.write(b"\n")
        before, n = n, n + len(batch)
        if n // PROGRESS_EVERY != before // PROGRESS_EVERY:
            tick(n)
    tick(n)
    result.counts["samples"] = n


def _write_csv(
    snap: ExportSnapshot,
    fh: TextIO,
    options: ExportOptions,
    fetcher: MediaFetcher | None,
    tick: Callable[[int], None],
    result: ExportResult,
) -> None:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow((*CSV_COLUMNS, "media_file") if fetcher else CSV_COLUMNS)
    n = 0
    for row in snap.sample_rows(options.status):
        sample_id, file_id, ext_id, kind, text, media, answer, confidence, n_labels, status = row[
            :10
        ]
        out = [ext_id, kind, text, media, answer, _round(confidence), n_labels, status, row[11]]
        if fetcher is not None:
            out.append(fetcher.fetch(sample_id, kind, media, file_id))
        writer.writerow(out)
        n += 1
        if n % PROGRESS_EVERY == 0:
            tick(n)
    tick(n)
    result.counts["samples"] = n


def _round(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _write_rows(fh: TextIO, header: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> int:
    """A CSV file of `rows` under `header`; how many rows."""
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    return n


def _write_labels(snap: ExportSnapshot, fh: TextIO) -> int:
    return _write_rows(fh, LABEL_COLUMNS, snap.check_labels())


def _write_known(snap: ExportSnapshot, fh: TextIO) -> int:
    return _write_rows(fh, KNOWN_COLUMNS, snap.known_answers())


def _write_label_studio(
    snap: ExportSnapshot,
    fh: TextIO,
    options: ExportOptions,
    fetcher: MediaFetcher | None,
    tick: Callable[[int], None],
    result: ExportResult,
) -> None:
    # One JSON array written piece by piece: Label Studio imports a list of tasks, and a
    # list never has to be held whole to be written.
    fh.write("[")
    n = annotations = 0
    rows = (row for batch in snap.sample_json(options.status, snap.last_method()) for row in batch)
    for sample_id, kind, media, file_id, text in rows:
        sample = json.loads(text)
        if fetcher is not None:
            sample["media_file"] = fetcher.fetch(sample_id, kind, media, file_id)
        task = ls_task(sample, first_id=annotations + 1)
        annotations += len(task["annotations"])
        fh.write("\n" if n == 0 else ",\n")
        fh.write(json.dumps(task, ensure_ascii=False))
        n += 1
        if n % PROGRESS_EVERY == 0:
            tick(n)
    fh.write("\n]\n")
    tick(n)
    result.counts["samples"] = n
    result.counts["annotations"] = annotations
