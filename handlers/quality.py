"""Quality commands: /check (coordinators), /review and its buttons (reviewers), /reinstate."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Forbidden
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import ReviewTap
from bot.context import Context, lang_of, language_of
from bot.reasons import pairs_text, reason_text
from bot.texts import t
from bot.texts_roster import person
from config.project import pick_text
from handlers.common import (
    choose_project,
    current_project,
    notice,
    notify,
    read_managed,
    read_tap,
    reject,
    safe_answer,
    safe_edit_markup,
    states_text,
    worker_name,
)
from services.checks import CheckReport, check_project
from storage.models import Option, Project, Role, SampleCounts

log = logging.getLogger(__name__)


async def _names(context: Context, report: CheckReport) -> dict[int, str]:
    """The workers a check names, as coordinators see them ("Mina (1003)")."""
    ids = {u for u, _ in report.suspended} | {u for u, _ in report.flagged}
    return {u: await worker_name(context, u) for u in ids}


async def check(update: Update, context: Context) -> None:
    """Run the quality check now and reply with its figures: /check [project] (coordinators of
    the project, and admins without joining it)."""
    if (got := await read_managed(update, context)) is None:
        return
    message, user, lang, projects = got
    wanted = context.args[0] if context.args else None
    project = choose_project(projects, wanted)
    if project is None and wanted is None:
        current = await current_project(context, user.id)
        project = next((p for p in projects if current and p.id == current.id), None)
    if project is None:
        names = ", ".join(p.slug for p in projects)
        key = "unknown_project" if wanted else "check_pick"
        await message.reply_text(t(lang, key, project=wanted or "", projects=names))
        return
    inbox = context.bot_data.inbox
    done = await inbox.effect(update.update_id, "check")
    if done is not None:
        # The same /check again (a replay after a crash): its reply, not a second run.
        await message.reply_text(str(done))
        return
    report = await check_project(
        context.bot_data.repo, context.bot_data.quality, context.bot_data.settings, project.id
    )
    if report.result is None or not report.summary["counts"]["labels"]:
        reply = t(lang, "check_nothing", project=project.name_in(lang))
    else:
        options = await context.bot_data.repo.options(project.id)
        named = replace(report, project=project.name_in(lang))
        reply = summary_text(named, lang, options, await _names(context, report))
    await inbox.record_effect(update.update_id, "check", reply)
    await message.reply_text(reply)
    await notify(context, report)


async def reinstate(update: Update, context: Context) -> None:
    """Lift a worker's suspension or failed exam: /reinstate @username|USER_ID [project]
    (the roster's card has a button for it too)."""
    if (got := await read_managed(update, context)) is None:
        return
    message, user, lang, projects = got
    args = list(context.args or [])
    if not args or len(args) > 2:
        await message.reply_text(t(lang, "reinstate_help"))
        return
    handle = args[0]
    names = ", ".join(p.slug for p in projects)
    if len(args) > 1:
        chosen = choose_project(projects, args[1])
        if chosen is None:
            await message.reply_text(t(lang, "unknown_project", project=args[1], projects=names))
            return
        projects = [chosen]
    repo = context.bot_data.repo
    found = await repo.find_member([p.id for p in projects], handle)
    if not found:
        named = (handle.isascii() and handle.isdecimal()) or handle[:1] == "@"
        key = "reinstate_not_member" if named else "reinstate_help"
        await message.reply_text(t(lang, key, handle=handle))
        return
    target = found[0][0]
    who = await worker_name(context, target)
    if len({w for w, _ in found}) > 1 or len(found) > 1:
        # Several projects (or several people with that username): which one is meant?
        held = [
            pid for w, pid in found if (await context.bot_data.quality.gate(w, pid)).status != "ok"
        ]
        if len(held) != 1 or len({w for w, _ in found}) > 1:
            slugs = ", ".join(p.slug for p in projects if p.id in {pid for _, pid in found})
            await message.reply_text(
                t(lang, "reinstate_which", who=who, handle=handle, projects=slugs)
            )
            return
        found = [(target, held[0])]
    project = next(p for p in projects if p.id == found[0][1])
    quality = context.bot_data.quality
    if not await quality.reinstate(target, project.id, actor=user.id, update_id=update.update_id):
        await message.reply_text(
            t(lang, "reinstate_nothing", who=who, project=project.name_in(lang))
        )
        return
    await message.reply_text(t(lang, "reinstate_done_who", who=who, project=project.name_in(lang)))
    told = await language_of(context.bot_data, target)
    try:
        await notice(context, target, t(told, "reinstated", project=project.name_in(told)))
    except Forbidden:  # they blocked the bot: reinstated all the same, just not told
        log.info("reinstated worker %s could not be told", target)


async def _reviewable(context: Context, user_id: int) -> list[Project]:
    """Projects the user may review: all for admins (no need to join), else those where they
    are a reviewer or a coordinator."""
    repo = context.bot_data.repo
    if context.bot_data.is_admin(user_id):
        return await repo.list_projects()
    found = await repo.projects_of(user_id, Role.REVIEWER)
    found += await repo.projects_of(user_id, Role.COORDINATOR)
    return sorted(found, key=lambda p: p.id)


async def send_review(context: Context, user_id: int, project: Project, lang: str) -> None:
    """Send the next disputed sample with the crowd's counts and one button per option."""
    quality, repo = context.bot_data.quality, context.bot_data.repo
    if await repo.project_state(project.id) in ("closed", "archived"):
        await context.bot.send_message(
            user_id, t(lang, "review_read_only", project=project.name_in(lang))
        )
        return
    item = await quality.next_review(project.id)
    if item is None:
        await context.bot.send_message(
            user_id, t(lang, "review_none", project=project.name_in(lang))
        )
        return
    sample, counts = item
    options = sorted(await repo.options(project.id), key=lambda o: o.idx)
    shown = ", ".join(f"{pick_text(o.texts, lang)} {counts.get(o.idx, 0)}" for o in options)
    content = sample.text or sample.media or sample.ext_id
    rows = [
        [
            InlineKeyboardButton(
                pick_text(o.texts, lang), callback_data=ReviewTap(sample.id, o.idx).pack()
            )
        ]
        for o in options
    ]
    voters: dict[int, list[str]] = {}
    for idx, worker_id, first_name, username in await repo.labels_by_worker(sample.id):
        voters.setdefault(idx, []).append(person(first_name, username, worker_id))
    who = "\n".join(
        t(
            lang,
            "review_who_line",
            option=pick_text(o.texts, lang),
            workers=", ".join(voters[o.idx]),
        )
        for o in options
        if o.idx in voters
    )
    text = t(lang, "review_card", content=content[:3000], counts=shown)
    if who:
        text += t(lang, "review_who", lines=who[:800])
    await context.bot.send_message(
        user_id,
        text,
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def review(update: Update, context: Context) -> None:
    """Show the next sample waiting for a reviewer's decision: /review [project]."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = await lang_of(context, user)
    projects = await _reviewable(context, user.id)
    if not projects:
        await message.reply_text(t(lang, "not_reviewer"))
        return
    wanted = context.args[0] if context.args else None
    project = choose_project(projects, wanted)
    if project is None and wanted is None:
        current = await current_project(context, user.id)
        project = next((p for p in projects if current and p.id == current.id), None)
    if project is None and wanted is None:
        quality = context.bot_data.quality
        waiting = [p for p in projects if await quality.review_count(p.id)]
        project = waiting[0] if len(waiting) == 1 else None
    if project is None:
        names = ", ".join(p.slug for p in projects)
        key = "review_unknown" if wanted else "review_pick"
        await message.reply_text(t(lang, key, project=wanted or "", projects=names))
        return
    await send_review(context, user.id, project, lang)


async def review_tap(update: Update, context: Context) -> None:
    """Store a reviewer's decision (checked: their role, the sample still in review)."""
    if (got := await read_tap(update, context, ReviewTap)) is None:
        return
    query, user, lang, tap = got
    admin = context.bot_data.is_admin(user.id)
    if admin:  # an admin who never joined: the decision names them, so they must be known
        await context.bot_data.repo.upsert_worker(
            user.id, user.first_name, user.username, user.language_code
        )
    outcome, project_id = await context.bot_data.quality.decide_review(
        tap.sample_id, user.id, tap.option, admin=admin
    )
    if outcome == "not_reviewer":
        await safe_answer(query, t(lang, "not_reviewer"))
        return
    if outcome == "bad_option" or project_id is None:
        await reject(query, lang)
        return
    if outcome == "closed":
        await safe_answer(query, t(lang, "review_closed"))
        return
    if outcome == "read_only":
        project = await context.bot_data.repo.get_project(project_id)
        await asyncio.gather(
            safe_answer(query, t(lang, "review_read_only", project=project.name_in(lang))),
            safe_edit_markup(query, None),
        )
        return
    options = await context.bot_data.repo.options(project_id)
    chosen = next(pick_text(o.texts, lang) for o in options if o.idx == tap.option)
    project = await context.bot_data.repo.get_project(project_id)
    await asyncio.gather(
        safe_answer(query, t(lang, "review_saved", option=chosen)),
        safe_edit_markup(query, None),
        send_review(context, user.id, project, lang),
    )


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    return [
        CommandHandler("check", check),
        CommandHandler("review", review),
        CommandHandler("reinstate", reinstate),
        CallbackQueryHandler(review_tap, pattern=ReviewTap.pattern()),
    ]


def summary_text(
    report: CheckReport,
    lang: str,
    options: Sequence[Option] = (),
    names: Mapping[int, str] | None = None,
) -> str:
    """The /check reply: every generated line in `lang`, options by their button texts,
    workers by `names` ("Mina (1003)", see `_names`)."""
    s = report.summary
    counts = s["counts"]
    pairs = pairs_text(lang, report.result.pairs if report.result else [], options)
    named = names or {}

    def who(u: int) -> str:
        return named.get(u, f"({u})")

    workers = "".join(
        t(lang, "check_worker_suspended", who=who(u), reason=reason_text(lang, r))
        for u, r in report.suspended
    ) + "".join(
        t(lang, "check_worker_flagged", who=who(u), reason=reason_text(lang, r))
        for u, r in report.flagged
    )
    return t(
        lang,
        "check_summary",
        project=report.project,
        method=s["method"],
        seconds=f"{report.seconds:.2f}",
        labels=counts["labels"],
        excluded=counts["excluded_labels"],
        samples=states_text(lang, SampleCounts.model_validate(counts)),
        alpha="-" if s["alpha"] is None else f"{s['alpha']:.3f}",
        kappa="-" if s["kappa"] is None else f"{s['kappa']:.3f}",
        pairs=pairs,
        workers=workers,
    )
