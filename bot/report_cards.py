"""A /reports card: the reported sample as workers saw it (text, or its media with a
caption), the reasons counted, the notes, and who reported it (name and id)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from telegram import Bot, InlineKeyboardMarkup, Message

from bot.cards import CAPTION_LIMIT, TEXT_LIMIT, cut
from bot.texts import t
from config.project import telegram_length
from storage.problem_reports import ReportedSample
from storage.repository import Repository

_SNIPPET = 60  # characters of a sample's text in a reporter's outcome message
_NOTE = 300  # characters of each note on a card


def worker_label(lang: str, name: str, user_id: int) -> str:
    """'Mina (1003)': a worker as coordinators see them."""
    return t(lang, "worker_name", name=name or t(lang, "no_name"), id=user_id)


def _short(text: str, units: int) -> str:
    return text if telegram_length(text) <= units else cut(text, units - 1) + "…"


def card_text(
    reported: ReportedSample, lang: str, *, with_sample: bool, limit: int = TEXT_LIMIT
) -> str:
    """The card's words: title, hold, reasons, reporters, notes (and, first, the sample's
    text, shortened so that the rest always fits in `limit`)."""
    lines = [t(lang, "card_title", ext_id=reported.sample.ext_id, count=len(reported.lines))]
    if reported.held == "held":
        lines.append(t(lang, "card_held"))
    counts: dict[str, int] = {}
    for line in reported.lines:
        counts[line.reason] = counts.get(line.reason, 0) + 1
    reasons = ", ".join(
        t(lang, "reason_count", reason=t(lang, f"reason_{r}"), n=n) for r, n in counts.items()
    )
    lines.append(t(lang, "card_reasons", reasons=reasons))
    names: dict[int, str] = {}
    for line in reported.lines:
        names.setdefault(line.worker_id, worker_label(lang, line.name, line.worker_id))
    lines.append(t(lang, "card_reporters", names=", ".join(names.values())))
    notes = [
        f"📝 {names[line.worker_id]}: {_short(line.note, _NOTE)}"
        for line in reported.lines
        if line.note
    ]
    if notes:
        lines.append(t(lang, "card_notes"))
        lines.extend(notes)
    head = cut("\n".join(lines), limit * 3 // 4)
    text = reported.sample.text
    room = limit - telegram_length(head) - 6
    if with_sample and text and room > 0:
        return _short(text, room) + "\n\n—\n" + head
    return head


def snippet(reported_text: str | None, kind: str, lang: str) -> str:
    """A few words of a sample, to tell its reporter which one it was."""
    if reported_text:
        flat = " ".join(reported_text.split())
        return f"“{flat[:_SNIPPET]}…”" if len(flat) > _SNIPPET else f"“{flat}”"
    return t(lang, "snippet_media", kind=kind)


async def send_report_card(
    bot: Bot,
    repo: Repository,
    chat_id: int,
    reported: ReportedSample,
    lang: str,
    markup: InlineKeyboardMarkup,
) -> Message:
    """Send the card: text samples as one message; media with the card as its caption (a
    file that cannot be sent any more shows as text, saying so in its reasons)."""
    sample = reported.sample
    if sample.kind == "text" or not (sample.file_id or sample.media):
        return await bot.send_message(
            chat_id, card_text(reported, lang, with_sample=True), reply_markup=markup
        )
    media: str | Path
    if sample.file_id:
        media = sample.file_id
    elif sample.media and sample.media.startswith(("http://", "https://")):
        media = sample.media
    else:
        media = Path(sample.media or "")
        if not media.is_file():
            return await bot.send_message(
                chat_id, card_text(reported, lang, with_sample=True), reply_markup=markup
            )
    caption = card_text(reported, lang, with_sample=True, limit=CAPTION_LIMIT)
    senders: dict[str, Callable[..., Awaitable[Message]]] = {
        "photo": bot.send_photo,
        "audio": bot.send_audio,
        "voice": bot.send_voice,
        "video": bot.send_video,
        "document": bot.send_document,
    }
    send = senders.get(sample.kind, bot.send_document)
    return await send(chat_id, media, caption=caption, reply_markup=markup)
