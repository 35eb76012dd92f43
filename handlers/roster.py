"""The worker roster: /workers (a paged list; a worker's card with Suspend, Reinstate, Remove)
and the work report per worker for a period (/workreport, or the list's button).

Every press is checked on the server: the presser manages the button's project (its
coordinators, or an admin), and the worker is still one of its workers. An action is stored
once per update (`Repository.roster_action`): the same press handled again tells nobody
twice.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, JobQueue

from bot.callbacks_roster import WorkerAction, WorkerCard, WorkersPage, WorkReportTap
from bot.context import Context
from bot.reasons import reason_text
from bot.texts import t
from bot.texts_roster import person
from handlers.common import (
    choose_project,
    managed_projects,
    read_managed,
    read_tap,
    reject,
    safe_answer,
)
from services.workreport import build_report, day_start, default_period, parse_day
from storage.models import Project
from storage.roster import RosterEntry

log = logging.getLogger(__name__)

PAGE_SIZE = 8


async def _managed(context: Context, user_id: int, project_id: int) -> Project | None:
    """The project if the user manages it (a coordinator of it, or an admin)."""
    return next((p for p in await managed_projects(context, user_id) if p.id == project_id), None)


def _pct(lang: str, right: int, n: int) -> str:
    if not n:
        return t(lang, "figure_none")
    return t(lang, "figure_pct", pct=round(100 * right / n), n=n)


def _seconds(lang: str, seconds: float | None) -> str:
    if seconds is None:
        return t(lang, "figure_none")
    return t(lang, "figure_seconds", s=f"{seconds:.1f}")


def _figures(lang: str, e: RosterEntry) -> dict[str, object]:
    return {
        "who": person(e.first_name, e.username, e.worker_id),
        "username": f" @{e.username}" if e.username and e.first_name else "",
        "status": t(lang, f"status_{e.status}"),
        "labels": e.labels,
        "today": e.today,
        "gold": _pct(lang, e.gold_right, e.gold_answered),
        "agreement": _pct(lang, e.agreed, e.compared),
        "median": _seconds(lang, e.median_s),
    }


async def _today(context: Context, project: Project) -> tuple[float, int]:
    """When today began in the project's time zone, and its exam size."""
    spec = await context.bot_data.repo.project_spec(project.id)
    today = default_period(spec.timezone, time.time())[1]
    return day_start(spec.timezone, today), spec.quality.exam_size


async def _page(
    context: Context, project: Project, page: int, lang: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and buttons of one page of the roster."""
    repo = context.bot_data.repo
    total = await repo.roster_size(project.id)
    if total == 0:
        return t(lang, "workers_none", project=project.name_in(lang), slug=project.slug), None
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(page, 0), pages - 1)
    start, exam_size = await _today(context, project)
    entries = await repo.roster_page(
        project.id, page * PAGE_SIZE, PAGE_SIZE, day_start=start, exam_size=exam_size
    )
    first = page * PAGE_SIZE + 1
    lines = [
        t(
            lang,
            "workers_header",
            project=project.name_in(lang),
            first=first,
            last=first + len(entries) - 1,
            total=total,
        )
    ]
    lines += [
        t(lang, "workers_line", n=first + i, **_figures(lang, e)) for i, e in enumerate(entries)
    ]
    lines.append(t(lang, "workers_hint"))
    names = [
        InlineKeyboardButton(
            f"{first + i}. {person(e.first_name, e.username, e.worker_id)}"[:60],
            callback_data=WorkerCard(project.id, e.worker_id, page).pack(),
        )
        for i, e in enumerate(entries)
    ]
    rows = [names[i : i + 2] for i in range(0, len(names), 2)]
    nav = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(
                t(lang, "btn_prev"), callback_data=WorkersPage(project.id, page - 1).pack()
            )
        )
    if page < pages - 1:
        nav.append(
            InlineKeyboardButton(
                t(lang, "btn_next"), callback_data=WorkersPage(project.id, page + 1).pack()
            )
        )
    if nav:
        rows.append(nav)
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "btn_work_report"), callback_data=WorkReportTap(project.id).pack()
            )
        ]
    )
    return "\n".join(lines)[:4096], InlineKeyboardMarkup(rows)


async def _card(
    context: Context, project: Project, entry: RosterEntry, page: int, lang: str
) -> tuple[str, InlineKeyboardMarkup]:
    """A worker's card: their figures, recent flags, and what can be done."""
    flags = await context.bot_data.repo.recent_flags(project.id, entry.worker_id)
    if flags:
        lines = "\n".join(
            t(
                lang,
                "card_flag_line",
                date=datetime.fromtimestamp(f.first_at, UTC).strftime("%Y-%m-%d"),
                reason=reason_text(lang, f.reason),
                cleared=t(lang, "card_flag_cleared") if f.cleared_at else "",
            )
            for f in flags
        )
        flag_text = t(lang, "card_flags", lines=lines)
    else:
        flag_text = t(lang, "card_no_flags")
    reason = ""
    if entry.status == "suspended" or entry.exam_failed:
        if entry.suspended_reason:
            why = reason_text(lang, entry.suspended_reason)
        else:
            why = t(lang, "card_exam_failed")
        reason = t(lang, "card_reason", reason=why)
    text = t(
        lang,
        "worker_card",
        project=project.name_in(lang),
        role=t(lang, f"role_{entry.role}"),
        reason=reason,
        flags=flag_text,
        **_figures(lang, entry),
    )
    pid, wid = project.id, entry.worker_id
    held = entry.suspended_reason is not None or entry.exam_failed
    action = "reinstate" if held else "suspend"
    rows = [
        [
            InlineKeyboardButton(
                t(lang, f"btn_{action}"), callback_data=WorkerAction(pid, wid, page, action).pack()
            ),
            InlineKeyboardButton(
                t(lang, "btn_remove"), callback_data=WorkerAction(pid, wid, page, "remove").pack()
            ),
        ],
        [InlineKeyboardButton(t(lang, "btn_back"), callback_data=WorkersPage(pid, page).pack())],
    ]
    return text[:4096], InlineKeyboardMarkup(rows)


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Turn the pressed message into `text` with `markup`; a replay ('not modified') or a
    message gone changes nothing that was stored."""
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except TelegramError as exc:
        log.debug("roster message of callback %s not edited: %s", query.id, exc.message)


async def workers(update: Update, context: Context) -> None:
    """The roster of a project: /workers [project]."""
    if (got := await read_managed(update, context)) is None:
        return
    message, _, lang, projects = got
    wanted = context.args[0] if context.args else None
    project = choose_project(projects, wanted)
    names = ", ".join(p.slug for p in projects)
    if project is None:
        key = "unknown_project" if wanted else "workers_pick"
        await message.reply_text(t(lang, key, project=wanted or "", projects=names))
        return
    text, markup = await _page(context, project, 0, lang)
    await message.reply_text(text, reply_markup=markup)


async def page_tap(update: Update, context: Context) -> None:
    """Another page of the roster."""
    if (got := await read_tap(update, context, WorkersPage)) is None:
        return
    query, user, lang, tap = got
    project = await _managed(context, user.id, tap.project_id)
    if project is None:
        await reject(query, lang)
        return
    text, markup = await _page(context, project, tap.page, lang)
    await safe_answer(query)
    await _show(query, text, markup)


async def card_tap(update: Update, context: Context) -> None:
    """A worker's card."""
    if (got := await read_tap(update, context, WorkerCard)) is None:
        return
    query, user, lang, tap = got
    project = await _managed(context, user.id, tap.project_id)
    if project is None:
        await reject(query, lang)
        return
    start, exam_size = await _today(context, project)
    entry = await context.bot_data.repo.roster_entry(
        project.id, tap.worker_id, day_start=start, exam_size=exam_size
    )
    if entry is None:
        await _gone(context, query, project, tap.worker_id, lang)
        return
    text, markup = await _card(context, project, entry, tap.page, lang)
    await safe_answer(query)
    await _show(query, text, markup)


async def _gone(
    context: Context, query: CallbackQuery, project: Project, worker_id: int, lang: str
) -> None:
    # By id only: the button's data is the client's, and a name the bot knows from another
    # project is not this coordinator's to learn.
    who = person(None, None, worker_id)
    await safe_answer(query, t(lang, "roster_gone", who=who, project=project.name_in(lang)))


async def action_tap(update: Update, context: Context) -> None:
    """Suspend, reinstate or remove (after a confirmation) a worker from their card."""
    if (got := await read_tap(update, context, WorkerAction)) is None:
        return
    query, user, lang, tap = got
    repo = context.bot_data.repo
    project = await _managed(context, user.id, tap.project_id)
    if project is None:
        await reject(query, lang)
        return
    start, exam_size = await _today(context, project)
    entry = await repo.roster_entry(
        project.id, tap.worker_id, day_start=start, exam_size=exam_size
    )
    # Named only while a member of this project (the data is the client's: see `_gone`).
    who = (
        person(entry.first_name, entry.username, tap.worker_id)
        if entry
        else person(None, None, tap.worker_id)
    )
    if tap.action == "remove":  # ask first: removing cannot be undone from here
        if entry is None:
            await _gone(context, query, project, tap.worker_id, lang)
            return
        pid, wid, page = project.id, tap.worker_id, tap.page
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t(lang, "btn_remove_yes"),
                        callback_data=WorkerAction(pid, wid, page, "remove_yes").pack(),
                    ),
                    InlineKeyboardButton(
                        t(lang, "cancel"), callback_data=WorkerCard(pid, wid, page).pack()
                    ),
                ]
            ]
        )
        await safe_answer(query)
        await _show(
            query, t(lang, "roster_remove_confirm", who=who, project=project.name_in(lang)), markup
        )
        return
    action = "remove" if tap.action == "remove_yes" else tap.action
    changed, _ = await repo.roster_action(
        action, project.id, tap.worker_id, actor=user.id, update_id=update.update_id
    )
    if not changed:
        if entry is None:
            await _gone(context, query, project, tap.worker_id, lang)
            return
        status = t(lang, f"status_{entry.status}")
        await safe_answer(query, t(lang, "roster_unchanged", who=who, status=status))
    else:
        done = {"suspend": "roster_suspended", "reinstate": "roster_reinstated"}
        await safe_answer(
            query,
            t(lang, done.get(action, "roster_removed"), who=who, project=project.name_in(lang)),
        )
    if action == "remove" and changed:
        await _show(query, t(lang, "roster_removed", who=who, project=project.name_in(lang)), None)
        return
    entry = await repo.roster_entry(
        project.id, tap.worker_id, day_start=start, exam_size=exam_size
    )
    if entry is not None:
        text, markup = await _card(context, project, entry, tap.page, lang)
        await _show(query, text, markup)


# ---------------------------------------------------------------------- the work report


async def _send_report(
    context: Context, chat_id: int, project: Project, lang: str, days: list[str]
) -> None:
    """Build the work report of `days` ([] this month so far; [FROM] to today; [FROM, TO])
    and send it as a CSV document."""
    spec = await context.bot_data.repo.project_spec(project.id)
    since, until = default_period(spec.timezone, time.time())
    if days:
        since = parse_day(days[0])
    if len(days) > 1:
        until = parse_day(days[1])
    report = await build_report(context.bot_data.repo, project.id, since, until)
    amount = ""
    if report.amount is not None:
        amount = t(
            lang,
            "workreport_amount",
            amount=f"{report.amount:,.2f}",
            currency=report.currency or "",
            rate=f"{report.rate:g}",
        )
    caption = t(
        lang,
        "workreport_caption",
        project=project.name_in(lang),
        since=since.isoformat(),
        until=until.isoformat(),
        timezone=report.timezone,
        workers=len(report.rows),
        labels=report.labels,
        kept=report.kept,
        amount=amount,
    )
    await context.bot.send_document(
        chat_id,
        report.csv,
        filename=f"workreport-{project.slug}-{since.isoformat()}-{until.isoformat()}.csv",
        caption=caption[:1024],
    )


def _is_day(text: str) -> bool:
    try:
        parse_day(text)
    except ValueError:
        return False
    return True


async def workreport(update: Update, context: Context) -> None:
    """The work report as CSV: /workreport [project] [FROM] [TO]."""
    if (got := await read_managed(update, context)) is None:
        return
    message, _, lang, projects = got
    args = list(context.args or [])
    names = ", ".join(p.slug for p in projects)
    # The first word names the project unless it is a date (then the only project is meant).
    wanted = args.pop(0) if args and not _is_day(args[0]) else None
    project = choose_project(projects, wanted)
    if project is None or len(args) > 2:
        key = "unknown_project" if wanted and project is None else "workreport_usage"
        await message.reply_text(t(lang, key, project=wanted or "", projects=names))
        return
    try:
        await _send_report(context, message.chat_id, project, lang, args)
    except ValueError:  # a date that is none, or a period that ends before it starts
        bad = t(lang, "workreport_bad_period", period=" ".join(args))
        await message.reply_text(bad + "\n\n" + t(lang, "workreport_usage", projects=names))


async def report_tap(update: Update, context: Context) -> None:
    """The list's work-report button: this month so far."""
    if (got := await read_tap(update, context, WorkReportTap)) is None:
        return
    query, user, lang, tap = got
    project = await _managed(context, user.id, tap.project_id)
    if project is None:
        await reject(query, lang)
        return
    await safe_answer(query)
    chat = query.message.chat.id if query.message else user.id
    await _send_report(context, chat, project, lang, [])


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    return [
        CommandHandler("workers", workers),
        CommandHandler("workreport", workreport),
        CallbackQueryHandler(page_tap, pattern=WorkersPage.pattern()),
        CallbackQueryHandler(card_tap, pattern=WorkerCard.pattern()),
        CallbackQueryHandler(action_tap, pattern=WorkerAction.pattern()),
        CallbackQueryHandler(report_tap, pattern=WorkReportTap.pattern()),
    ]


def schedule(job_queue: JobQueue[Context]) -> None:
    """This feature's jobs (called at start-up, after the bot's own)."""
