"""Show a sample card: as a new message that fits its kind, or in place of the card the worker
just answered (the buttons stay under the thumb). Each file is uploaded only once.

Telegram edits a message in place only within its kind: a text message takes new text
(editMessageText), any message can take a photo, audio, video or document (editMessageMedia;
text to media since Bot API 7.11), but a media message cannot become text again and a voice
message cannot be made at all. `edit_card` says so (`CannotEdit`), and the caller sends a new
message instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from telegram import (
    Bot,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    Message,
)
from telegram.error import BadRequest

from bot.keyboards import card_keyboard
from bot.texts import t
from config.project import pick_text, telegram_length
from storage.models import Card
from storage.repository import Repository

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# Under the question a card names its project, cut to this many UTF-16 code units: with the
# widest question (config.project.QUESTION_MAX) a caption still keeps over 400 for the sample.
PROJECT_NAME_ON_CARD = 48


_IN_PLACE = {
    "photo": InputMediaPhoto,
    "audio": InputMediaAudio,
    "video": InputMediaVideo,
    "document": InputMediaDocument,
}
# What Telegram answers when a message cannot become this card (the caller sends a new one).
_NOT_EDITABLE = (
    "there is no text in the message",
    "message can't be edited",
    "message media can't be edited",
    "message to edit not found",
)


class SampleUnavailable(Exception):
    """The sample's media cannot be sent (missing file, refused by Telegram)."""


class CannotEdit(Exception):
    """Telegram cannot turn that message into this card; send it as a new message."""


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


async def _media_of(card: Card) -> str | Path:
    """What to send for a media sample: its file_id, its URL or its local file."""
    sample = card.sample
    if sample.file_id:
        return sample.file_id
    if sample.media and sample.media.startswith(("http://", "https://")):
        return sample.media
    if sample.media and await _is_file(sample.media):
        return Path(sample.media)
    raise SampleUnavailable(f"sample {sample.ext_id}: file {sample.media!r} not found")


def _question(card: Card, lang: str) -> str:
    """The card's last lines: the question, and under it the project's name (a worker may be
    in several projects), cut to PROJECT_NAME_ON_CARD."""
    name = card.project.name_in(lang)
    if telegram_length(name) > PROJECT_NAME_ON_CARD:
        name = cut(name, PROJECT_NAME_ON_CARD - 1) + "…"
    question = t(lang, "question_mark", question=pick_text(card.project.question, lang))
    return f"{question}\n{t(lang, 'card_project', project=name)}"


async def send_card(bot: Bot, repo: Repository, chat_id: int, card: Card, lang: str) -> Message:
    """Send `card` to `chat_id`; raise SampleUnavailable if its media cannot be sent."""
    sample = card.sample
    question = _question(card, lang)
    markup = card_keyboard(card, lang)
    if sample.kind == "text":
        return await bot.send_message(
            chat_id, _fit(sample.text, question, TEXT_LIMIT), reply_markup=markup
        )
    media = await _media_of(card)
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


async def edit_card(
    bot: Bot, repo: Repository, chat_id: int, message_id: int, card: Card, lang: str
) -> None:
    """Show `card` in message `message_id` (the card the worker just answered, or one being
    replaced). Raises CannotEdit where Telegram cannot edit that message into this card and
    SampleUnavailable if the media cannot be sent; a message that already shows it is fine."""
    sample = card.sample
    markup = card_keyboard(card, lang)
    kind = _IN_PLACE.get(sample.kind)
    try:
        if sample.kind == "text":
            await bot.edit_message_text(
                _fit(sample.text, _question(card, lang), TEXT_LIMIT),
                chat_id,
                message_id,
                reply_markup=markup,
            )
            return
        if kind is None:  # voice: InputMedia has no such type
            raise CannotEdit(f"a {sample.kind} card cannot be shown by an edit")
        caption = _fit(sample.text, _question(card, lang), CAPTION_LIMIT)
        edited = await bot.edit_message_media(
            kind(await _media_of(card), caption=caption),
            chat_id,
            message_id,
            reply_markup=markup,
        )
    except BadRequest as exc:
        lowered = exc.message.lower()
        if "not modified" in lowered:
            return  # it shows this card already (an edit repeated after a crash)
        if any(text in lowered for text in _NOT_EDITABLE):
            raise CannotEdit(exc.message) from exc
        if "chat not found" in lowered or sample.kind == "text":
            raise
        raise SampleUnavailable(f"sample {sample.ext_id}: Telegram refused it: {exc}") from exc
    if not sample.file_id and isinstance(edited, Message):
        file_id = _file_id(edited)
        if file_id:
            await repo.set_file_id(sample.id, file_id)


def shows_text(message: object) -> bool | None:
    """Whether a card message is text (None: unknown, e.g. too old for Telegram to say)."""
    if not isinstance(message, Message):
        return None
    return message.text is not None
