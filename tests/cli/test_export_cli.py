"""`labelgram export` on the command line, and `labelgram aggregate --known/--classes`."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from cli.main import main
from cli.records import ExportBar
from storage.repository import Repository
from tests.services.export_world import build_world


async def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    # main() runs its own event loop (it opens the database once): off this one.
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
async def db(repo: Repository) -> Path:
    await build_world(repo)
    return repo.path


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["nope"], "labelgram: no project 'nope'; projects: colours"),
        (
            ["colours", "--format", "xml"],
            "labelgram: unknown format 'xml'; formats: jsonl, csv, labels, label-studio",
        ),
        (["colours", "--status", "open"], "labelgram: unknown status 'open'; statuses: done, all"),
    ],
)
async def test_refusals_are_one_line_and_exit_2(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], line: str
) -> None:
    out_dir = tmp_path / "out"
    code, out, err = await run(capsys, "--db", str(db), "export", *args, "-o", str(out_dir))
    assert code == 2
    assert out == ""
    assert err == line + "\n"
    assert not out_dir.exists()


async def test_a_missing_database_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    code, _, err = await run(capsys, "--db", str(missing), "export", "colours")
    assert code == 2
    assert err == f"labelgram: no database at {missing}; give --db or LABELGRAM_DB_PATH\n"
    assert not missing.exists()


async def test_export_prints_its_files_and_counts(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "labels"
    code, out, err = await run(
        capsys, "--db", str(db), "export", "colours", "--format", "labels", "-o", str(out_dir)
    )
    assert code == 0, err
    assert out.splitlines() == [
        str(out_dir / "labels.csv"),
        str(out_dir / "known.csv"),
        str(out_dir / "README.md"),
    ]
    assert err == "exported labels 14, known 3\n", "no progress bar off a terminal"
    code, out, err = await run(
        capsys, "--db", str(db), "export", "1", "-o", str(tmp_path / "one.jsonl"), "--quiet"
    )
    assert code == 0
    assert out == f"{tmp_path / 'one.jsonl'}\n"
    assert len((tmp_path / "one.jsonl").read_text().splitlines()) == 8


def test_the_progress_bar_draws_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr("sys.stderr", screen)
    bar = ExportBar()
    bar(0, 4)
    bar(1, 4)  # too soon after the last: not drawn
    bar(4, 4)  # the end always is
    bar.finish()
    drawn = screen.getvalue()
    assert drawn.count("\r") == 2
    assert drawn.endswith(f"[{'#' * 30}] 4/4 samples\n")
    assert f"[{'.' * 30}] 0/4 samples" in drawn


LABELS = "worker,task,label\nw1,t1,a\nw2,t1,b\nw1,t2,b\nw2,t2,b\n"


def test_known_answers_are_fixed_in_the_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(LABELS)
    known = tmp_path / "known.csv"
    known.write_text("task,label,source\nt1,b,review\nt9,a,gold\n")
    assert main(["aggregate", str(labels), "--method", "mv"]) == 0
    plain = capsys.readouterr().out
    assert "t1,b,0.5000,2,1" in plain, "a tie goes to the option the crowd chose most (b: 3 of 4)"
    even = tmp_path / "even.csv"
    even.write_text("worker,task,label\nw1,t1,a\nw2,t1,b\n")
    assert main(["aggregate", str(even), "--method", "mv"]) == 0
    assert "t1,a,0.5000,2,1" in capsys.readouterr().out, "equally frequent: first by name"
    assert main(["aggregate", str(even), "--method", "mv", "--classes", "b,a"]) == 0
    assert "t1,b,0.5000,2,1" in capsys.readouterr().out, "--classes orders the last tie-break"
    assert main(["aggregate", str(labels), "--method", "mv", "--known", str(known)]) == 0
    fixed = capsys.readouterr().out.splitlines()
    assert fixed == [
        "task,label,confidence,n_labels,tie",
        "t1,b,1.0000,2,0",
        "t2,b,1.0000,2,0",
        "t9,a,1.0000,0,0",
    ]


@pytest.mark.parametrize(
    ("known", "classes", "message"),
    [
        ("task,label\nt1,c\n", None, "known.csv: task 't1' has label 'c', which is not among"),
        ("task,label\nt1,a\n", "a", "labels.csv: labels not among --classes: b"),
        ("task,label\nt1,a\n", "a,b,a", "--classes must name each class once"),
    ],
)
def test_known_and_classes_refusals(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    known: str,
    classes: str | None,
    message: str,
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(LABELS)
    path = tmp_path / "known.csv"
    path.write_text(known)
    extra = ["--classes", classes] if classes else []
    assert main(["aggregate", str(labels), "--known", str(path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
