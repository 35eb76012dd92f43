"""Coordinator commands: invite links (/invite with expiry and use limit, /invites to list and
revoke them) and project status. Admins come from the settings."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks_roster import RevokeInvite
from bot.context import Context
from bot.texts import t
from handlers.common import (
    choose_project,
    managed_projects,
    read_managed,
    read_tap,
    reject,
    safe_answer,
    states_text,
)
from storage.models import Project, Role

log = logging.getLogger(__name__)

MAX_INVITE_DAYS = 365
MAX_INVITE_USES = 100_000
MAX_LISTED = 30  # links in one /invites message (buttons: 3 a row)


def _limits(
    lang: str, expires_at: float | None, uses: int, max_uses: int | None
) -> tuple[str, str]:
    """An invite's expiry and uses, as /invite and /invites show them."""
    if expires_at is None:
        expiry = t(lang, "invite_forever")
    else:
        date = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M")
        expiry = t(lang, "invite_until", date=date)
    if max_uses is None:
        return expiry, t(lang, "invite_uses_any", used=uses)
    return expiry, t(lang, "invite_uses_max", used=uses, max=max_uses)


def _count(text: str, top: int) -> int | None:
    """A whole number from 0 to `top` typed by a coordinator, or None."""
    return int(text) if _digits(text) and int(text) <= top else None


def _digits(text: str) -> bool:
    """ASCII digits only, and few enough for any count or id ("²" is a digit to isdigit)."""
    return text.isascii() and text.isdecimal() and len(text) <= 15


async def invite(update: Update, context: Context) -> None:
    """Make an invite link: /invite <project> [worker|reviewer|coordinator] [days] [uses]."""
    if (got := await read_managed(update, context)) is None:
        return
    message, user, lang, projects = got
    args = list(context.args or [])
    names = ", ".join(p.slug for p in projects)
    numbers: list[str] = []  # [DAYS] [USES] at the end (a lone number is the project id)
    while args and _digits(args[-1]) and len(numbers) < 2 and len(args) > 1:
        numbers.insert(0, args.pop())
    days = _count(numbers[0], MAX_INVITE_DAYS) if numbers else None
    uses = _count(numbers[1], MAX_INVITE_USES) if len(numbers) > 1 else None
    if (numbers and days is None) or (len(numbers) > 1 and uses is None):
        await message.reply_text(t(lang, "invite_usage_limits", projects=names))
        return
    role = Role.WORKER
    if args and args[-1].lower() in ("worker", "coordinator", "reviewer"):
        role = Role(args.pop().lower())
    if len(args) > 1:
        await message.reply_text(t(lang, "invite_usage_limits", projects=names))
        return
    project = choose_project(projects, args[0] if args else None)
    if project is None:
        key = "unknown_project" if args else "invite_usage_limits"
        await message.reply_text(t(lang, key, project=args[0] if args else "", projects=names))
        return
    if role is Role.COORDINATOR and not context.bot_data.is_admin(user.id):
        await message.reply_text(t(lang, "admin_only"))
        return
    repo = context.bot_data.repo
    code = await repo.create_invite(
        project.id, role, actor=user.id, update_id=update.update_id, days=days, uses=uses
    )
    made = await repo.invite_by_code(code)
    link = f"https://t.me/{context.bot.username}?start={code}"
    expiry, used = _limits(
        lang,
        made.expires_at if made else None,
        made.uses if made else 0,
        made.max_uses if made else None,
    )
    await message.reply_text(
        t(
            lang,
            "invite_made_limits",
            role=t(lang, f"role_{role.value}"),
            project=project.name_in(lang),
            link=link,
            expiry=expiry,
            uses=used,
        )
    )


async def _invite_list(
    context: Context, projects: list[Project], lang: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The invite links of these projects that still work, a Revoke button for each."""
    found = await context.bot_data.repo.invites([p.id for p in projects])
    if not found:
        return t(lang, "invites_none"), None
    by_id = {p.id: p for p in projects}
    lines = [t(lang, "invites_header")]
    buttons = []
    for inv in found[:MAX_LISTED]:
        expiry, used = _limits(lang, inv.expires_at, inv.uses, inv.max_uses)
        lines.append(
            t(
                lang,
                "invites_line",
                n=inv.seq,
                role=t(lang, f"role_{inv.role.value}"),
                project=by_id[inv.project_id].name_in(lang),
                uses=used,
                expiry=expiry,
                tail=inv.code[-6:],
            )
        )
        buttons.append(
            InlineKeyboardButton(
                t(lang, "btn_revoke", n=inv.seq), callback_data=RevokeInvite(inv.seq).pack()
            )
        )
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    return "\n".join(lines)[:4096], InlineKeyboardMarkup(rows)


async def _named(
    message: Message, lang: str, projects: list[Project], args: list[str] | None
) -> list[Project] | None:
    """The project the first argument names (all of `projects` without one); None, after
    telling the user which exist, when it names none of them."""
    if not args:
        return projects
    chosen = choose_project(projects, args[0])
    if chosen is None:
        names = ", ".join(p.slug for p in projects)
        await message.reply_text(t(lang, "unknown_project", project=args[0], projects=names))
        return None
    return [chosen]


async def invites(update: Update, context: Context) -> None:
    """List the invite links that still work, with a Revoke button each: /invites [project]."""
    if (got := await read_managed(update, context)) is None:
        return
    message, _, lang, managed = got
    if (projects := await _named(message, lang, managed, context.args)) is None:
        return
    text, markup = await _invite_list(context, projects, lang)
    await message.reply_text(text, reply_markup=markup)


async def revoke_tap(update: Update, context: Context) -> None:
    """Revoke an invite link (checked: the presser manages its project)."""
    if (got := await read_tap(update, context, RevokeInvite)) is None:
        return
    query, user, lang, tap = got
    repo = context.bot_data.repo
    managed = await managed_projects(context, user.id)
    found = await repo.invite_by_seq(tap.seq)
    if found is None or found.project_id not in {p.id for p in managed}:
        await reject(query, lang)
        return
    revoked = await repo.revoke_invite(tap.seq, actor=user.id)
    await safe_answer(query, t(lang, "invite_revoked" if revoked else "invite_gone", n=tap.seq))
    text, markup = await _invite_list(context, managed, lang)
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except TelegramError as exc:  # 'not modified' (a replay) or the message is gone
        log.debug("invite list of callback %s not edited: %s", query.id, exc.message)


async def status(update: Update, context: Context) -> None:
    """Show progress per project: /status [project]."""
    if (got := await read_managed(update, context)) is None:
        return
    message, _, lang, managed = got
    if (projects := await _named(message, lang, managed, context.args)) is None:
        return
    repo = context.bot_data.repo
    blocks = []
    for project in projects[:20]:
        s = await repo.project_status(project.id)
        block = t(
            lang,
            "status",
            project=project.name_in(lang),
            slug=project.slug,
            samples=states_text(lang, s.states),
            labels=s.labels,
            cards=s.open_assignments,
            members=s.members,
            active=s.active_workers,
            reports=s.reports,
        )
        for last in await repo.imports(project.id, limit=1):
            block += "\n" + t(
                lang,
                "status_import",
                source=last.source,
                rows=last.rows_read,
                added=last.added,
                dropped=last.dropped,
            )
        blocks.append(block)
    await message.reply_text("\n\n".join(blocks)[:4096])


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """The coordinator commands."""
    return [
        CommandHandler("invite", invite),
        CommandHandler("invites", invites),
        CommandHandler("status", status),
        CallbackQueryHandler(revoke_tap, pattern=RevokeInvite.pattern()),
    ]
