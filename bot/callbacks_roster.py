"""Buttons of the worker roster and the invite list (see `bot.callbacks` for the codec).

Every field is a stable id; the handler checks each press against the database (does the
presser manage this project, is this still one of its workers, is the invite theirs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.callbacks import CallbackData

ROSTER_ACTIONS = ("suspend", "reinstate", "remove", "remove_yes")


@dataclass(frozen=True)
class WorkersPage(CallbackData, kind="wp"):
    """A page of a project's roster."""

    project_id: int
    page: int


@dataclass(frozen=True)
class WorkerCard(CallbackData, kind="wc"):
    """A worker's card, opened from a page of the roster (to go back to)."""

    project_id: int
    worker_id: int
    page: int


@dataclass(frozen=True)
class WorkerAction(CallbackData, kind="wa"):
    """Suspend, reinstate or remove (asked, then confirmed) a worker from their card."""

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"action": ROSTER_ACTIONS}

    project_id: int
    worker_id: int
    page: int
    action: str


@dataclass(frozen=True)
class WorkReportTap(CallbackData, kind="wr"):
    """The work report (CSV) of a project, this month so far."""

    project_id: int


@dataclass(frozen=True)
class RevokeInvite(CallbackData, kind="ivx"):
    """Revoke an invite link by its number."""

    seq: int
