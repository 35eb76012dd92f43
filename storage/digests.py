"""Daily digests: the figures a digest shows, what it covered, and workers' opt-outs."""

from __future__ import annotations

from storage.db import Database


class Digests(Database):
    """(issue 15)"""
