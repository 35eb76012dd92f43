"""Send a sample card as the message that fits its kind, uploading each file only once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from telegram import Bot, Message
from telegram.error import BadRequest

from bot.keyboards import card_keyboard
from bot.texts import t
from config.project import pick_text, telegram_length
from storage.models import Card
from storage.repository import Repository

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


class SampleUnavailable(Exception):
    """The sample's media cannot be sent (missing file, refused by Telegram)."""


def cut(text: str, units: int) -> str:
    """The longest start of `text` within `units` as Telegram counts them (UTF-16 code units:
    an emoji may be 2), never half of a pair."""
    if telegram_length(text) <= units:
        return text
    raw = text.encode("utf-16-le", "surrogatepass")[: 2 * max(units, 0)]
    return raw.decode("utf-16-le", "ignore")  # a pair cut in two loses its dangling half


def _fit(body: str | None, tail: str, limit: int) -> str:
    """Join the sample text and the question, shortening the text (never the question)."""
    if not body:
        return cut(tail, limit)
    room = limit - telegram_length(tail) - 2
    if telegram_length(body) > room:
        body = cut(body, room - 1) + "…"
    return f"{body}\n\n{tail}"


async def _is_file(path: str) -> bool:
    """Whether a local media file exists (checked off the event loop: disks can be slow)."""
    return await asyncio.to_thread(Path(path).is_file)


def _file_id(message: Message) -> str | None:
    if message.photo:
        return message.photo[-1].file_id
    for media in (message.audio, message.voice, message.video, message.document):
        if media is not None:
            return media.file_id
    return None


async def send_card(bot: Bot, repo: Repository, chat_id: int, card: Card, lang: str) -> Message:
    """Send `card` to `chat_id`; raise SampleUnavailable if its media cannot be sent."""
    sample = card.sample
    question = t(lang, "question_mark", question=pick_text(card.project.question, lang))
    markup = card_keyboard(card, lang)
    if sample.kind == "text":
        return await bot.send_message(
            chat_id, _fit(sample.text, question, TEXT_LIMIT), reply_markup=markup
        )
    media: str | Path
    if sample.file_id:
        media = sample.file_id
    elif sample.media and sample.media.startswith(("http://", "https://")):
        media = sample.media
    elif sample.media and await _is_file(sample.media):
        media = Path(sample.media)
    else:
        raise SampleUnavailable(f"sample {sample.ext_id}: file {sample.media!r} not found")
    caption = _fit(sample.text, question, CAPTION_LIMIT)
    senders: dict[str, Callable[..., Awaitable[Message]]] = {
        "photo": bot.send_photo,
        "audio": bot.send_audio,
        "voice": bot.send_voice,
        "video": bot.send_video,
        "document": bot.send_document,
    }
    try:
        message: Message = await senders[sample.kind](
            chat_id, media, caption=caption, reply_markup=markup
        )
    except BadRequest as exc:
        lowered = exc.message.lower()
        if "chat not found" in lowered or "not modified" in lowered:
            raise
        raise SampleUnavailable(f"sample {sample.ext_id}: Telegram refused it: {exc}") from exc
    if not sample.file_id:
        file_id = _file_id(message)
        if file_id:
            await repo.set_file_id(sample.id, file_id)
    return message
