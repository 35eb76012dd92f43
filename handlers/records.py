"""The project's records from Telegram: /export (the labels as a file) and /audit (the last
events of the log, with names)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from pathlib import Path

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler

from bot.context import Context
from bot.texts import t
from handlers.common import choose_project, read_managed
from services.audit import event_line
from services.export import FORMATS
from services.export_runner import export_in_child
from storage.audit import AuditQuery, read_events
from storage.export import ExportError
from storage.models import Project

log = logging.getLogger(__name__)

AUDIT_LAST = 20  # events /audit shows
_TEXT_LIMIT = 4096


async def _pick(
    message: Message, lang: str, projects: list[Project], wanted: str | None, usage: str
) -> Project | None:
    """The project a coordinator named (or their only one); None after saying what to do."""
    project = choose_project(projects, wanted)
    if project is None:
        names = ", ".join(p.slug for p in projects)
        if wanted is None:
            await message.reply_text(t(lang, usage, formats=", ".join(FORMATS), projects=names))
        else:
            await message.reply_text(t(lang, "unknown_project", project=wanted, projects=names))
    return project


async def export(update: Update, context: Context) -> None:
    """/export [project] [format]: the project's labels as a zip (data and dataset card),
    made in a child process while labeling goes on."""
    if (got := await read_managed(update, context)) is None:
        return
    message, user, lang, projects = got
    args = list(context.args or [])
    fmt = args.pop() if args and args[-1] in FORMATS else "jsonl"
    if len(args) > 1:
        names = ", ".join(p.slug for p in projects)
        await message.reply_text(
            t(lang, "export_usage", formats=", ".join(FORMATS), projects=names)
        )
        return
    project = await _pick(message, lang, projects, args[0] if args else None, "export_usage")
    if project is None:
        return
    data = context.bot_data
    if await data.inbox.effect(update.update_id, "export") is not None:
        return  # this /export, handled again after a crash: its file was sent
    await message.reply_text(t(lang, "export_started", project=project.name_in(lang), format=fmt))
    name = f"{project.slug}-{fmt}-{time.strftime('%Y%m%d-%H%M')}"
    with tempfile.TemporaryDirectory(prefix="labelgram-export-") as tmp:
        try:
            files = await export_in_child(
                data.settings.db_path, project.slug, fmt, Path(tmp) / name, name
            )
        except ExportError as exc:
            await message.reply_text(t(lang, "export_failed", reason=str(exc)))
            return
        status = await data.repo.project_status(project.id)
        states = status.states
        caption = t(
            lang,
            "export_done",
            project=project.name_in(lang),
            format=fmt,
            done=states.done,
            total=states.work,
            labels=status.labels,
        )
        if len(files) > 1:
            size = sum(f.stat().st_size for f in files) / 2**20
            await message.reply_text(
                t(lang, "export_parts", size=f"{size:.0f}", parts=len(files), name=name)
            )
        for i, path in enumerate(files):
            with path.open("rb") as fh:
                await context.bot.send_document(
                    user.id, fh, filename=path.name, caption=caption if i == 0 else None
                )
    await data.repo.log_event(
        "project.exported",
        actor=user.id,
        project_id=project.id,
        data={"format": fmt, "files": len(files)},
    )
    await data.inbox.record_effect(update.update_id, "export", {"files": len(files)})


async def audit(update: Update, context: Context) -> None:
    """/audit [project] [kind]: the last events of the project's log, with names."""
    if (got := await read_managed(update, context)) is None:
        return
    message, _, lang, projects = got
    args = list(context.args or [])
    names = ", ".join(p.slug for p in projects)
    if len(args) > 2:
        await message.reply_text(t(lang, "audit_usage", projects=names))
        return
    wanted = args[0] if args else None
    kind = args[1] if len(args) == 2 else None
    project = choose_project(projects, wanted)
    if project is None and len(args) == 1 and len(projects) == 1:
        project, kind = projects[0], wanted  # "/audit label" in one's only project: a kind
    if project is None:
        key = "audit_usage" if wanted is None else "unknown_project"
        await message.reply_text(t(lang, key, project=wanted or "", projects=names))
        return
    query = AuditQuery(project_id=project.id, kind=kind, limit=AUDIT_LAST, newest_first=True)
    db_path = context.bot_data.settings.db_path
    events = await asyncio.to_thread(lambda: list(read_events(db_path, query)))
    if not events:
        await message.reply_text(t(lang, "audit_empty", project=project.name_in(lang)))
        return
    lines = [t(lang, "audit_header", n=len(events), project=project.name_in(lang))]
    lines += [event_line(e, project=False) for e in events]
    text = "\n".join(lines)
    with contextlib.suppress(TelegramError):
        await message.reply_text(text[:_TEXT_LIMIT])


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """/export and /audit."""
    return [CommandHandler("export", export), CommandHandler("audit", audit)]
