"""labelgram project update, audit, backup and restore from the command line."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from cli.records import parse_since
from storage.models import SampleIn
from storage.quality import QualityStore
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


def test_audit_filters_and_refuses_what_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "x.db"
    assert main(["--db", str(db), "project", "create", str(project_file(tmp_path))]) == 0
    asyncio.run(one_label(db))
    capsys.readouterr()
    args = ["--db", str(db), "audit", "colours", "--kind", "label", "--with-worker-ids"]
    assert main(args) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert "label.recorded  Mina (@mina_k, 77)" in line
    assert "option green" in line
    args = ["--db", str(db), "audit", "--worker", "77", "--format", "jsonl", "--with-worker-ids"]
    assert main(args) == 0
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


def person_values(record: dict[str, Any]) -> list[Any]:
    """Whatever a JSON audit record says about people."""
    keys = ("actor", "worker", "reviewer", "by")
    return [record.get(k) for k in keys] + [record["data"].get(k) for k in keys[1:]]


def test_audit_shows_the_exports_pseudonyms_unless_asked_for_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "x.db"
    assert main(["--db", str(db), "project", "create", str(project_file(tmp_path))]) == 0
    asyncio.run(one_label(db))
    asyncio.run(suspend(db, 77, by=78))
    assert main(["--db", str(db), "export", "colours", "-o", str(tmp_path / "e.jsonl")]) == 0
    (sample,) = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines()]
    mina = sample["labels"][0]["worker"]
    assert mina.startswith("w-")
    capsys.readouterr()

    assert main(["--db", str(db), "audit", "colours"]) == 0
    out = capsys.readouterr().out
    assert f"label.recorded  {mina}  sample a, option green" in out
    suspended = next(line for line in out.splitlines() if "worker.suspended" in line)
    assert f"worker {mina}" in suspended
    assert "someone" not in suspended, "the coordinator has a pseudonym in the project too"
    for private in ("Mina", "mina_k", "Coco", r"\b77\b", r"\b78\b"):
        assert re.search(private, out) is None, private

    assert main(["--db", str(db), "audit", "--format", "jsonl"]) == 0
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    label = next(r for r in records if r["kind"] == "label.recorded")
    assert label["actor"] == {"pseudonym": mina}
    told = [v for r in records for v in person_values(r) if v is not None]
    assert told, "the events name people"
    # {"pseudonym": "w-..."} beside the data, "w-..." in it; no ids, no names.
    assert all(set(v) == {"pseudonym"} for v in told if isinstance(v, dict))
    shown = [v["pseudonym"] if isinstance(v, dict) else v for v in told]
    assert all(isinstance(v, str) and v.startswith("w-") for v in shown)
    assert "Mina" not in json.dumps(records)
    assert 77 not in [r["data"].get("worker") for r in records]

    # Forgotten: the same pseudonym as before (the project keeps it), and no id to show.
    asyncio.run(forget(db, 77))
    assert main(["--db", str(db), "audit"]) == 0
    out = capsys.readouterr().out
    assert f"label.recorded  {mina}" in out
    assert re.search(r"worker\.forgotten  bot  worker someone", out), "no project: no pseudonym"


async def suspend(db: Path, worker: int, by: int) -> None:
    async with Repository(db) as repo:
        project = await repo.get_project("colours")
        await repo.upsert_worker(by, "Coco", None, "en")
        await QualityStore(repo).suspend(worker, project.id, "too fast", "speed", actor=by)


async def forget(db: Path, worker: int) -> None:
    async with Repository(db) as repo:
        await repo.forget_worker(worker)


def test_audit_refuses_a_missing_or_foreign_database_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    for args in (["audit"], ["audit", "colours"]):
        assert main(["--db", str(missing), *args]) == 2
        err = capsys.readouterr().err
        assert err == f"labelgram: no database at {missing}; give --db or LABELGRAM_DB_PATH\n"
        assert not missing.exists(), "reading a database does not make one"
    other = tmp_path / "notes.db"
    other.write_text("hello")
    assert main(["--db", str(other), "audit"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"labelgram: cannot read the audit log of {other}")
    assert "file is not a database" in err
    assert err.count("\n") == 1
    assert main(["--db", str(other), "audit", "colours"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


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
