"""The `labelgram` command: demo, run, sandbox, project create/list, import."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from config.project import ProjectFileError, load_project_file
from config.settings import ConfigError, Settings, load_settings
from engine.intake import Columns, IntakeError
from engine.media import MediaError
from engine.pipeline import Report
from engine.readers import SourceError
from storage.errors import StorageError
from storage.models import Role
from storage.repository import Repository

EXIT_USAGE = 2
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
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("run", help="run the bot against Telegram (or LABELGRAM_BOT_API_URL)")

    sandbox = sub.add_parser("sandbox", help="serve the sandbox Bot API on 127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8081)

    project = sub.add_parser("project", help="manage projects")
    psub = project.add_subparsers(dest="action", required=True)
    create = psub.add_parser("create", help="create a project from a TOML/YAML file")
    create.add_argument("file", type=Path)
    create.add_argument("--no-import", action="store_true", help="skip the file's data")
    psub.add_parser("list", help="list projects")

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
        "--names",
        default="",
        help="column names, comma-separated (with --no-header, or to rename)",
    )
    imp.add_argument("--no-header", action="store_true", help="the CSV/TSV file has no header row")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.WARNING
    )
    try:
        if args.command == "demo":
            from bot.demo import DemoOptions, run_demo

            return asyncio.run(
                run_demo(
                    DemoOptions(
                        workers=args.workers,
                        samples=args.samples,
                        overlap=args.overlap,
                        seed=args.seed,
                        telegram_limits=args.telegram_limits,
                        quiet=args.quiet,
                        db_path=args.db,
                    )
                )
            )
        if args.command == "sandbox":
            from bot.sandbox.server import main as sandbox_main

            return sandbox_main(["--port", str(args.port)])
        overrides = {"db_path": args.db} if args.db else {}
        settings = load_settings(**overrides)
        if args.command == "run":
            return _run(settings)
        return asyncio.run(_manage(args, settings))
    except (
        ConfigError,
        ProjectFileError,
        IntakeError,
        SourceError,
        MediaError,
        StorageError,
        ValueError,
    ) as exc:
        print(f"labelgram: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _run(settings: Settings) -> int:
    if settings.token is None or not settings.token.get_secret_value().strip():
        print(NO_TOKEN, file=sys.stderr)
        return EXIT_USAGE
    from bot.app import build_application

    logging.getLogger().setLevel(settings.log_level)
    for noisy in ("httpx", "apscheduler"):  # one line per request / per job run otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    repo = Repository(settings.db_path)
    # Open once here so a bad path is one clear line, not a traceback from inside the bot.
    asyncio.run(_check_db(repo))
    app = build_application(settings, repo)
    app.run_polling(allowed_updates=["message", "callback_query"])
    return 0


def _progress(report: Report) -> None:
    """Rows read so far and the rate, on one terminal line."""
    elapsed = time.perf_counter() - report.started
    rate = report.rows / elapsed if elapsed > 0 else 0.0
    sys.stderr.write(f"\r  {report.rows:,} rows read, {report.kept:,} kept  {rate:,.0f} rows/s")
    sys.stderr.flush()


async def _check_db(repo: Repository) -> None:
    await repo.open()
    await repo.close()


async def _manage(args: argparse.Namespace, settings: Settings) -> int:
    from bot.importing import import_file

    async with Repository(settings.db_path) as repo:
        if args.command == "project" and args.action == "list":
            for p in await repo.list_projects():
                status = await repo.project_status(p.id)
                done = f"{status.samples_done}/{status.samples}"
                print(f"{p.id:>4}  {p.slug:<24} {done:>13} done  {p.name}")
            return 0
        if args.command == "project":
            spec = load_project_file(args.file)
            project = await repo.create_project(spec)
            print(f"created project '{project.slug}' (id {project.id})")
            if spec.data is not None and not args.no_import:
                report = await import_file(repo, project.id, spec.data)
                print(report.summary())
            code = await repo.create_invite(project.id, Role.WORKER)
            print(
                f"worker invite: send `/start {code}` to the bot, or share "
                f"https://t.me/<your_bot>?start={code}"
            )
            return 0
        project = await repo.get_project(
            int(args.project) if args.project.isdigit() else args.project
        )
        columns = Columns(
            text=args.text_col, media=args.media_col, id=args.id_col, truth=args.gold_col
        )
        meta = tuple(c.strip() for c in args.meta_cols.split(",") if c.strip())
        live = sys.stderr.isatty()
        report = await import_file(
            repo,
            project.id,
            args.datafile,
            columns,
            meta_columns=meta,
            header=not args.no_header,
            column_names=tuple(n.strip() for n in args.names.split(",") if n.strip()) or None,
            dry_run=args.dry_run,
            progress=_progress if live else None,
        )
        if live:
            sys.stderr.write("\n")
        print(report.summary())
        return 0
