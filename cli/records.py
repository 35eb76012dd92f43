"""The command line's records commands: export, audit, backup, restore, `project update`."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from config.project import load_project_file
from config.settings import Settings
from services.audit import event_json, event_line
from storage.audit import AuditQuery, event_kinds, read_events
from storage.backup import backup, problems, restore
from storage.errors import DatabaseUnavailable
from storage.export import ExportError
from storage.repository import Repository

COMMANDS = ("export", "audit", "backup", "restore")
_AGO = re.compile(r"^(\d+(?:\.\d+)?)([mhd])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def add_export(sub: Any) -> None:
    """The export subcommand."""
    exp = sub.add_parser(
        "export",
        help="write a project's samples, labels and decisions to files",
        description="Export a project (one consistent snapshot, while labeling goes on). -o"
        " with the format's suffix (.jsonl, .csv, .json) writes one data file, in a folder"
        " that exists; otherwise a folder with the data, a dataset card (README.md) and,"
        " with --with-media, the media. A folder export is written beside its place and"
        " swapped in when complete: it replaces an earlier export there whole (no file of"
        " it is left), and refuses a folder holding anything else.",
    )
    exp.add_argument("project", help="project slug or id")
    exp.add_argument(
        "--format",
        default="jsonl",
        metavar="FORMAT",
        help="jsonl (default: everything, one sample per line), csv (one row per sample),"
        " labels (worker,task,label for `labelgram aggregate`, plus the known answers),"
        " label-studio (Label Studio task JSON)",
    )
    exp.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="PATH",
        help="file or folder (default: SLUG-export; an earlier export there is replaced)",
    )
    exp.add_argument(
        "--status",
        default="all",
        metavar="done|all",
        help="all samples (default), or only those whose answer is settled",
    )
    exp.add_argument(
        "--with-worker-ids",
        action="store_true",
        help="Telegram user ids instead of pseudonyms (personal data: the project's own use)",
    )
    exp.add_argument(
        "--with-media",
        action="store_true",
        help="write the samples' media files into the export folder",
    )
    exp.add_argument("--quiet", action="store_true", help="no progress bar")


def add_commands(sub: Any) -> None:
    """The audit, backup and restore subcommands."""
    audit = sub.add_parser(
        "audit",
        help="the audit log: who did what, and when",
        description="The audit log. People appear under the pseudonyms the project's exports"
        " give them (someone: an event outside any project, or of a deleted one), unless"
        " --with-worker-ids.",
    )
    audit.add_argument("project", nargs="?", help="project slug or id (default: all)")
    audit.add_argument(
        "--since", help="from this time on: 2026-12-01, '2026-12-01 09:30', or 2h, 3d (ago)"
    )
    audit.add_argument("--worker", type=int, help="events by or about this Telegram user id")
    audit.add_argument("--kind", help="a kind or its family, e.g. label or worker.suspended")
    audit.add_argument("--format", choices=("text", "jsonl"), default="text")
    audit.add_argument("--limit", type=int, help="at most this many events")
    audit.add_argument("--newest-first", action="store_true")
    audit.add_argument(
        "--with-worker-ids",
        action="store_true",
        help="Telegram user ids, names and usernames instead of pseudonyms (personal data:"
        " the project's own use)",
    )

    bak = sub.add_parser("backup", help="a checked copy of the database, also while the bot runs")
    bak.add_argument("path", help="the backup file, or a folder (ending in /) for a dated one")

    res = sub.add_parser("restore", help="put a backup in place of the database (bot stopped)")
    res.add_argument("path", type=Path, help="the backup file")
    res.add_argument(
        "--force",
        action="store_true",
        help="restore although the database's heartbeat is recent (the bot just crashed)",
    )


def add_project_update(psub: Any) -> None:
    """`labelgram project update FILE`."""
    update = psub.add_parser("update", help="apply a changed project file to its project")
    update.add_argument("file", type=Path)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run export, audit, backup or restore; the exit code."""
    if args.command == "export":
        return _export(args, settings)
    if args.command == "audit":
        return _audit(args, settings)
    if args.command == "backup":
        made = backup(settings.db_path, args.path)
        print(
            f"backup {made.path}: {made.size / 2**20:,.1f} MB in {made.seconds:.1f} s,"
            " checked (integrity, counters)"
        )
        print(f"restore it with: labelgram --db {settings.db_path} restore {made.path}")
        return 0
    kept = restore(args.path, settings.db_path, force=args.force)
    if kept is not None:
        print(f"the database it replaced is kept as {kept}")
    found = problems(settings.db_path)
    print(f"restored {args.path} into {settings.db_path}; check: {'; '.join(found) or 'ok'}")
    return 0


async def project_update(repo: Repository, file: Path) -> int:
    """Apply a changed project file; print what changed."""
    spec = load_project_file(file)
    update = await repo.update_project(spec)
    if not update.changed:
        print(f"project '{spec.slug}': nothing changed")
        return 0
    print(f"project '{spec.slug}' updated: {', '.join(update.changed)}")
    if update.guide_version is not None:
        print(f"  the guide is now version {update.guide_version} (labels keep theirs)")
    if update.options_added:
        print(f"  new options: {', '.join(update.options_added)}")
    if update.options_removed:
        print(f"  removed options (never used): {', '.join(update.options_removed)}")
    if update.released:
        print(f"  {update.released} cards on screen were renewed (the buttons moved)")
    if update.retargeted:
        print(f"  {update.retargeted} samples not decided yet now want {spec.overlap} labels")
    print("  a running bot applies it within seconds")
    return 0


def parse_since(text: str, now: float | None = None) -> float:
    """A time given as a date, a date and time, or an age (2h, 3d, 30m ago)."""
    now = time.time() if now is None else now
    if match := _AGO.match(text.strip()):
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give a date (2026-12-01), a date and time ('2026-12-01 09:30')"
            " or an age (30m, 2h, 3d)"
        ) from None


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.db_path.is_file():  # not made by reading it (as opening one would)
        raise DatabaseUnavailable(
            f"no database at {settings.db_path}; give --db or LABELGRAM_DB_PATH"
        )
    masked = not args.with_worker_ids
    project_id = None
    if args.project:
        project_id = asyncio.run(_project_id(settings.db_path, args.project))
    query = AuditQuery(
        project_id=project_id,
        since=parse_since(args.since) if args.since else None,
        worker=args.worker,
        kind=args.kind,
        limit=args.limit,
        newest_first=args.newest_first,
    )
    shown = 0
    for event in read_events(settings.db_path, query):
        if args.format == "jsonl":
            record = event_json(event, pseudonyms=masked)
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            line = event_line(event, project=project_id is None, pseudonyms=masked)
            sys.stdout.write(line + "\n")
        shown += 1
    if shown == 0 and args.kind:
        kinds = event_kinds(settings.db_path)
        if not any(k == args.kind or k.startswith(f"{args.kind}.") for k in kinds):
            raise ValueError(f"no event of kind {args.kind!r}; kinds: {', '.join(kinds)}")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from services.export import ExportOptions, check_choice, export_project
    from services.export_media import MediaSource

    # Refused before the database is touched (and before a folder is made).
    check_choice(args.format, args.status)
    if not settings.db_path.is_file():
        raise ExportError(f"no database at {settings.db_path}; give --db or LABELGRAM_DB_PATH")
    # Opening it once brings an older database's schema up to date (the export secrets).
    asyncio.run(_open_once(settings.db_path))
    token = settings.token.get_secret_value().strip() if settings.token else ""
    source = MediaSource(settings.bot_api_url, settings.file_url, token) if token else None
    options = ExportOptions(
        status=args.status,
        worker_ids=args.with_worker_ids,
        media=args.with_media,
        source=source,
    )
    bar = ExportBar() if sys.stderr.isatty() and not args.quiet else None
    try:
        result = export_project(
            settings.db_path, args.project, args.format, args.output, options, progress=bar
        )
    finally:  # a refusal's line starts on a line of its own
        if bar is not None:
            bar.finish()
    for path in result.files:
        print(path)
    counts = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in result.counts.items())
    print(f"exported {counts}", file=sys.stderr)
    for warning in result.warnings:
        # A media fetch's message could hold a URL, and Telegram's file URLs hold the token.
        shown = warning.replace(token, "<token>") if token else warning
        print(f"labelgram: {shown}", file=sys.stderr)
    return 0


class ExportBar:
    """`[#####.....] 12,000/50,000 samples` redrawn on one terminal line (stderr)."""

    WIDTH = 30

    def __init__(self) -> None:
        self.last = -1.0
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        """Redraw at most ten times a second, and at the end."""
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        filled = self.WIDTH * done // total if total else self.WIDTH
        bar = "#" * filled + "." * (self.WIDTH - filled)
        sys.stderr.write(f"\r  [{bar}] {done:,}/{total:,} samples")
        sys.stderr.flush()
        self.drawn = True

    def finish(self) -> None:
        """End the bar's line."""
        if self.drawn:
            sys.stderr.write("\n")


async def _open_once(db_path: Path) -> None:
    async with Repository(db_path):
        pass


async def _project_id(db_path: Path, key: str) -> int:
    """A project's id by slug or id (NotFound says how to list them)."""
    async with Repository(db_path) as repo:
        return (await repo.get_project(int(key) if key.isdigit() else key)).id
