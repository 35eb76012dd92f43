"""Quality commands: /check (coordinators), /review and its buttons (reviewers), /reinstate."""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import ReviewTap
from bot.context import Context, language_of
from bot.texts import t
from config.project import pick_text
from handlers.common import (
    choose_project,
    current_project,
    managed_projects,
    notify,
    read_command,
    read_managed,
    read_tap,
    reject,
    safe_answer,
    safe_edit_markup,
    states_text,
)
from services.checks import CheckReport, check_project
from storage.models import Project, Role, SampleCounts


async def _check_project(context: Context, user_id: int) -> Project | None:
    """The managed project /check names, or the user's only one."""
    projects = await managed_projects(context, user_id)
    return choose_project(projects, context.args[0] if context.args else None)


async def check(update: Update, context: Context) -> None:
    """Run the quality check now and reply with its figures: /check [project]."""
    if (got := await read_command(update, context, _check_project, "not_allowed")) is None:
        return
    message, _, lang, project = got
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
        reply = t(lang, "check_nothing", project=project.name)
    else:
        reply = summary_text(report, lang)
    await inbox.record_effect(update.update_id, "check", reply)
    await message.reply_text(reply)
    await notify(context, report)


async def reinstate(update: Update, context: Context) -> None:
    """Lift a worker's suspension or failed exam: /reinstate USER_ID [project]."""
    if (got := await read_managed(update, context)) is None:
        return
    message, user, lang, projects = got
    args = list(context.args or [])
    target = args[0] if args else ""
    project = choose_project(projects, args[1] if len(args) > 1 else None)
    if not target.isdigit() or project is None:
        await message.reply_text(t(lang, "reinstate_usage", user_id=target or "?"))
        return
    quality = context.bot_data.quality
    if not await quality.reinstate(int(target), project.id, actor=user.id):
        await message.reply_text(t(lang, "reinstate_usage", user_id=target))
        return
    await message.reply_text(t(lang, "reinstate_done", user_id=target, project=project.name))
    told = await language_of(context.bot_data, int(target))
    await context.bot.send_message(int(target), t(told, "reinstated", project=project.name))


async def _review_project(context: Context, user_id: int) -> Project | None:
    project = await current_project(context, user_id)
    if project is not None:
        role = await context.bot_data.repo.role_of(user_id, project.id)
        if role in (Role.REVIEWER, Role.COORDINATOR) or context.bot_data.is_admin(user_id):
            return project
    for role in (Role.REVIEWER, Role.COORDINATOR):
        projects = await context.bot_data.repo.projects_of(user_id, role)
        if projects:
            return projects[0]
    return None


async def send_review(context: Context, user_id: int, project: Project, lang: str) -> None:
    """Send the next disputed sample with the crowd's counts and one button per option."""
    quality, repo = context.bot_data.quality, context.bot_data.repo
    item = await quality.next_review(project.id)
    if item is None:
        await context.bot.send_message(user_id, t(lang, "review_none", project=project.name))
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
    await context.bot.send_message(
        user_id,
        t(lang, "review_card", content=content[:3500], counts=shown),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def review(update: Update, context: Context) -> None:
    """Show the next sample waiting for a reviewer's decision."""
    if (got := await read_command(update, context, _review_project, "not_reviewer")) is None:
        return
    _, user, lang, project = got
    await send_review(context, user.id, project, lang)


async def review_tap(update: Update, context: Context) -> None:
    """Store a reviewer's decision (checked: their role, the sample still in review)."""
    if (got := await read_tap(update, context, ReviewTap)) is None:
        return
    query, user, lang, tap = got
    outcome, project_id = await context.bot_data.quality.decide_review(
        tap.sample_id, user.id, tap.option
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


def summary_text(report: CheckReport, lang: str) -> str:
    """The /check reply."""
    s = report.summary
    counts = s["counts"]
    pairs = "".join(f"• {p}\n" for p in s["pairs"])
    workers = "".join(f"⛔ {u}: {r}\n" for u, r in report.suspended) + "".join(
        f"⚠️ {u}: {r}\n" for u, r in report.flagged
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
