"""Menus and words that fit each role: /help and /projects, the command menu per role, and a
short hint for text or commands the bot does not know."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, JobQueue

from bot.context import Context


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    return []


def schedule(job_queue: JobQueue[Context]) -> None:
    """This feature's jobs (called at start-up, after the bot's own)."""
