"""The record children (export, backup): run at the lowest priority, results and errors back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services import background, export_runner
from services.export_runner import ChildFailed, backup_in_child
from storage.repository import Repository


async def test_a_backup_child_runs_at_sched_idle_and_reports_its_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "data.db"
    async with Repository(db):
        pass  # a Labelgram database, as the backup's check wants
    policies: list[tuple[int, int]] = []

    def lower(pid: int) -> None:
        background.lower(pid)
        policies.append((os.sched_getscheduler(pid), os.getpriority(os.PRIO_PROCESS, pid)))

    monkeypatch.setattr(export_runner, "lower", lower)
    made = await backup_in_child(db, f"{tmp_path / 'backups'}/")
    assert made["size"] == os.stat(made["path"]).st_size > 0
    assert policies == [(os.SCHED_IDLE, 19)]


async def test_a_failing_child_reports_its_own_message(tmp_path: Path) -> None:
    with pytest.raises(ChildFailed, match="no database at"):
        await backup_in_child(tmp_path / "missing.db", f"{tmp_path}/")
