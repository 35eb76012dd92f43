"""Problem reports as an inbox: notes, holds, a coordinator's decision (fix, exclude,
dismiss), the reporters told; and project life (paused, closed)."""

from __future__ import annotations

from storage.db import Database


class ProblemReports(Database):
    """(issue 15)"""
