"""What every feature's handlers share: checked preambles for taps and commands, the
projects a coordinator manages, notices that must not stop a handler, and the check's news.

Feature modules (labeling, coordinator, quality, intake, jobs) import this module and the
`bot` toolkit, never each other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import CallbackQuery, Message, Update, User
from telegram.error import Forbidden, NetworkError, TelegramError

from bot.callbacks import CallbackData, CallbackError, GuideTap, StartTap
from bot.context import Context, lang_of, language_of
from bot.keyboards import marker
from bot.reasons import reason_text
from bot.texts import t
from bot.texts_roster import person
from services.checks import CheckReport
from storage.models import Project, Role, SampleCounts
from storage.quality import GoldResult

log = logging.getLogger(__name__)


ANSWER_LIMIT = 200  # characters of a callback answer (answerCallbackQuery's text)


async def safe_answer(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a callback query; a replayed or stale query is not an error worth raising,
    and neither is a network failure (the answer only stops a spinner: what the tap did is
    stored, and cards that failed to go out are sent again).

    A text longer than Telegram's ANSWER_LIMIT characters would be refused whole, so the
    presser would see nothing: it is cut to fit (a name and a project name can be long)."""
    if text is not None and len(text) > ANSWER_LIMIT:
        text = text[: ANSWER_LIMIT - 1] + "…"
    try:
        await query.answer(text)
    except NetworkError as exc:  # BadRequest (expired, answered twice) and TimedOut included
        log.debug("callback %s not answered: %s", query.id, exc.message)


def mark(context: Context, query: CallbackQuery, text: str) -> None:
    """Turn the tapped card's buttons into a marker, in the background: the marker is
    cosmetic, and while a flood limit holds it back the worker's next update (which waits
    for this handler to end: one user's updates in order) must not wait with it."""
    context.application.create_task(safe_edit_markup(query, marker(text)))


async def safe_edit_markup(query: CallbackQuery, markup: object) -> None:
    """Change a card's buttons, best effort: 'not modified' means it already shows this, and
    any other failure must not stop the handler (the next card is sent beside it)."""
    try:
        await query.edit_message_reply_markup(markup)  # type: ignore[arg-type]
    except TelegramError as exc:  # a marker is cosmetic; what the tap did is stored
        log.debug("card of callback %s not marked: %s", query.id, exc.message)


async def safe_edit_text(query: CallbackQuery, text: str) -> None:
    """Turn the message of a confirmation's buttons into its outcome (no buttons); best
    effort: 'not modified' (a replay) and a gone message change nothing that was stored."""
    try:
        await query.edit_message_text(text)
    except TelegramError as exc:
        log.debug("message of callback %s not edited: %s", query.id, exc.message)


async def notice(context: Context, chat_id: int, text: str) -> None:
    """Send a notice on the way to the next card (exam news, gold feedback, all done): if it
    cannot be sent, the card must still come, so the failure is logged, not raised (a
    blocked worker's Forbidden still is: there is no card to send then either)."""
    try:
        await context.bot.send_message(chat_id, text)
    except Forbidden:
        raise
    except TelegramError as exc:
        log.warning("notice to %s not sent: %s", chat_id, exc)


async def reject(query: CallbackQuery, lang: str) -> None:
    """Refuse a button the bot did not make (or not for this user): a notice, nothing stored."""
    await safe_answer(query, t(lang, "invalid_button"))


T = TypeVar("T", bound=CallbackData)


P = TypeVar("P", StartTap, GuideTap)  # buttons that name a project


async def read_tap(
    update: Update, context: Context, kind: type[T] | tuple[type[T], ...]
) -> tuple[CallbackQuery, User, str, T] | None:
    """The pressed button, checked: (query, user, their language, the decoded tap).

    None when there is nothing to answer, or when the data is not a button of `kind` that
    this bot made: the user is then told so (`reject`) and nothing is stored.
    """
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return None
    lang = await lang_of(context, user)
    try:
        tap = CallbackData.unpack(query.data)
    except CallbackError:
        tap = None
    if not isinstance(tap, kind):
        await reject(query, lang)
        return None
    return query, user, lang, tap


async def read_member_tap(
    update: Update, context: Context, kind: type[P]
) -> tuple[CallbackQuery, User, str, P] | None:
    """`read_tap` for a button that names a project: also None (and `reject`) when the user
    is not a member of that project, whatever the button says."""
    if (got := await read_tap(update, context, kind)) is None:
        return None
    query, user, lang, tap = got
    if await context.bot_data.repo.role_of(user.id, tap.project_id) is None:
        await reject(query, lang)
        return None
    return got


async def current_project(context: Context, user_id: int) -> Project | None:
    """The project the user labels in, if they joined one."""
    repo = context.bot_data.repo
    worker = await repo.get_worker(user_id)
    if worker is None or worker.current_project_id is None:
        return None
    return await repo.get_project(worker.current_project_id)


ProjectFinder = Callable[[Context, int], Awaitable[Project | None]]


async def read_command(
    update: Update, context: Context, find: ProjectFinder, refusal: str
) -> tuple[Message, User, str, Project] | None:
    """A project command's sender, checked: (message, user, their language, the project).

    None when there is nobody to answer, or when `find` gives no project for the user: they
    are then told so (the `refusal` text) and nothing else happens.
    """
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return None
    lang = await lang_of(context, user)
    project = await find(context, user.id)
    if project is None:
        await message.reply_text(t(lang, refusal))
        return None
    return message, user, lang, project


async def managed_projects(context: Context, user_id: int) -> list[Project]:
    """Projects the user may manage: all for admins, their own for coordinators."""
    repo = context.bot_data.repo
    if context.bot_data.is_admin(user_id):
        return await repo.list_projects()
    return await repo.projects_of(user_id, Role.COORDINATOR)


async def read_managed(
    update: Update, context: Context
) -> tuple[Message, User, str, list[Project]] | None:
    """A coordinator command's sender: (message, user, language, the projects they manage).

    None when there is no one to answer, or when they manage no project: they are then told
    so ("no_projects" for an admin, who could create one; "not_allowed" for anyone else).
    """
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return None
    lang = await lang_of(context, user)
    projects = await managed_projects(context, user.id)
    if not projects:
        key = "no_projects" if context.bot_data.is_admin(user.id) else "not_allowed"
        await message.reply_text(t(lang, key))
        return None
    return message, user, lang, projects


def choose_project(projects: list[Project], wanted: str | None) -> Project | None:
    """The project named by slug or id `wanted`, or the only one when nothing is named."""
    if wanted is None:
        return projects[0] if len(projects) == 1 else None
    return next((p for p in projects if wanted in (p.slug, str(p.id))), None)


def states_text(lang: str, states: SampleCounts) -> str:
    """The samples' states as /status and /check both show them."""
    pct = round(100 * states.done / states.work) if states.work else 0
    return t(
        lang,
        "sample_states",
        done=states.done,
        total=states.work,
        pct=pct,
        open=states.open,
        review=states.review,
        control=states.control,
    )


async def worker_name(context: Context, user_id: int) -> str:
    """A worker as coordinators see them: "Mina (1003)" (`bot.texts_roster.person`)."""
    worker = await context.bot_data.repo.get_worker(user_id)
    if worker is None:
        return person(None, None, user_id)
    return person(worker.first_name, worker.username, user_id)


async def notify(context: Context, report: CheckReport) -> None:
    """Tell suspended workers, coordinators and reviewers what the check decided.

    Each piece of news goes out once: a suspension when it happens, a flag when a check first
    finds it (again only after a check no longer found it: `Repository.record_flags`), the
    review queue when it grew.
    """
    data = context.bot_data
    repo, quality = data.repo, data.quality
    coordinators = await quality.members(report.project_id, Role.COORDINATOR)
    reviewers = await quality.members(report.project_id, Role.REVIEWER) or coordinators
    project = await repo.get_project(report.project_id)
    # Suspensions are told through the outbox, queued with them (`QualityStore.suspend`).
    if report.result is not None:
        suspended = {u for u, _ in report.suspended}
        flagged = [(u, r) for u, r in report.flagged if u not in suspended]
        for user_id, reason in await repo.record_flags(report.project_id, flagged):
            who = await worker_name(context, user_id)
            for c in coordinators:
                await _send(
                    context,
                    c,
                    "coord_flagged_who",
                    who=who,
                    project=project,
                    reason=reason,
                    slug=project.slug,
                )
    if report.new_reviews:
        # Through the outbox (bot.outbox), one notice per reviewer merged while it waits,
        # with the count as it is when it goes out: a batch however many checks add reviews.
        await repo.queue_notices(
            reviewers,
            "review_waiting",
            {"project": report.project_id},
            time.time(),
            merge=f"review:{report.project_id}",
        )


async def notify_exam_failed(
    context: Context, user_id: int, project_id: int, result: GoldResult
) -> None:
    """Tell the project's coordinators that a worker failed its exam, and how to allow a
    retry (the worker was told by the labeling loop)."""
    repo = context.bot_data.repo
    project = await repo.get_project(project_id)
    worker = await repo.get_worker(user_id)
    key = "coord_exam_failed" if result.exam_answered else "coord_exam_no_gold"
    for c in await context.bot_data.quality.members(project_id, Role.COORDINATOR):
        lang = await language_of(context.bot_data, c)
        if worker and worker.first_name:
            name = worker.first_name
        elif worker and worker.username:
            name = f"@{worker.username}"
        else:
            name = t(lang, "role_worker")
        await _send(
            context,
            c,
            key,
            worker=name,
            user_id=user_id,
            project=project.name_in(lang),
            slug=project.slug,
            correct=result.exam_correct,
            answered=result.exam_answered,
        )


async def _send(context: Context, chat_id: int, key: str, **values: object) -> None:
    lang = await language_of(context.bot_data, chat_id)
    if isinstance(project := values.get("project"), Project):  # its name in the reader's
        values["project"] = project.name_in(lang)
    if "reason" in values:  # a rule's reason, in the reader's language (bot.reasons)
        values["reason"] = reason_text(lang, str(values["reason"]))
    try:
        await context.bot.send_message(chat_id, t(lang, key, **values))
    except (Forbidden, TelegramError):
        log.info("could not tell %s (%s)", chat_id, key)
