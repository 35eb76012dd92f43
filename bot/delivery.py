"""Cards reach their workers: a claimed card is delivered, whatever Telegram or a crash does.

A card is claimed in the database before it is sent, and its message id is stored once
Telegram has it. An open card without a message id was never delivered: a flood wait
(`RetryAfter`), a network error or a kill came in between. The `deliver_pending` job sends
those again (at once after a start, after `retry_after` during a flood). One live card per
worker: a card sent again replaces the older message, which is edited to a marker.

A card can also take the place of the one the worker just answered (`Slot`, the project's
`card_flow = "edit"`): the message is edited into the next sample, so a label costs two Bot
API calls (the answer to the tap and the edit) instead of three. Such a card is claimed with
the tapped message as its message (no write after the edit); if the edit fails for a while,
the card is marked undelivered again. Where Telegram cannot edit that message into this
card, it is sent as a new message and the old one gets its marker.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.cards import CannotEdit, SampleUnavailable, edit_card, send_card
from bot.context import Context, language_of
from bot.flood import retry_seconds
from bot.keyboards import marker
from bot.texts import t
from storage.models import Card

log = logging.getLogger(__name__)

PENDING_JOB = "deliver-pending"
PENDING_RETRY_JOB = "deliver-pending-retry"
PENDING_EVERY_S = 5.0
# A card claimed this recently may still be on its way from the handler that claimed it.
_IN_FLIGHT_S = 10.0


@dataclass(frozen=True)
class Slot:
    """The message of the card a worker just acted on: the next card may take its place."""

    message_id: int
    text: bool | None  # whether it shows text (a media message cannot become text); None: unknown
    marker: str  # what its buttons become if the next card cannot take its place


def retry_later(context: Context, seconds: float) -> None:
    """Telegram asked for a pause: send the waiting cards once it is over."""
    data = context.bot_data
    data.flood_until = max(data.flood_until, time.monotonic() + seconds)
    queue = context.job_queue
    if queue is not None and not queue.get_jobs_by_name(PENDING_RETRY_JOB):
        queue.run_once(deliver_pending, when=seconds + 0.05, name=PENDING_RETRY_JOB)


async def deliver(
    context: Context, user_id: int, card: Card, lang: str, slot: Slot | None = None
) -> bool:
    """Show `card` (in `slot` where Telegram can edit it, else as a new message) and record
    its message; False when it has to wait (it is sent later).

    Raises SampleUnavailable (the media cannot be sent) and Forbidden (the worker blocked
    the bot; the card is released to the pool); the caller holds the worker's lock.
    """
    data = context.bot_data
    data.delivering.add(card.assignment_id)
    try:
        message_id = await _show(context, user_id, card, lang, slot)
    except RetryAfter as exc:
        # The flood guard waited as long as it may: the pending-card job takes over.
        log.info("card %s waits %.0f s (flood limit)", card.assignment_id, retry_seconds(exc))
        await _unsent(context, card, slot)
        retry_later(context, retry_seconds(exc))
        return False
    except Forbidden:
        # Blocked: the card goes back to the pool now, not after its timeout, and no job
        # keeps trying to send it.
        await data.repo.release(card.assignment_id, user_id)
        raise
    except BadRequest as exc:
        if "chat not found" in exc.message.lower():  # a deleted account: the same
            await data.repo.release(card.assignment_id, user_id)
        raise
    except NetworkError as exc:  # includes TimedOut: the card may or may not have arrived
        log.warning("card %s not delivered (%s); retrying", card.assignment_id, exc)
        await _unsent(context, card, slot)
        retry_later(context, PENDING_EVERY_S)
        return False
    finally:
        data.delivering.discard(card.assignment_id)
    data.shown[user_id] = (message_id, card.assignment_id)
    if card.message_id != message_id:
        await data.repo.card_sent(card.assignment_id, message_id)
    superseded = {m for m in (card.message_id, slot and slot.message_id) if m} - {message_id}
    for old in superseded:
        # In the background: a marker must not hold the worker's next update (see mark()).
        text = slot.marker if slot is not None and old == slot.message_id else None
        context.application.create_task(retire(context, user_id, old, lang, text))
    return True


async def _unsent(context: Context, card: Card, slot: Slot | None) -> None:
    """A card claimed as shown in the tapped message did not get there: the pending-card job
    is to send it (it looks for cards without a message)."""
    if slot is not None and card.message_id == slot.message_id:
        await context.bot_data.repo.card_unsent(card.assignment_id, slot.message_id)


async def _show(context: Context, user_id: int, card: Card, lang: str, slot: Slot | None) -> int:
    """Put the card on screen; the id of the message that shows it."""
    bot, repo = context.bot, context.bot_data.repo
    if slot is not None and not (card.sample.kind == "text" and slot.text is False):
        try:
            await edit_card(bot, repo, user_id, slot.message_id, card, lang)
            return slot.message_id
        except CannotEdit as exc:
            log.debug("card %s sent anew: %s", card.assignment_id, exc)
    message = await send_card(bot, repo, user_id, card, lang)
    return message.message_id


async def retire(
    context: Context, chat_id: int, message_id: int, lang: str, text: str | None = None
) -> None:
    """Replace a superseded card's buttons with a marker (best effort: it is only a marker)."""
    try:
        await context.bot.edit_message_reply_markup(
            chat_id, message_id, reply_markup=marker(text or t(lang, "mark_superseded"))
        )
    except TelegramError as exc:  # gone, unchanged, flood-limited or blocked: nothing to do
        log.debug("card message %s not retired: %s", message_id, exc)


async def deliver_pending(context: Context) -> None:
    """Send the open cards that were claimed but never delivered (a job)."""
    data = context.bot_data
    if time.monotonic() < data.flood_until:
        return  # the retry job runs when the pause is over
    now = time.time()
    # Cards claimed before this process started cannot be in flight in it.
    shown_before = max(now - _IN_FLIGHT_S, data.started_at)
    for user_id, _, assignment_id in await data.repo.undelivered(shown_before):
        lock = data.worker_lock(user_id)
        if assignment_id in data.delivering or lock.locked():
            continue  # a handler is sending this worker a card right now (maybe this one)
        async with lock:
            card = await data.repo.open_card(assignment_id, user_id)
            if card is None or card.message_id is not None:
                continue  # answered, expired or delivered meanwhile
            lang = await language_of(data, user_id)
            try:
                if not await deliver(context, user_id, card, lang):
                    return  # flood limit: the rest waits too
            except SampleUnavailable as exc:
                log.warning("%s; reported automatically", exc)
                await data.repo.close_assignment(assignment_id, user_id, "reported", "broken")
            except (Forbidden, BadRequest) as exc:
                log.info("card %s for %s not deliverable: %s", assignment_id, user_id, exc)
