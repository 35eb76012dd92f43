"""`labelgram workers report PROJECT`: the work report per worker for a period, as CSV.

The same report as the bot's /workreport (`services.workreport`): labels, labels kept after
the quality rules, gold accuracy and time spent per worker, with amounts when the project
file sets `pay_per_label`. It names people, to pay them: keep the file private.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from config.settings import Settings
from services.export import unwritable
from services.workreport import build_report, default_period, parse_day
from storage.errors import DatabaseUnavailable
from storage.repository import Repository

COMMANDS = ("workers",)


def add_commands(sub: Any) -> None:
    """The `workers` command and its `report` action."""
    workers = sub.add_parser("workers", help="the workers of a project: their work report")
    wsub = workers.add_subparsers(dest="action", required=True)
    report = wsub.add_parser(
        "report",
        help="per worker for a period: labels, kept labels, gold accuracy, time, amounts (CSV)",
        description=(
            "The work report, for paying a crowd. It names people (Telegram id, name,"
            " username): keep it private. Days are in the project's time zone; --until is"
            " included. Default: this month so far."
        ),
    )
    report.add_argument("project", help="project slug or id")
    report.add_argument("--since", help="first day, YYYY-MM-DD (default: the 1st of this month)")
    report.add_argument("--until", help="last day, YYYY-MM-DD, included (default: today)")
    report.add_argument("-o", "--output", type=Path, help="the CSV file (default: stdout)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run `workers report`; the exit code."""
    if not settings.db_path.is_file():  # not made by reading it (as opening one would)
        raise DatabaseUnavailable(
            f"no database at {settings.db_path}; give --db or LABELGRAM_DB_PATH"
        )
    if args.output is not None:  # refused before the report is built, not after
        _check_output(args.output)
    return asyncio.run(_report(args, settings.db_path))


def _check_output(path: Path) -> None:
    """Refuse an output file that cannot be written (`services.export.unwritable`)."""
    if (why := unwritable(path)) is not None:
        raise ValueError(why)


async def _report(args: argparse.Namespace, db_path: Path) -> int:
    async with Repository(db_path) as repo:
        key = args.project
        project = await repo.get_project(int(key) if key.isdigit() else key)
        spec = await repo.project_spec(project.id)
        since, until = default_period(spec.timezone, time.time())
        if args.since:
            since = parse_day(args.since)
        if args.until:
            until = parse_day(args.until)
        report = await build_report(repo, project.id, since, until)
    if args.output is None:
        sys.stdout.write(report.csv.decode("utf-8-sig"))
    else:
        try:
            args.output.write_bytes(report.csv)
        except OSError as exc:
            raise ValueError(
                f"cannot write {args.output}: {exc.strerror or exc}; choose another path"
            ) from exc
    amount = ""
    if report.amount is not None:
        amount = f"; to pay: {report.amount:,.2f} {report.currency or ''}".rstrip()
    print(
        f"work report of '{project.slug}', {since} to {until} ({report.timezone}):"
        f" {len(report.rows)} workers, {report.labels} labels, {report.kept} kept{amount}"
        + (f"; written to {args.output}" if args.output else ""),
        file=sys.stderr,
    )
    return 0
