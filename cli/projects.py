"""A project's end of life from the command line: `labelgram project archive SLUG`,
`unarchive SLUG` and `delete SLUG`.

Archiving is reversible (the project is closed and put away: no cards go out, the bot's
commands leave it alone, exports still work); deleting is not (the project's samples, labels,
cards, reports, members and invites go; the audit log keeps its events and one more saying
so). Both ask for the slug to be typed, or take `--yes` in scripts; both are audited.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from storage.backup import bot_running
from storage.models import Project
from storage.repository import Repository

ACTIONS = ("archive", "unarchive", "delete")
EXIT_USAGE = 2


def add_commands(psub: Any) -> None:
    """The archive, unarchive and delete subcommands of `labelgram project`."""
    for action, text in (
        ("archive", "close a project and put it away (reversible; still exportable)"),
        ("unarchive", "bring an archived project back (closed: /resume reopens it)"),
        ("delete", "delete a project and all its data (for good; the audit log stays)"),
    ):
        parser = psub.add_parser(action, help=text)
        parser.add_argument("project", help="the project's slug (or id)")
        if action != "unarchive":
            parser.add_argument(
                "--yes", action="store_true", help="do not ask (for scripts): the slug is enough"
            )


def _confirm(project: Project, question: str, ask: Callable[[str], str]) -> bool:
    """The slug typed back: the user means this project."""
    print(question)
    try:
        typed = ask(f"Type the project's slug ({project.slug}) to go on: ")
    except EOFError:
        typed = ""
    return typed.strip() == project.slug


async def run(
    repo: Repository, args: argparse.Namespace, ask: Callable[[str], str] | None = None
) -> int:
    """Archive, unarchive or delete a project; the exit code. `ask`: reads the typed slug
    (default: the terminal)."""
    wanted = str(args.project)
    project = await repo.get_project(int(wanted) if wanted.isdigit() else wanted)
    status = await repo.project_status(project.id)
    size = f"{status.states.work + status.states.control:,} samples, {status.labels:,} labels"
    state = await repo.project_state(project.id)
    interactive = ask is not None or sys.stdin.isatty()
    if args.action == "unarchive":
        if state != "archived":
            print(f"project '{project.slug}' is not archived (it is {state}): nothing to do")
            return 0
        await repo.set_project_state(project.id, "closed")
        print(f"project '{project.slug}' unarchived: it is closed; /resume in the bot reopens it")
        return 0
    if args.action == "archive":
        if state == "archived":
            print(f"project '{project.slug}' is archived already: nothing to do")
            return 0
        question = (
            f"Archive '{project.slug}' ({project.name}: {size})? No cards go out any more and"
            " the bot leaves it alone; exports still work; `labelgram project unarchive`"
            " brings it back."
        )
    else:
        if bot_running(repo.path):
            print(
                "labelgram: the bot is running on this database; stop it first (or archive"
                " the project instead: no cards go out, nothing is lost)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        question = (
            f"Delete '{project.slug}' ({project.name}: {size}) for good? Its samples, labels,"
            " cards, reports, members and invites go; the audit log keeps its events. Make a"
            " backup first (`labelgram backup DIR/`) if you may want them."
        )
    if not args.yes:
        if not interactive:
            print(
                f"labelgram: {args.action} asks for the slug to be typed; not a terminal:"
                " add --yes to confirm",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if not _confirm(project, question, ask or input):
            print(f"not the slug: project '{project.slug}' was left as it was")
            return 1
    if args.action == "archive":
        change = await repo.set_project_state(project.id, "archived")
        print(
            f"project '{project.slug}' archived ({change.released} open cards taken back);"
            f" `labelgram export {project.slug}` still works"
        )
        return 0
    labels = await repo.delete_project_data(project.id)
    print(f"project '{project.slug}' deleted ({labels:,} labels); the audit log keeps its events")
    return 0
