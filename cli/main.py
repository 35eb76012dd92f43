"""The `labelgram` command: demo, run, sandbox, project create/list, import, aggregate,
export."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import re
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cli import projects, records, workers
from cli.aggregate import (
    LabelFileError,
    gold_accuracy,
    read_gold,
    read_labels,
    with_known,
    write_consensus,
    write_consensus_file,
)
from config.project import ProjectFileError, ProjectSpec, load_project_file
from config.settings import ConfigError, Settings, load_settings
from intake.columns import Columns, IntakeError
from intake.estimate import estimate_rows
from intake.media import MediaError
from intake.pipeline import Report
from intake.readers import SourceError
from quality.aggregate import METHODS, aggregate
from storage.errors import StorageError
from storage.export import ExportError
from storage.models import Project, Role
from storage.projects import INVITE_DEFAULTS
from storage.repository import Repository

EXIT_USAGE = 2  # the exit code of every refusal: a mistake the user can fix, said in one line
BAD_TOKEN = (
    "labelgram: the Bot API at {url} refused the bot token. Copy the token again from "
    "@BotFather (/mybots → API Token) into LABELGRAM_TOKEN; if you set LABELGRAM_BOT_API_URL, "
    "check that it points at a Bot API server and ends in /bot."
)
NO_NETWORK = (
    "labelgram: cannot reach the Bot API at {url} ({reason}). Check the network connection, "
    "and LABELGRAM_BOT_API_URL if you set it (default https://api.telegram.org/bot)."
)
NO_TOKEN = (
    "labelgram: no bot token. Get one from @BotFather in Telegram and set LABELGRAM_TOKEN "
    "(or token in .env / labelgram.toml) — or try `labelgram demo`, which needs no token."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labelgram", description="Crowd data labeling in Telegram."
    )
    parser.add_argument("--db", type=Path, help="database file (default: LABELGRAM_DB_PATH)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole job against a local sandbox, no token")
    demo.add_argument("--workers", type=int, default=12, help="simulated workers (default 12)")
    demo.add_argument("--samples", type=int, default=200, help="samples to label (default 200)")
    demo.add_argument("--overlap", type=int, default=None, help="labels per sample (default 3)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the crowd")
    demo.add_argument(
        "--telegram-limits",
        action="store_true",
        help="make the sandbox enforce Telegram's 30 messages/s (slower, realistic)",
    )
    demo.add_argument(
        "--card-flow",
        choices=("edit", "new"),
        default=None,
        help="next card in place of the answered one (edit) or as a new message (new)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("run", help="run the bot against Telegram (or LABELGRAM_BOT_API_URL)")

    sandbox = sub.add_parser("sandbox", help="serve the sandbox Bot API on 127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8081)
    sandbox.add_argument(
        "--limits",
        default="telegram",
        metavar="off|telegram|N/s",
        help="flood limits: Telegram's (default: 30 messages/s, 1/s per chat), none, "
        "or a global N messages/s without a per-chat limit",
    )

    project = sub.add_parser("project", help="manage projects")
    psub = project.add_subparsers(dest="action", required=True)
    create = psub.add_parser("create", help="create a project from a TOML/YAML file")
    create.add_argument("file", type=Path)
    create.add_argument("--no-import", action="store_true", help="skip the file's data")
    psub.add_parser("list", help="list projects")
    records.add_project_update(psub)
    projects.add_commands(psub)

    imp = sub.add_parser("import", help="import a CSV/TSV/JSONL data file into a project")
    imp.add_argument("project", help="project slug or id")
    imp.add_argument("datafile", type=Path)
    imp.add_argument("--text-col")
    imp.add_argument("--media-col")
    imp.add_argument("--id-col")
    imp.add_argument("--gold-col")
    imp.add_argument("--meta-cols", default="", help="extra columns to keep, comma-separated")
    imp.add_argument("--dry-run", action="store_true", help="show the report, write nothing")
    imp.add_argument(
        "--no-url-check",
        action="store_true",
        help="accept http(s) media unchecked (no network here); by default each URL's first"
        " bytes are fetched to check it is reachable, real media and within Telegram's limits",
    )
    imp.add_argument(
        "--names",
        default="",
        help="column names, comma-separated (with --no-header, or to rename)",
    )
    imp.add_argument("--no-header", action="store_true", help="the CSV/TSV file has no header row")

    agg = sub.add_parser(
        "aggregate",
        help="consensus labels from a worker,task,label CSV",
        description="Aggregate crowd labels (a CSV or TSV with worker, task and label "
        "columns) into one label per task; writes task,label,confidence,n_labels.",
    )
    agg.add_argument("labels", type=Path, metavar="LABELS.csv")
    agg.add_argument(
        "--method", choices=METHODS, default="auto", help="consensus method (default: auto)"
    )
    agg.add_argument(
        "--gold",
        type=Path,
        metavar="GOLD.csv",
        help="task,label answers to score the consensus against (not used to compute it)",
    )
    agg.add_argument(
        "--known",
        type=Path,
        metavar="KNOWN.csv",
        help="task,label answers held fixed in the fit, as the bot's check holds gold answers"
        " and reviewers' decisions (`export --format labels` writes them)",
    )
    agg.add_argument(
        "--classes",
        metavar="A,B,...",
        help="the classes in order, which breaks ties (default: sorted by name); the bot's"
        " option order reproduces its check",
    )
    agg.add_argument(
        "-o", "--output", type=Path, metavar="OUT.csv", help="output file (default: stdout)"
    )

    records.add_export(sub)
    records.add_commands(sub)
    workers.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.WARNING
    )
    secret = ""  # the bot token, once known: never printed
    db_path: Path | None = args.db
    try:
        if args.command == "demo":
            from cli.demo import DemoOptions, run_demo

            return asyncio.run(
                run_demo(
                    DemoOptions(
                        workers=args.workers,
                        samples=args.samples,
                        overlap=args.overlap,
                        seed=args.seed,
                        telegram_limits=args.telegram_limits,
                        card_flow=args.card_flow,
                        quiet=args.quiet,
                        db_path=args.db,
                    )
                )
            )
        if args.command == "aggregate":
            return _aggregate(
                args.labels, args.method, args.gold, args.output, args.known, args.classes
            )
        if args.command == "sandbox":
            from sandbox.server import RateLimits
            from sandbox.server import serve as serve_sandbox

            # A bad --limits is a ValueError: one line below, exit code 2.
            limits = RateLimits.parse(args.limits)
            return serve_sandbox(port=args.port, limits=limits, prog="labelgram")
        overrides = {"db_path": args.db} if args.db else {}
        settings = load_settings(**overrides)
        secret = settings.token.get_secret_value().strip() if settings.token else ""
        db_path = settings.db_path
        if args.command == "run":
            return _run(settings)
        if args.command in records.COMMANDS:
            return records.run(args, settings)
        if args.command in workers.COMMANDS:
            return workers.run(args, settings)
        return asyncio.run(_manage(args, settings))
    except (
        ConfigError,
        ProjectFileError,
        IntakeError,
        SourceError,
        MediaError,
        StorageError,
        LabelFileError,
        ExportError,
        ValueError,
    ) as exc:
        return refuse(str(exc), secret)
    except OSError as exc:  # a path that cannot be used: a missing folder, a file in the way
        return refuse(os_error_line(exc), secret)
    except sqlite3.Error as exc:  # what the storage layer did not turn into a StorageError
        return refuse(database_error_line(exc, db_path), secret)
    except KeyboardInterrupt:
        return 130


def refuse(message: str, secret: str = "") -> int:
    """Print `labelgram: <message>` (without the token) on stderr; the refusals' exit code."""
    line = f"labelgram: {message}"
    print(line.replace(secret, "<token>") if secret else line, file=sys.stderr)
    return EXIT_USAGE


# A temporary name beside a file or folder being written (`.NAME.part`, `.NAME.partial-3fa2`,
# `.NAME.old-3fa2`): the user knows the NAME they gave.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?:part|partial|partial-[0-9a-f]+|old-[0-9a-f]+)$")


def os_error_line(exc: OSError) -> str:
    """An OSError as one line: the path the user gave, what is wrong with it, what to do."""
    if exc.filename is None:  # not about a file (a port in use, a refused connection)
        return f"{exc.strerror or exc}"
    path = Path(os.fsdecode(exc.filename))
    if match := _TEMPORARY.match(path.name):
        path = path.with_name(match["name"])
    if isinstance(exc, FileNotFoundError):
        if not path.parent.is_dir():
            return (
                f"cannot use {path}: no such folder {path.parent}; create it or choose"
                " another path"
            )
        return f"no such file {path}; check the path"
    if isinstance(exc, FileExistsError | NotADirectoryError):
        # A file where a folder is needed: `backup FILE/`, `-o FILE/name`.
        file = next((p for p in (path, *path.parents) if p.is_file()), None)
        if file == path:
            return f"{path} is a file, not a folder; give a folder or another path"
        if file is not None:
            return f"cannot use {path}: {file} is a file, not a folder; choose another path"
        return f"{path} exists already; choose another path"
    if isinstance(exc, IsADirectoryError):
        return f"cannot use {path}: it is a folder; give a file name"
    if isinstance(exc, PermissionError):
        return f"cannot use {path}: permission denied; choose a path you may read and write"
    if exc.errno == errno.ENOSPC:
        return f"cannot write {path}: the disk is full; free some space or choose another disk"
    return f"cannot use {path}: {exc.strerror or exc}; check the path"


def database_error_line(exc: sqlite3.Error, db_path: Path | None) -> str:
    """A database error SQLite raised as one line saying which database and what to do."""
    if db_path is None:
        return f"database error: {exc}"
    return (
        f"cannot use the database {db_path} ({exc}); check that --db or LABELGRAM_DB_PATH"
        " names a Labelgram database you may write"
    )


def _run(settings: Settings) -> int:
    if settings.token is None or not settings.token.get_secret_value().strip():
        print(NO_TOKEN, file=sys.stderr)
        return EXIT_USAGE
    from telegram.error import InvalidToken, NetworkError

    from app import build_application, serve

    secret = settings.token.get_secret_value()
    logging.getLogger().setLevel(settings.log_level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecret(secret))
    for noisy in ("httpx", "apscheduler"):  # one line per request / per job run otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    repo = Repository(settings.db_path)
    # Open once here so a bad path is one clear line, not a traceback from inside the bot.
    asyncio.run(_check_db(repo))
    app = build_application(settings, repo)
    try:
        asyncio.run(serve(app, poll_timeout=settings.poll_timeout))
    except InvalidToken:
        # PTB's own message holds the token: never print it.
        print(BAD_TOKEN.format(url=settings.bot_api_url), file=sys.stderr)
        return EXIT_USAGE
    except NetworkError as exc:
        reason = str(exc).replace(secret, "<token>")
        print(NO_NETWORK.format(url=settings.bot_api_url, reason=reason), file=sys.stderr)
        return EXIT_USAGE
    return 0


class RedactSecret(logging.Filter):
    """Replace a secret (the bot token) wherever it would reach a log line."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        """Format the record's message now, without the secret (tracebacks included)."""
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "<token>"), None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if self.secret in text:
                record.exc_text = text.replace(self.secret, "<token>")
        return True


def _aggregate(
    labels_path: Path,
    method: str,
    gold_path: Path | None,
    out: Path | None,
    known_path: Path | None = None,
    classes_arg: str | None = None,
) -> int:
    classes = None
    if classes_arg is not None:
        classes = [c.strip() for c in classes_arg.split(",") if c.strip()]
        if not classes or len(set(classes)) != len(classes):
            raise ValueError("--classes must name each class once, comma-separated")
    labels = read_labels(labels_path, classes)
    # Read before the (possibly long) fit, so a bad gold file is reported at once.
    gold = read_gold(gold_path) if gold_path is not None else None
    known = None
    if known_path is not None:
        labels, known = with_known(labels, read_gold(known_path), known_path)
        if gold is not None:
            # An answer the model was handed says nothing about its accuracy.
            fixed = {labels.tasks[i] for i in np.flatnonzero(known >= 0).tolist()}
            gold = {task: answer for task, answer in gold.items() if task not in fixed}
    # Gold is deliberately not passed as `known`: the accuracy would then be measured on
    # answers the model was handed.
    consensus = aggregate(labels, method, known=known)
    if out is None:
        write_consensus(sys.stdout, labels, consensus)
    else:
        write_consensus_file(out, labels, consensus)
    print(
        f"{labels.n:,} labels by {labels.n_workers:,} workers on {labels.n_tasks:,} tasks, "
        f"{labels.n_classes} classes; method {consensus.method}",
        file=sys.stderr,
    )
    if consensus.choice:  # auto: which method it chose and why, one line
        print(consensus.choice, file=sys.stderr)
    if gold is not None:
        score = gold_accuracy(labels, consensus, gold)
        skipped = f" ({score.unlabelled:,} gold tasks without labels)" if score.unlabelled else ""
        if score.scored:
            print(
                f"accuracy on {score.scored:,} gold tasks: {score.accuracy:.2%}{skipped}",
                file=sys.stderr,
            )
        else:
            print(f"no gold task has labels; accuracy not computed{skipped}", file=sys.stderr)
    return 0


def format_eta(seconds: float) -> str:
    """0:12, 12:05 or 1:02:05 (hours only when needed)."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def eta_seconds(rows: int, elapsed: float, total_rows: float | None) -> float | None:
    """Seconds left at the rate so far; None when unknown (no estimate, or already past it)."""
    if total_rows is None or rows <= 0 or elapsed <= 0 or rows > total_rows:
        return None
    return (total_rows - rows) * elapsed / rows


def progress_line(rows: int, kept: int, elapsed: float, total_rows: float | None) -> str:
    """`123,456 rows read, 120,000 kept  45,678 rows/s  ETA 0:12` (no ETA when unknown)."""
    rate = rows / elapsed if elapsed > 0 else 0.0
    line = f"{rows:,} rows read, {kept:,} kept  {rate:,.0f} rows/s"
    eta = eta_seconds(rows, elapsed, total_rows)
    return line if eta is None else f"{line}  ETA {format_eta(eta)}"


class _Progress:
    """Rows read so far, the rate and an ETA, redrawn on one terminal line."""

    def __init__(self, total_rows: float | None) -> None:
        self.total_rows = total_rows
        self.width = 0

    def __call__(self, report: Report) -> None:
        # Called on the event loop while the pipeline thread fills the report: only reads.
        elapsed = time.perf_counter() - report.started
        line = "  " + progress_line(report.rows, report.kept, elapsed, self.total_rows)
        sys.stderr.write("\r" + line.ljust(self.width))  # ljust: erase a longer last line
        sys.stderr.flush()
        self.width = len(line)


async def _check_db(repo: Repository) -> None:
    await repo.open()
    await repo.close()


async def _create_with_data(
    repo: Repository, spec: ProjectSpec, data: Path, project_file: Path
) -> Project | None:
    """Create the project and import its data file together; None (and why) if the file fails.

    The project is stored in the transaction that publishes the import: a data file that
    fails leaves nothing behind, so the same command works once the file is fixed.
    """
    from services.importing import import_file

    try:
        async with repo.project_draft(spec) as draft:
            report = await import_file(repo, draft.id, data)
    except (IntakeError, SourceError, MediaError, ValueError) as exc:
        print(f"labelgram: {exc}", file=sys.stderr)
        print(
            f"labelgram: project '{spec.slug}' was not created; fix {data.name} and run"
            f" `labelgram project create {project_file}` again",
            file=sys.stderr,
        )
        return None
    project = await repo.get_project(draft.id)
    print(f"created project '{project.slug}' (id {project.id})")
    print(report.summary())
    return project


async def _manage(args: argparse.Namespace, settings: Settings) -> int:
    from services.importing import import_file

    async with Repository(settings.db_path) as repo:
        if args.command == "project" and args.action == "update":
            return await records.project_update(repo, args.file)
        if args.command == "project" and args.action in projects.ACTIONS:
            return await projects.run(repo, args)
        if args.command == "project" and args.action == "list":
            if not await repo.list_projects():
                print("no projects yet: create one with `labelgram project create FILE`")
            for p in await repo.list_projects():
                status = await repo.project_status(p.id)
                done = f"{status.states.done}/{status.states.work}"
                control = f" (+{status.states.control} control)" if status.states.control else ""
                state = await repo.project_state(p.id)
                life = f" [{state}]" if state != "active" else ""
                print(f"{p.id:>4}  {p.slug:<24} {done:>13} done  {p.name}{control}{life}")
            return 0
        if args.command == "project":
            spec = load_project_file(args.file)
            if spec.data is None or args.no_import:
                project = await repo.create_project(spec)
                print(f"created project '{project.slug}' (id {project.id})")
            elif (created := await _create_with_data(repo, spec, spec.data, args.file)) is None:
                return EXIT_USAGE
            else:
                project = created
            code = await repo.create_invite(project.id, Role.WORKER)
            print(
                f"worker invite: send `/start {code}` to the bot, or share "
                f"https://t.me/<your_bot>?start={code}"
                f" (valid {INVITE_DEFAULTS[Role.WORKER][0]:g} days, any number of people;"
                " /invite in the bot makes more,"
                " /invites lists and revokes them)"
            )
            return 0
        project = await repo.get_project(
            int(args.project) if args.project.isdigit() else args.project
        )
        columns = Columns(
            text=args.text_col, media=args.media_col, id=args.id_col, truth=args.gold_col
        )
        meta = tuple(c.strip() for c in args.meta_cols.split(",") if c.strip())
        names = tuple(n.strip() for n in args.names.split(",") if n.strip()) or None
        live = sys.stderr.isatty()
        progress = None
        if live:
            total = await asyncio.to_thread(
                estimate_rows,
                args.datafile,
                header=not args.no_header,
                column_names=list(names) if names else None,
            )
            progress = _Progress(total)
        report = await import_file(
            repo,
            project.id,
            args.datafile,
            columns,
            meta_columns=meta,
            header=not args.no_header,
            column_names=names,
            dry_run=args.dry_run,
            check_urls=not args.no_url_check,
            progress=progress,
        )
        if live:
            sys.stderr.write("\n")
        print(report.summary())
        return 0
