"""The persistent outbox: one row per recipient of a broadcast or a mass notice, marked when
Telegram confirms it, so that a restart resumes with nothing lost."""

from __future__ import annotations

from storage.db import Database


class Outbox(Database):
    """(issue 15)"""
