from __future__ import annotations

import codecs
import time
from pathlib import Path

import pytest

from cli.main import _Progress, eta_seconds, format_eta, main, progress_line
from intake.estimate import estimate_rows
from intake.pipeline import Report

PROJECT = Path("cli/demo_data/project.toml").resolve()


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


def test_demo_runs_the_whole_job_and_its_labels_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "demo.db")
    argv = ["--db", db, "demo", "--workers", "4", "--samples", "12", "--overlap", "2", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Samples finished:   12/12" in out
    assert "Labels:             24 in" in out
    assert "Majority vote:" in out
    assert "p99" in out
    assert out.count("worker0") == 4
    assert f"The demo's labels are kept in {db}. Try:" in out
    assert f"labelgram --db {db} export reviews " in out
    assert main(["--db", db, "export", "reviews", "-o", "out/", "--quiet"]) == 0
    rows = (tmp_path / "out" / "data.jsonl").read_text().splitlines()
    assert len(rows) == 12
    assert "Review sentiment" in (tmp_path / "out" / "README.md").read_text()


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


# --- import progress: rate and ETA ----------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0:00"), (12.4, "0:12"), (59.6, "1:00"), (725, "12:05"), (3725, "1:02:05")],
)
def test_format_eta(seconds: float, shown: str) -> None:
    assert format_eta(seconds) == shown


def test_progress_line_with_and_without_eta() -> None:
    elapsed = 123_456 / 45_678  # 45,678 rows/s
    total = 123_456 + 12 * 45_678  # 12 s of rows left at that rate
    line = progress_line(123_456, 120_000, elapsed, total)
    assert line == "123,456 rows read, 120,000 kept  45,678 rows/s  ETA 0:12"
    assert progress_line(123_456, 120_000, elapsed, None).endswith("rows/s")
    assert "ETA" not in progress_line(123_456, 1, elapsed, 100_000)  # past a low estimate
    assert eta_seconds(0, 0.0, 100) is None
    assert eta_seconds(50, 10.0, 100) == pytest.approx(10.0)


def test_progress_redraws_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    progress = _Progress(total_rows=2000)
    report = Report(source="x.csv", rows=1000, kept=990, started=time.perf_counter() - 1)
    progress(report)
    report.rows = 3000  # past the estimate: the ETA goes and the line is blanked to its end
    progress(report)
    err = capsys.readouterr().err
    first, second = err.split("\r")[1:]
    assert first.startswith("  1,000 rows read, 990 kept  ")
    assert "ETA 0:01" in first
    assert "ETA" not in second
    assert len(second) == len(first)


def _csv_with_line_breaks(path: Path, n: int) -> Path:
    path.write_text(
        "id,text,gold\n"
        + "".join(f'{i:05},"first line {i:05}\nsecond line",pos\n' for i in range(n))
    )
    return path


def test_estimate_counts_records_not_lines(tmp_path: Path) -> None:
    path = _csv_with_line_breaks(tmp_path / "d.csv", 5000)
    estimate = estimate_rows(path, sample_bytes=8192)
    assert estimate == pytest.approx(5000, rel=0.05)
    assert estimate_rows(path) == pytest.approx(5000)  # fits in the default sample: exact


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("d.txt", "".join(f"sample number {i:05}\n" for i in range(5000)).encode()),
        ("d.jsonl", "".join(f'{{"text": "s {i:05}"}}\n\n' for i in range(5000)).encode()),
        (
            "d.json",
            ("[\n" + ",\n".join(f' {{"t": "{i:05}"}}' for i in range(5000)) + "]").encode(),
        ),
        (
            "d.txt",  # Excel's Unicode Text: UTF-16 TSV with a header
            codecs.BOM_UTF16_LE
            + ("text\tgold\r\n" + "".join(f"s {i:05}\tpos\r\n" for i in range(5000))).encode(
                "utf-16-le"
            ),
        ),
    ],
    ids=["txt", "jsonl", "json", "utf16-tsv-txt"],
)
def test_estimate_other_formats(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert estimate_rows(path, sample_bytes=4096) == pytest.approx(5000, rel=0.05)


def test_estimate_xlsx_and_no_estimate(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["text"])
    for i in range(300):
        book.active.append([f"s {i}"])
    book.save(tmp_path / "d.xlsx")
    assert estimate_rows(tmp_path / "d.xlsx") == 300
    assert estimate_rows(tmp_path) is None  # a folder of media
    assert estimate_rows(tmp_path / "missing.csv") is None
    (tmp_path / "empty.csv").write_bytes(b"")
    assert estimate_rows(tmp_path / "empty.csv") is None


def test_project_create_is_all_or_nothing_with_its_data_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "l.db")
    project_file = tmp_path / "p.toml"
    project_file.write_text(PROJECT.read_text().replace('"reviews.jsonl"', '"data.csv"'))
    data = tmp_path / "data.csv"
    data.write_bytes(b"text,gold\ngreat,pos\nna\xefve caf\xe9 \xff\xfe,neg\n")  # not UTF-8
    assert main(["--db", db, "project", "create", str(project_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert "byte" in err[0]
    assert err[1] == (
        f"labelgram: project 'reviews' was not created; fix data.csv and run"
        f" `labelgram project create {project_file}` again"
    )
    assert main(["--db", db, "project", "list"]) == 0
    assert capsys.readouterr().out.startswith("no projects yet")  # nothing left behind
    data.write_text("text,gold\ngreat,pos\nawful,neg\n")
    assert main(["--db", db, "project", "create", str(project_file)]) == 0  # not "exists"
    out = capsys.readouterr().out
    assert "created project 'reviews' (id 1)" in out
    assert "2 rows read, 2 kept" in out
    assert main(["--db", db, "project", "list"]) == 0
    assert "0/2 done" in capsys.readouterr().out


def test_project_create_refuses_a_question_over_telegram_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "l.db")
    project_file = tmp_path / "p.toml"
    project_file.write_text(
        PROJECT.read_text()
        .replace("What is the sentiment of this review?", "Q" * 5000)
        .replace('"reviews.jsonl"', f'"{PROJECT.parent / "reviews.jsonl"}"')
    )
    assert main(["--db", db, "project", "create", str(project_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(
        "labelgram: p.toml: question.en: 5,000 characters; a question may have at most 500"
    )
    assert main(["--db", db, "project", "list"]) == 0
    assert capsys.readouterr().out.startswith("no projects yet")


def test_the_row_estimate_never_opens_a_bomb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The progress estimate runs before the import: it must check the workbook first too
    (openpyxl reads every shared string while it opens one)."""
    openpyxl = pytest.importorskip("openpyxl")
    from tests.intake import bombs

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("openpyxl opened a workbook that fails the checks")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)
    assert estimate_rows(bombs.xlsx_whitespace(tmp_path / "w.xlsx", mib=20)) is None
    assert estimate_rows(bombs.xlsx_declares_huge(tmp_path / "d.xlsx")) is None
    # a sound one-sheet workbook is estimated from the check's scan alone: header + 1 row
    assert estimate_rows(bombs.xlsx_ok(tmp_path / "ok.xlsx")) == 1
