"""The repository: every aggregate's methods on one object over one connection.

Handlers, services and the command line take a `Repository`; each part of it lives in its
own module (`storage.projects`, `storage.assignments`, ...), over `storage.db.Database`.
The SQL and the constants other code names are re-exported here.
"""

from __future__ import annotations

from storage.assignments import (
    ANSWER_SQL,
    CLAIM_SQL,
    DUE_SQL,
    GOLD_CLAIM_SQL,
    PICK_SQL,
    SWEEP_EVERY_S,
)
from storage.digests import Digests
from storage.erasure import Erasure
from storage.events import Events
from storage.imports import STAGE_ABANDONED_AFTER, Imports, ImportSession
from storage.outbox import Outbox
from storage.problem_reports import ProblemReports
from storage.project_updates import ProjectUpdates
from storage.reports import Reports
from storage.roster import Roster
from storage.samples import SAMPLE_COLS, SAMPLE_STATES, sample_counts_of
from storage.taps import Taps
from storage.workers import IDLE_WITH_WORK_SQL, Workers

__all__ = [
    "ANSWER_SQL",
    "CLAIM_SQL",
    "DUE_SQL",
    "GOLD_CLAIM_SQL",
    "IDLE_WITH_WORK_SQL",
    "PICK_SQL",
    "SAMPLE_COLS",
    "SAMPLE_STATES",
    "STAGE_ABANDONED_AFTER",
    "SWEEP_EVERY_S",
    "ImportSession",
    "Repository",
    "sample_counts_of",
]


class Repository(
    Taps,
    ProjectUpdates,
    Imports,
    Reports,
    Workers,
    Erasure,
    ProblemReports,
    Outbox,
    Roster,
    Digests,
    Events,
):
    """Typed async access to the Labelgram database: projects, samples, workers, cards (claims,
    labels, /undo, the label tap), imports, reports and the audit log, over one connection
    (`Database`)."""
