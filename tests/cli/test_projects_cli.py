"""labelgram project archive, unarchive and delete: a confirmation, the audit log, the data."""

from __future__ import annotations

import asyncio
import io
import sys
import time
from pathlib import Path

import pytest

from cli.main import main
from services.export import export_project
from storage.models import Role, SampleIn
from storage.repository import Repository
from tests.conftest import make_spec


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("LABELGRAM_TOKEN", "LABELGRAM_DB_PATH", "LABELGRAM_ADMINS"):
        monkeypatch.delenv(key, raising=False)


async def seed(db: Path) -> None:
    async with Repository(db) as repo:
        for slug in ("colours", "other"):
            project = await repo.create_project(make_spec(slug=slug, name=slug.title()))
            await repo.import_samples(
                project.id, [SampleIn(ext_id=f"{slug}{i}", text=f"t{i}") for i in range(3)]
            )
            await repo.upsert_worker(77, "Mina", None, "en")
            await repo.write(
                "INSERT INTO memberships (worker_id, project_id, role, joined_at)"
                " VALUES (77, ?, ?, 0)",
                (project.id, Role.WORKER.value),
            )
            card = await repo.next_card(77, project.id)
            assert card is not None
            await repo.record_label(card.assignment_id, 77, 0)
            await repo.next_card(77, project.id)  # an open card


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    async def go() -> list[tuple[object, ...]]:
        async with Repository(db) as repo:
            return [tuple(r) for r in await repo.all(sql)]

    return asyncio.run(go())


class Typed(io.StringIO):
    """A terminal where the user types `text`."""

    def isatty(self) -> bool:
        return True


def test_archive_asks_for_the_slug_and_keeps_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "p.db"
    asyncio.run(seed(db))
    # Not a terminal and no --yes: refused, nothing changed.
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["--db", str(db), "project", "archive", "colours"]) == 2
    assert "--yes" in capsys.readouterr().err
    # The wrong slug typed: left as it was.
    monkeypatch.setattr(sys, "stdin", Typed("colour\n"))
    assert main(["--db", str(db), "project", "archive", "colours"]) == 1
    assert query(db, "SELECT COUNT(*) FROM project_life") == [(0,)]
    monkeypatch.setattr(sys, "stdin", Typed("colours\n"))
    assert main(["--db", str(db), "project", "archive", "colours"]) == 0
    out = capsys.readouterr().out
    assert "archived (1 open cards taken back)" in out
    assert query(
        db,
        "SELECT p.slug, l.state FROM project_life AS l JOIN projects AS p ON p.id = l.project_id",
    ) == [("colours", "archived")]
    assert query(db, "SELECT kind FROM events WHERE kind = 'project.archived'") == [
        ("project.archived",)
    ]

    async def claims() -> tuple[object, object]:
        async with Repository(db) as repo:
            await repo.upsert_worker(78, "Jun", None, "en")
            a = await repo.next_card(78, (await repo.get_project("colours")).id)
            b = await repo.next_card(78, (await repo.get_project("other")).id)
            return a, b

    archived, other = asyncio.run(claims())
    assert archived is None  # no cards out of an archived project
    assert other is not None
    result = export_project(db, "colours", "jsonl", tmp_path / "c.jsonl")
    assert (tmp_path / "c.jsonl").read_text().count("\n") == 3
    assert result.files

    capsys.readouterr()
    assert main(["--db", str(db), "project", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].endswith("Colours [archived]")
    assert listed[1].endswith("Other")
    assert main(["--db", str(db), "project", "unarchive", "colours"]) == 0
    assert query(db, "SELECT state FROM project_life") == [("closed",)]


def test_delete_removes_the_project_and_keeps_the_audit_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "p.db"
    asyncio.run(seed(db))
    assert main(["--db", str(db), "project", "delete", "colours", "--yes"]) == 0
    assert "deleted (1 labels)" in capsys.readouterr().out
    assert query(db, "SELECT slug FROM projects") == [("other",)]
    assert query(db, "SELECT COUNT(*) FROM samples") == [(3,)]
    assert query(db, "SELECT COUNT(*) FROM labels") == [(1,)]
    assert query(db, "SELECT COUNT(*) FROM assignments") == [(2,)]
    deleted = query(db, "SELECT data FROM events WHERE kind = 'project.deleted'")
    assert len(deleted) == 1
    assert '"slug": "colours"' in str(deleted[0][0])
    assert query(db, "SELECT COUNT(*) FROM events WHERE kind = 'label.recorded'") == [(2,)]
    assert main(["--db", str(db), "project", "delete", "colours", "--yes"]) == 2
    assert "no project" in capsys.readouterr().err


def test_delete_refuses_while_the_bot_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "p.db"
    asyncio.run(seed(db))

    async def alive() -> None:
        async with Repository(db) as repo:
            await repo.write(
                "INSERT INTO runs (started_at, alive_at) VALUES (?, ?)", (time.time(), time.time())
            )

    asyncio.run(alive())
    assert main(["--db", str(db), "project", "delete", "colours", "--yes"]) == 2
    assert "stop it first" in capsys.readouterr().err
    assert query(db, "SELECT COUNT(*) FROM projects") == [(2,)]
