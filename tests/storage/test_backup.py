"""Backups while labeling writes, their checks, and restoring one."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

import pytest

from storage.backup import BackupError, backup, problems, prune_backups, restore
from storage.models import LabelStatus, Project
from storage.repository import Repository
from tests.conftest import add_project, add_worker


def live_labels(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(
            db.execute("SELECT COUNT(*) FROM labels WHERE retracted_at IS NULL").fetchone()[0]
        )


async def label_until(repo: Repository, project: Project, stop: asyncio.Event) -> int:
    """Workers 1..5 label round-robin until `stop` (or nothing is left); how many labels."""
    stored = 0
    while not stop.is_set():
        progressed = False
        for user in range(1, 6):
            card = await repo.next_card(user, project.id)
            if card is None:
                continue
            outcome = await repo.record_label(card.assignment_id, user, user % 3)
            assert outcome.status is LabelStatus.RECORDED
            stored += 1
            progressed = True
        if not progressed:
            break
        await asyncio.sleep(0)
    return stored


async def test_a_backup_taken_while_labeling_writes_is_consistent_and_restores(
    repo: Repository, tmp_path: Path
) -> None:
    project = await add_project(repo, 400, overlap=3)
    for user in range(1, 6):
        await add_worker(repo, user, project)
    stop = asyncio.Event()
    labeling = asyncio.create_task(label_until(repo, project, stop))
    await asyncio.sleep(0.2)
    before = live_labels(repo.path)
    result = await asyncio.to_thread(backup, repo.path, f"{tmp_path / 'backups'}/")
    await asyncio.sleep(0.1)
    stop.set()
    total = await labeling
    after = live_labels(repo.path)
    assert result.path.parent == tmp_path / "backups"
    assert result.path.name.startswith("labelgram-")
    assert problems(result.path) == []
    in_backup = live_labels(result.path)
    assert before <= in_backup <= after  # one moment of the labeling, whole
    assert in_backup < after == total  # labels went on after the copy was taken
    await repo.close()
    kept = restore(result.path, repo.path)
    assert kept is not None
    assert live_labels(kept) == after  # the replaced database is kept beside
    assert problems(repo.path) == []
    assert live_labels(repo.path) == in_backup
    # The restored database opens and labeling goes on from there.
    async with Repository(repo.path) as again:
        card = await again.next_card(1, project.id)
        assert card is not None
        assert (await again.record_label(card.assignment_id, 1, 0)).status is LabelStatus.RECORDED


async def test_restore_refuses_while_a_bot_runs_on_the_database(
    repo: Repository, tmp_path: Path
) -> None:
    await add_project(repo, 3)
    copy = backup(repo.path, tmp_path / "copy.db").path
    now = time.time()
    await repo.write("INSERT INTO runs (started_at, alive_at) VALUES (?, ?)", (now, now))
    with pytest.raises(BackupError, match="stop it first"):
        restore(copy, repo.path)
    assert problems(repo.path) == []  # left as it was
    await repo.close()
    assert restore(copy, repo.path, force=True) is not None


async def test_problems_names_what_is_wrong(repo: Repository, tmp_path: Path) -> None:
    project = await add_project(repo, 3)
    await add_worker(repo, 1, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    await repo.record_label(card.assignment_id, 1, 0)
    await repo.close()
    assert problems(repo.path) == []
    with sqlite3.connect(repo.path) as db:
        db.execute("UPDATE samples SET n_labels = n_labels + 1 WHERE id = ?", (card.sample.id,))
    assert problems(repo.path) == ["1 samples whose counters disagree with their labels"]
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    assert problems(other) == ["schema version 0: not a database of this Labelgram"]
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    assert problems(garbage)
    with pytest.raises(BackupError, match="not a good backup"):
        restore(garbage, repo.path)
    assert problems(tmp_path / "missing.db") == [f"{tmp_path / 'missing.db'} does not exist"]


async def test_backup_refusals_leave_nothing_behind(repo: Repository, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database"):
        backup(tmp_path / "missing.db", tmp_path / "b.db")
    with pytest.raises(BackupError, match="the database itself"):
        backup(repo.path, repo.path)
    assert not list(tmp_path.glob("*partial*"))  # noqa: ASYNC240


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    for stamp in ("20261201-000000", "20261202-000000", "20261203-000000"):
        (tmp_path / f"labelgram-{stamp}.db").write_bytes(b"")
    (tmp_path / "unrelated.db").write_bytes(b"")
    removed = prune_backups(tmp_path, keep=2)
    assert [p.name for p in removed] == ["labelgram-20261201-000000.db"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "labelgram-20261202-000000.db",
        "labelgram-20261203-000000.db",
        "unrelated.db",
    ]


async def labeled_once(repo: Repository, tmp_path: Path) -> Path:
    """One label in the database, closed; a checked backup of it."""
    project = await add_project(repo, 3)
    await add_worker(repo, 1, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    await repo.record_label(card.assignment_id, 1, 0)
    copy = backup(repo.path, tmp_path / "copy.db").path
    await repo.close()
    return copy


def left_beside(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}"))


async def test_restoring_the_database_onto_itself_is_refused(
    repo: Repository, tmp_path: Path
) -> None:
    await labeled_once(repo, tmp_path)
    with pytest.raises(BackupError, match="is the database itself"):
        restore(repo.path, repo.path)
    assert problems(repo.path) == []
    assert live_labels(repo.path) == 1
    assert not list(tmp_path.glob("*before-restore*"))  # noqa: ASYNC240


async def test_a_copy_that_cannot_be_made_leaves_the_database_in_place(
    repo: Repository, tmp_path: Path
) -> None:
    copy = await labeled_once(repo, tmp_path)
    blocked = tmp_path / f".{repo.path.name}.partial"
    blocked.mkdir()  # where the copy would be written
    with pytest.raises(BackupError, match="the database was not changed") as refused:
        restore(copy, repo.path)
    assert "\n" not in str(refused.value)
    assert problems(repo.path) == []
    assert live_labels(repo.path) == 1
    assert not list(tmp_path.glob("*before-restore*"))  # noqa: ASYNC240


async def test_a_failed_rename_puts_the_database_back(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = await labeled_once(repo, tmp_path)
    real = os.replace

    def refuse_the_partial(src: str | Path, dst: str | Path) -> None:
        if Path(src).name.endswith(".partial"):
            raise PermissionError("refused")
        real(src, dst)

    monkeypatch.setattr(os, "replace", refuse_the_partial)
    with pytest.raises(BackupError, match="cannot put the backup in place"):
        restore(copy, repo.path)
    monkeypatch.undo()
    assert problems(repo.path) == []
    assert live_labels(repo.path) == 1
    assert not list(tmp_path.glob("*before-restore*"))  # noqa: ASYNC240
    assert left_beside(repo.path) == []


async def test_a_corrupt_database_is_kept_as_it_is_and_replaced(
    repo: Repository, tmp_path: Path
) -> None:
    copy = await labeled_once(repo, tmp_path)
    garbage = b"not a database at all" * 100
    repo.path.write_bytes(garbage)
    kept = restore(copy, repo.path)
    assert kept is not None
    assert kept.read_bytes() == garbage
    assert problems(repo.path) == []
    assert live_labels(repo.path) == 1
    assert left_beside(repo.path) == []
    # A second restore in the same second keeps the first one's file too.
    again = restore(copy, repo.path)
    assert again is not None
    assert again != kept
    assert kept.read_bytes() == garbage
    assert problems(again) == []


async def test_a_backup_into_a_file_taken_for_a_folder_is_refused(
    repo: Repository, tmp_path: Path
) -> None:
    await add_project(repo, 3)
    (tmp_path / "taken").write_bytes(b"")
    with pytest.raises(BackupError, match="give a path in a folder you can write"):
        backup(repo.path, f"{tmp_path / 'taken'}/")
