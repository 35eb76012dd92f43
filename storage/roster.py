"""The worker roster: per-worker figures for /workers and the work report, notices sent once
per change, invites with expiry and use limits."""

from __future__ import annotations

from storage.db import Database


class Roster(Database):
    """(issue 15)"""
