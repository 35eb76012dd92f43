"""Coordinators send a data file to the bot: it is imported with the same pipeline as the CLI."""

from __future__ import annotations

import io
import json
import logging
import tempfile
from pathlib import Path

from telegram import Update
from telegram.ext import BaseHandler, MessageHandler, filters

from bot.context import Context, lang_of
from bot.importing import import_file
from bot.texts import t
from engine.intake import Columns, IntakeError
from engine.readers import SUPPORTED, SourceError
from storage.models import Role

log = logging.getLogger(__name__)

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # Telegram lets bots download files up to 20 MB
_CAPTION_KEYS = {"text": "text", "media": "media", "id": "id", "gold": "truth"}


def parse_caption(caption: str | None) -> tuple[Columns, tuple[str, ...]]:
    """Column mapping from a caption like `text=review gold=answer meta=lang,source`."""
    found: dict[str, str] = {}
    meta: tuple[str, ...] = ()
    for token in (caption or "").split():
        key, sep, value = token.partition("=")
        if not sep or not value:
            raise ValueError(token)
        if key == "meta":
            meta = tuple(v for v in value.split(",") if v)
        elif key in _CAPTION_KEYS:
            found[_CAPTION_KEYS[key]] = value
        else:
            raise ValueError(token)
    return Columns(**found), meta


async def upload(update: Update, context: Context) -> None:
    """Import a document a coordinator sent into their current project; reply with the report."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.document is None:
        return
    lang = await lang_of(context, user)
    repo = context.bot_data.repo
    worker = await repo.get_worker(user.id)
    project_id = worker.current_project_id if worker else None
    role = await repo.role_of(user.id, project_id) if project_id is not None else None
    if project_id is None or not (role is Role.COORDINATOR or context.bot_data.is_admin(user.id)):
        await message.reply_text(t(lang, "import_not_allowed"))
        return
    doc = message.document
    name = Path(doc.file_name or "upload.csv").name
    if Path(name).suffix.lower() not in SUPPORTED:
        await message.reply_text(t(lang, "import_bad_type", types=" ".join(SUPPORTED)))
        return
    if doc.file_size is not None and doc.file_size > DOWNLOAD_LIMIT:
        await message.reply_text(t(lang, "import_too_big"))
        return
    try:
        columns, meta = parse_caption(message.caption)
    except ValueError as exc:
        await message.reply_text(t(lang, "import_bad_caption", token=str(exc)))
        return
    with tempfile.TemporaryDirectory(prefix="labelgram-upload-") as tmp:
        path = Path(tmp) / name
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
        except (IntakeError, SourceError) as exc:
            await message.reply_text(t(lang, "import_failed", reason=str(exc)))
            return
    await message.reply_text(report.summary()[:4096])
    body = json.dumps(report.to_dict(), ensure_ascii=False, indent=2).encode()
    await message.reply_document(
        io.BytesIO(body), filename=f"{Path(name).stem}-report.json", caption=t(lang, "import_full")
    )


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """The upload handler (private chats only)."""
    return [MessageHandler(filters.ChatType.PRIVATE & filters.Document.ALL, upload)]
