from __future__ import annotations

from pathlib import Path

import pytest

from bot.importing import import_file
from engine.readers import SourceError
from storage.repository import Repository
from tests.conftest import make_spec


async def test_reimport_adds_nothing_and_reports_why(repo: Repository, tmp_path: Path) -> None:
    project = await repo.create_project(make_spec())
    path = tmp_path / "d.csv"
    path.write_text("text,gold\nsky,blue\ngrass,green\n")
    first = await import_file(repo, project.id, path)
    assert (first.rows, first.kept) == (2, 2)
    again = await import_file(repo, project.id, path)
    assert again.kept == 0
    assert again.n_dropped == 2
    assert (await repo.project_status(project.id)).samples == 2
    stored = await repo.imports(project.id)
    assert [r.added for r in stored] == [0, 2]
    assert stored[1].report["kept"] == 2


async def test_same_content_under_a_new_file_is_already_in_project(
    repo: Repository, tmp_path: Path
) -> None:
    project = await repo.create_project(make_spec())
    a, b = tmp_path / "a.csv", tmp_path / "b.jsonl"
    a.write_text("text\nsky\n")
    b.write_text('{"text": "  sky "}\n{"text": "sea"}\n')
    await import_file(repo, project.id, a)
    report = await import_file(repo, project.id, b)
    assert report.kept == 1
    assert report.dropped["already_in_project"].examples == [
        "row 1: same content as a sample already in the project"
    ]


async def test_dry_run_reports_the_same_and_writes_nothing(
    repo: Repository, tmp_path: Path
) -> None:
    project = await repo.create_project(make_spec())
    path = tmp_path / "d.csv"
    path.write_text("text\none\ntwo\n\n")
    dry = await import_file(repo, project.id, path, dry_run=True)
    assert (dry.kept, dry.dry_run) == (2, True)
    assert (await repo.project_status(project.id)).samples == 0
    assert await repo.imports(project.id) == []
    real = await import_file(repo, project.id, path)
    assert real.to_dict()["kept"] == dry.to_dict()["kept"]


async def test_failure_halfway_leaves_the_project_as_it_was(
    repo: Repository, tmp_path: Path
) -> None:
    project = await repo.create_project(make_spec())
    path = tmp_path / "d.json"
    good = ",".join(f'{{"text": "item {i}"}}' for i in range(2500))
    path.write_text(f"[{good}, this is not json")  # breaks after more than two batches
    with pytest.raises(SourceError):
        await import_file(repo, project.id, path)
    assert (await repo.project_status(project.id)).samples == 0
    assert await repo.imports(project.id) == []


async def test_a_row_dropped_by_the_database_is_not_also_flagged(
    repo: Repository, tmp_path: Path
) -> None:
    project = await repo.create_project(make_spec())
    text = "The delivery arrived two days late and the box was badly damaged on one side"
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(f"text\n{text}.\n")
    second.write_text(f"text\n{text}!\n{text}.\n")  # row 3 is near row 2 and in the project
    await import_file(repo, project.id, first)
    report = await import_file(repo, project.id, second)
    assert report.dropped["already_in_project"].count == 1
    assert "near_duplicate" not in report.flagged
    assert report.kept == 1
