"""The check child's entry point without the lowering, for the tests whose child runs unsliced.

multiprocessing's spawn pickles the target by name, so the child imports this module: it stays
as light as services.check_runner itself.
"""

from __future__ import annotations

from multiprocessing.connection import Connection

from quality.check import CheckSettings
from services import check_runner

_CHILD = check_runner._child  # the real one (the tests put `child` in its place)


def child(
    conn: Connection, out: str, path: str, project_id: int, settings: CheckSettings, parent: int
) -> None:
    """check_runner's child, at the priority it was started with: nice 0, not SCHED_IDLE."""
    setattr(check_runner, "_lower", _not_lowered)  # noqa: B010 (not exported)
    _CHILD(conn, out, path, project_id, settings, parent)


def _not_lowered(pid: int) -> None:
    """Leave the process's priority as it is."""
