"""Ordinary mistakes on the command line (a missing folder, a file in the way, a database that
is none) are one line on stderr and exit code 2: never a traceback, never the token."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from pathlib import Path

import pytest

import cli.records
from cli.main import database_error_line, main, os_error_line
from tests.cli.test_records_cli import one_label, project_file

TOKEN = "123456:AAE-secret-token"


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("LABELGRAM_TOKEN", "LABELGRAM_DB_PATH", "LABELGRAM_ADMINS"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "x.db"
    assert main(["--db", str(path), "project", "create", str(project_file(tmp_path))]) == 0
    asyncio.run(one_label(path))
    capsys.readouterr()
    return path


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one line a refused command wrote (after checking it was refused, in one line)."""
    assert main(list(args)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("labelgram: ")
    assert "Traceback" not in err
    return err.strip()


def test_an_export_into_a_missing_folder(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, "--db", str(db), "export", "colours", "-o", "nodir/a.jsonl")
    assert line == (
        "labelgram: cannot write nodir/a.jsonl: no such folder; create it or choose another path"
    )
    assert not Path("nodir").exists()


def test_a_work_report_into_a_missing_folder(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, "--db", str(db), "workers", "report", "colours", "-o", "nodir/x.csv")
    assert line == (
        "labelgram: cannot write nodir/x.csv: no such folder; create it or choose another path"
    )
    Path("folder").mkdir()
    line = refused(capsys, "--db", str(db), "workers", "report", "colours", "-o", "folder")
    assert line == "labelgram: cannot write folder: it is a folder; choose another file name"


def test_a_work_report_of_a_missing_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(capsys, "--db", "none.db", "workers", "report", "colours")
    assert line == "labelgram: no database at none.db; give --db or LABELGRAM_DB_PATH"
    assert not (tmp_path / "none.db").exists()


def test_a_backup_into_a_file_as_if_a_folder(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("existing.db").write_text("")
    line = refused(capsys, "--db", str(db), "backup", "existing.db/")
    assert "existing.db" in line


def test_the_token_is_never_printed(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELGRAM_TOKEN", TOKEN)
    line = refused(capsys, "--db", str(db), "export", "colours", "-o", f"{TOKEN}/a.jsonl")
    assert TOKEN not in line
    assert "cannot write <token>/a.jsonl: no such folder" in line


def test_an_unforeseen_os_or_database_error_is_one_line_too(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELGRAM_TOKEN", TOKEN)

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", f"/backups/.{TOKEN}.db.partial")

    monkeypatch.setattr(cli.records, "backup", full)
    line = refused(capsys, "--db", str(db), "backup", "somewhere.db")
    assert line == (
        "labelgram: cannot write /backups/<token>.db: the disk is full; free some space or"
        " choose another disk"
    )

    def broken(*_: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(cli.records, "read_events", broken)
    line = refused(capsys, "--db", str(db), "audit")
    assert line.startswith(f"labelgram: cannot use the database {db} (disk I/O error)")


def test_os_error_lines_say_what_is_wrong_and_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "dir").mkdir()
    missing = FileNotFoundError(errno.ENOENT, "No such file", str(tmp_path / "no" / ".a.part"))
    assert os_error_line(missing) == (
        f"cannot use {tmp_path / 'no' / 'a'}: no such folder {tmp_path / 'no'}; create it or"
        " choose another path"
    )
    gone = FileNotFoundError(errno.ENOENT, "No such file", str(tmp_path / "gone.csv"))
    assert os_error_line(gone) == f"no such file {tmp_path / 'gone.csv'}; check the path"
    exists = FileExistsError(errno.EEXIST, "File exists", str(tmp_path / "file"))
    assert os_error_line(exists) == (
        f"{tmp_path / 'file'} is a file, not a folder; give a folder or another path"
    )
    under = NotADirectoryError(errno.ENOTDIR, "Not a directory", str(tmp_path / "file" / "x"))
    assert os_error_line(under) == (
        f"cannot use {tmp_path / 'file' / 'x'}: {tmp_path / 'file'} is a file, not a folder;"
        " choose another path"
    )
    folder = IsADirectoryError(errno.EISDIR, "Is a directory", str(tmp_path / "dir"))
    assert (
        os_error_line(folder) == f"cannot use {tmp_path / 'dir'}: it is a folder; give a file name"
    )
    denied = PermissionError(errno.EACCES, "Permission denied", "/root/x")
    assert "permission denied; choose a path" in os_error_line(denied)
    assert os_error_line(OSError(errno.EADDRINUSE, "Address already in use")) == (
        "Address already in use"
    )


def test_database_error_line_names_the_database() -> None:
    error = sqlite3.DatabaseError("file is not a database")
    assert database_error_line(error, Path("x.db")).startswith(
        "cannot use the database x.db (file is not a database); check that --db"
    )
    assert database_error_line(error, None) == "database error: file is not a database"
