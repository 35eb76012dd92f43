"""Coordinator commands: invite links and project status. Admins come from the settings."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.context import Context
from bot.texts import t
from handlers.common import choose_project, read_managed, states_text
from storage.models import Role


async def invite(update: Update, context: Context) -> None:
    """Make an invite link: /invite <project> [worker|reviewer|coordinator]."""
    if (got := await read_managed(update, context)) is None:
        return
    message, user, lang, projects = got
    args = list(context.args or [])
    role = Role.WORKER
    if args and args[-1].lower() in ("worker", "coordinator", "reviewer"):
        role = Role(args.pop().lower())
    names = ", ".join(p.slug for p in projects)
    if len(args) > 1:
        await message.reply_text(t(lang, "invite_usage", projects=names))
        return
    project = choose_project(projects, args[0] if args else None)
    if project is None:
        key = "unknown_project" if args else "invite_usage"
        await message.reply_text(t(lang, key, project=args[0] if args else "", projects=names))
        return
    if role is Role.COORDINATOR and not context.bot_data.is_admin(user.id):
        await message.reply_text(t(lang, "admin_only"))
        return
    code = await context.bot_data.repo.create_invite(
        project.id, role, actor=user.id, update_id=update.update_id
    )
    link = f"https://t.me/{context.bot.username}?start={code}"
    await message.reply_text(
        t(lang, "invite_made", role=t(lang, f"role_{role.value}"), project=project.name, link=link)
    )


async def status(update: Update, context: Context) -> None:
    """Show progress per project: /status [project]."""
    if (got := await read_managed(update, context)) is None:
        return
    message, _, lang, projects = got
    if context.args:
        chosen = choose_project(projects, context.args[0])
        if chosen is None:
            names = ", ".join(p.slug for p in projects)
            await message.reply_text(
                t(lang, "unknown_project", project=context.args[0], projects=names)
            )
            return
        projects = [chosen]
    repo = context.bot_data.repo
    blocks = []
    for project in projects[:20]:
        s = await repo.project_status(project.id)
        block = t(
            lang,
            "status",
            project=project.name,
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
    return [CommandHandler("invite", invite), CommandHandler("status", status)]
