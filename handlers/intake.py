"""Coordinators send a data file to the bot: it is imported with the same pipeline as the CLI."""

from __future__ import annotations

import io
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from telegram import Update
from telegram.ext import BaseHandler, MessageHandler, filters

from bot.context import Context, lang_of
from bot.outbox import COMPOSING
from bot.reports import refusal_text, report_text
from bot.texts import t
from handlers.common import choose_project, managed_projects
from intake.columns import Columns, IntakeError
from intake.media import MediaError
from intake.readers import SUPPORTED, SourceError
from services.importing import import_file
from storage.models import Project

log = logging.getLogger(__name__)

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # Telegram lets bots download files up to 20 MB
UPLOAD_PREFIX = "labelgram-upload-"
STALE_UPLOAD_SECONDS = 3600.0
"""An upload folder this old was left by a bot that died mid-import; the next upload sweeps it."""
_CAPTION_KEYS = {"text": "text", "media": "media", "id": "id", "gold": "truth"}


@dataclass(frozen=True)
class Caption:
    """What an upload's caption asks: the project (slug or id) and the column mapping."""

    columns: Columns
    meta: tuple[str, ...] = ()
    project: str | None = None


def parse_caption(caption: str | None) -> Caption:
    """Read a caption like `project=reviews text=review gold=answer meta=lang,source`.

    Raises ValueError with the token it does not understand.
    """
    found: dict[str, str] = {}
    meta: tuple[str, ...] = ()
    project: str | None = None
    for token in (caption or "").split():
        key, sep, value = token.partition("=")
        if not sep or not value:
            raise ValueError(token)
        if key == "meta":
            meta = tuple(v for v in value.split(",") if v)
        elif key == "project":
            project = value
        elif key in _CAPTION_KEYS:
            found[_CAPTION_KEYS[key]] = value
        else:
            raise ValueError(token)
    return Caption(Columns(**found), meta, project)


async def _target(context: Context, user_id: int, wanted: str | None) -> Project | str:
    """The project an upload goes to, or the key of the text that says why none.

    The one the caption names (among the projects the sender manages: all for an admin,
    who need not join one); else the sender's current project if they manage it; else
    their only managed project.
    """
    data = context.bot_data
    projects = await managed_projects(context, user_id)
    if not projects:
        return "no_projects" if data.is_admin(user_id) else "import_not_allowed"
    if wanted is not None:
        chosen = choose_project(projects, wanted)
        return chosen if chosen is not None else "import_unknown_project"
    worker = await data.repo.get_worker(user_id)
    current = worker.current_project_id if worker else None
    chosen = next((p for p in projects if p.id == current), None)
    if chosen is None and len(projects) == 1:
        chosen = projects[0]
    return chosen if chosen is not None else "import_which_project"


async def upload(update: Update, context: Context) -> None:
    """Import a document into the project its caption names (or the sender's current one);
    coordinators of that project and admins only. Reply with the report."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.document is None:
        return
    lang = await lang_of(context, user)
    repo = context.bot_data.repo
    try:
        caption = parse_caption(message.caption)
    except ValueError as exc:
        await message.reply_text(t(lang, "import_bad_caption", token=str(exc)[:200]))
        return
    target = await _target(context, user.id, caption.project)
    if isinstance(target, str):
        names = ", ".join(p.slug for p in await managed_projects(context, user.id)) or "-"
        project_name = (caption.project or "")[:64]
        await message.reply_text(t(lang, target, projects=names, project=project_name)[:4096])
        return
    project_id = target.id
    state = await repo.project_state(project_id)
    if state in ("closed", "archived"):  # read-only; an archived one changes from the CLI only
        key = "import_closed" if state == "closed" else "life_archived"
        await message.reply_text(t(lang, key, project=target.name_in(lang)))
        return
    doc = message.document
    name = Path(doc.file_name or "upload.csv").name
    if Path(name).suffix.lower() not in SUPPORTED:
        await message.reply_text(t(lang, "import_bad_type", types=" ".join(SUPPORTED)))
        return
    if doc.file_size is not None and doc.file_size > DOWNLOAD_LIMIT:
        await message.reply_text(t(lang, "import_too_big"))
        return
    columns, meta = caption.columns, caption.meta
    inbox = context.bot_data.inbox
    done = await inbox.effect(update.update_id, "import")
    if done is not None:
        # The same upload again (a replay after a crash): the report, not a second import.
        await message.reply_text(str(done))
        return
    sweep_uploads()
    folder = Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX))
    try:
        path = folder / name
        file = await context.bot.get_file(doc.file_id)
        await file.download_to_drive(path)
        try:
            report = await import_file(
                repo,
                project_id,
                path,
                columns,
                meta_columns=meta,
                actor=user.id,
                source_name=name,
            )
        except (IntakeError, SourceError, MediaError) as exc:
            reason = refusal_text(lang, exc)
            await message.reply_text(t(lang, "import_failed", reason=reason)[:4096])
            return
    finally:
        # Every outcome, an error or a cancelled task included; ignore_errors so that a
        # failing removal cannot hide what went wrong (the next upload sweeps what is left).
        shutil.rmtree(folder, ignore_errors=True)
    # Recorded after the import's own transaction: a kill in between makes a replay import
    # the file again, which adds no row (duplicates are dropped) but logs a second import.
    summary = report_text(report, lang)[:4096]
    await inbox.record_effect(update.update_id, "import", summary)
    await message.reply_text(summary)
    body = json.dumps(report.to_dict(), ensure_ascii=False, indent=2).encode()
    await message.reply_document(
        io.BytesIO(body), filename=f"{Path(name).stem}-report.json", caption=t(lang, "import_full")
    )


def sweep_uploads(now: float | None = None, root: Path | None = None) -> int:
    """Remove upload folders left behind by a bot that was killed mid-import; how many."""
    now = time.time() if now is None else now
    removed = 0
    for folder in (root or Path(tempfile.gettempdir())).glob(UPLOAD_PREFIX + "*"):
        try:
            stale = now - folder.stat().st_mtime > STALE_UPLOAD_SECONDS
        except OSError:
            continue  # removed meanwhile
        if stale and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """The upload handler (private chats only)."""
    # A document a /broadcast waits for is the broadcast (handlers.broadcast), not data.
    return [MessageHandler(filters.ChatType.PRIVATE & filters.Document.ALL & ~COMPOSING, upload)]
