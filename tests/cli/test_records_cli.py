"""labelgram project update, audit, backup and restore from the command line."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from cli.main import main
from cli.records import parse_since
from storage.models import SampleIn
from storage.repository import Repository

PROJECT = """
name = "Colours"
slug = "colours"
question = "Which colour?"
guide = "{guide}"
overlap = 2
{extra}

[[options]]
id = "red"
text = "Red"

[[options]]
id = "{second}"
text = "Green"
"""


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("LABELGRAM_TOKEN", "LABELGRAM_DB_PATH", "LABELGRAM_ADMINS"):
        monkeypatch.delenv(key, raising=False)


def project_file(tmp_path: Path, guide: str = "Pick one.", second: str = "green") -> Path:
    path = tmp_path / f"colours-{abs(hash((guide, second)))}.toml"
    path.write_text(PROJECT.format(guide=guide, second=second, extra=""))
    return path


async def one_label(db: Path) -> None:
    async with Repository(db) as repo:
        project = await repo.get_project("colours")
        await repo.upsert_worker(77, "Mina", "mina_k", "ko")
        await repo.write(
            "INSERT INTO memberships (worker_id, project_id, role, joined_at)"
            " VALUES (77, ?, 'worker', 0)",
            (project.id,),
        )
        await repo.import_samples(project.id, [SampleIn(ext_id="a", text="sky")])
        card = await repo.next_card(77, project.id)
        assert card is not None
        await repo.record_label(card.assignment_id, 77, 1)


def test_project_list_says_when_there_are_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", str(tmp_path / "x.db"), "project", "list"]) == 0
    assert "no projects yet" in capsys.readouterr().out


def test_project_update_applies_a_new_guide_and_refuses_to_rename_a_used_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "x.db"
    assert main(["--db", str(db), "project", "create", str(project_file(tmp_path))]) == 0
    asyncio.run(one_label(db))
    capsys.readouterr()
    changed = project_file(tmp_path, guide="Pick the main colour.")
    assert main(["--db", str(db), "project", "update", str(changed)]) == 0
    out = capsys.readouterr().out
    assert "project 'colours' updated: guide" in out
    assert "version 2" in out
    renamed = project_file(tmp_path, guide="Pick the main colour.", second="lime")
    assert main(["--db", str(db), "project", "update", str(renamed)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("labelgram: options: option id 'green' (renamed to 'lime'?)")
    assert main(["--db", str(db), "project", "update", str(changed)]) == 0
    assert "nothing changed" in capsys.readouterr().out
    other = tmp_path / "other.toml"
    other.write_text(changed.read_text().replace('slug = "colours"', 'slug = "nope"'))
    assert main(["--db", str(db), "project", "update", str(other)]) == 2
    assert "no project with slug 'nope'" in capsys.readouterr().err


def test_audit_prints_names_filters_and_refuses_what_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "x.db"
    assert main(["--db", str(db), "project", "create", str(project_file(tmp_path))]) == 0
    asyncio.run(one_label(db))
    capsys.readouterr()
    assert main(["--db", str(db), "audit", "colours", "--kind", "label"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert "label.recorded  Mina (@mina_k, 77)" in line
    assert "option green" in line
    assert main(["--db", str(db), "audit", "--worker", "77", "--format", "jsonl"]) == 0
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in records] == ["label.recorded"]
    assert records[0]["actor"] == {"id": 77, "name": "Mina", "username": "mina_k"}
    assert main(["--db", str(db), "audit", "--kind", "lable"]) == 2
    err = capsys.readouterr().err
    assert "no event of kind 'lable'; kinds:" in err
    assert "label.recorded" in err
    assert main(["--db", str(db), "audit", "--since", "yesterday"]) == 2
    assert "--since 'yesterday'" in capsys.readouterr().err
    assert main(["--db", str(db), "audit", "nope"]) == 2
    assert "no project 'nope'" in capsys.readouterr().err
    assert main(["--db", str(db), "audit", "--since", "1h"]) == 0
    assert len(capsys.readouterr().out.splitlines()) >= 3  # created, imported, labeled


def test_parse_since() -> None:
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("30m", now=10_000.0) == 10_000.0 - 1800
    assert parse_since("2026-12-01") < parse_since("2026-12-01 09:30")


def test_backup_then_restore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "x.db"
    assert main(["--db", str(db), "project", "create", str(project_file(tmp_path))]) == 0
    asyncio.run(one_label(db))
    assert main(["--db", str(db), "backup", f"{tmp_path / 'backups'}/"]) == 0
    out = capsys.readouterr().out
    assert "checked" in out
    (copy,) = (tmp_path / "backups").glob("labelgram-*.db")
    with sqlite3.connect(db) as con:  # a change after the backup
        con.execute("UPDATE workers SET first_name = 'Changed' WHERE id = 77")
    assert main(["--db", str(db), "restore", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "check: ok" in out
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT first_name FROM workers WHERE id = 77").fetchone() == ("Mina",)
    assert main(["--db", str(db), "restore", str(tmp_path / "missing.db")]) == 2
    assert "not a good backup" in capsys.readouterr().err
