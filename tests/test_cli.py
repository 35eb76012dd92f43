from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main

PROJECT = Path("bot/demo_data/project.toml").resolve()


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("LABELGRAM_TOKEN", "LABELGRAM_DB_PATH", "LABELGRAM_ADMINS"):
        monkeypatch.delenv(key, raising=False)


def test_run_without_token_says_how_to_get_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "@BotFather" in err[0]
    assert "labelgram demo" in err[0]


def test_run_with_unopenable_db_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELGRAM_TOKEN", "123:abc")
    assert main(["--db", str(tmp_path / "no" / "such" / "x.db"), "run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "cannot open database" in err[0]


def test_project_create_import_and_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "l.db")
    assert main(["--db", db, "project", "create", str(PROJECT)]) == 0
    out = capsys.readouterr().out
    assert "created project 'reviews'" in out
    assert "600 rows read, 600 kept" in out
    assert "/start w" in out
    assert main(["--db", db, "project", "create", str(PROJECT)]) == 2
    assert "already exists" in capsys.readouterr().err
    data = tmp_path / "more.csv"
    data.write_text("review,gold\nnew one,pos\nnew two,neg\n,pos\n")
    assert main(["--db", db, "import", "reviews", str(data), "--text-col", "review"]) == 0
    assert "3 rows read, 2 kept" in capsys.readouterr().out
    assert main(["--db", db, "import", "reviews", str(data), "--text-col", "review"]) == 0
    out = capsys.readouterr().out
    assert "3 rows read, 0 kept" in out
    assert "dropped already_in_project: 2" in out
    assert main(["--db", db, "import", "reviews", str(data), "--text-col", "nope"]) == 2
    assert "the file has: review, gold" in capsys.readouterr().err
    assert main(["--db", db, "project", "list"]) == 0
    assert "0/602 done" in capsys.readouterr().out


def test_import_drops_unknown_gold_with_row_number_and_dry_run_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "l.db")
    assert main(["--db", db, "project", "create", str(PROJECT), "--no-import"]) == 0
    data = tmp_path / "bad.csv"
    data.write_text("text,gold\nfine,pos\nodd,happy\n")
    assert main(["--db", db, "import", "reviews", str(data), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "row 3: gold label 'happy' is not an option (neg, neu, pos)" in out
    assert "dry run, nothing written" in out
    assert main(["--db", db, "project", "list"]) == 0
    assert "0/0 done" in capsys.readouterr().out
    assert main(["--db", db, "import", "reviews", str(data)]) == 0
    assert main(["--db", db, "project", "list"]) == 0
    assert "0/1 done" in capsys.readouterr().out


def test_import_refuses_an_unreadable_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "l.db")
    assert main(["--db", db, "project", "create", str(PROJECT), "--no-import"]) == 0
    data = tmp_path / "latin.csv"
    data.write_bytes(b"text\nna\xefve caf\xe9 \xff\xfe\n")
    assert main(["--db", db, "import", "reviews", str(data)]) == 2
    assert "byte" in capsys.readouterr().err


def test_demo_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--workers", "2", "--overlap", "3"]) == 2
    assert "--overlap must be between 1 and the number of workers" in capsys.readouterr().err


def test_demo_runs_the_whole_job(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--workers", "4", "--samples", "12", "--overlap", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Samples finished:   12/12" in out
    assert "Labels:             24 in" in out
    assert "Majority vote:" in out
    assert "p99" in out
    assert out.count("worker0") == 4


def test_import_headerless_tsv_with_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "l.db")
    assert main(["--db", db, "project", "create", str(PROJECT), "--no-import"]) == 0
    data = tmp_path / "plain.tsv"
    data.write_text("first review\tpos\nsecond review\tneg\n")
    args = ["--db", db, "import", "reviews", str(data), "--no-header", "--names", "text,gold"]
    assert main(args) == 0
    assert "2 rows read, 2 kept" in capsys.readouterr().out
    assert main(["--db", db, "import", "reviews", str(data), "--no-header"]) == 2
    assert "column" in capsys.readouterr().err
