"""Every bomb file is refused by `labelgram import` in one line, with the child's peak RSS checked.

Each bomb is small on disk and would expand to hundreds of megabytes (or lie about its size)
if read naively; the import runs as a real child process on a fresh project and must exit 2
with one line on stderr (no traceback), leave the project empty and stay under `PEAK_RSS_MB`.
The child reports its own peak (VmHWM of /proc/self/status, written to a file at exit):
getrusage(RUSAGE_CHILDREN) would also count whatever other child this test run has waited for.
The children run side by side, so the whole module takes a few seconds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.main import main
from storage.repository import Repository
from tests.intake import bombs

PEAK_RSS_MB = 300
TIMEOUT = 60
ROOT = Path(__file__).resolve().parents[2]
PROJECT = """\
name = "Bombs"
slug = "bombs"
question = { en = "Which?", ko = "어느 쪽인가요?" }
guide = { en = "Pick one.", ko = "하나를 골라 주세요." }

[[options]]
id = "pos"
text = { en = "Yes", ko = "네" }

[[options]]
id = "neg"
text = { en = "No", ko = "아니요" }
"""
# Runs the CLI as `labelgram` does, then writes the process's peak RSS (kB) to $HWM_FILE.
CHILD = """\
import os, sys
from cli.main import main
try:
    code = main(sys.argv[1:])
finally:
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["HWM_FILE"], "w") as out:
        out.write(peak)
sys.exit(code)
"""


@dataclass(frozen=True)
class Bomb:
    file: str
    build: Callable[[Path], Path]
    says: str  # a phrase the one line on stderr must hold


BOMBS = [
    Bomb("whitespace.xlsx", bombs.xlsx_whitespace, "possible zip bomb"),
    Bomb("quiet.xlsx", bombs.xlsx_quiet_whitespace, "text run of more than 1,048,576"),
    Bomb("cell.xlsx", bombs.xlsx_huge_cell, "text run of more than 1,048,576"),
    Bomb("declares.xlsx", bombs.xlsx_declares_huge, "would expand to more than 512 MB"),
    Bomb("lies.xlsx", bombs.xlsx_lies_small, "does not unpack to what its header declares"),
    Bomb("dimension.xlsx", bombs.xlsx_wide_dimension, "the first sheet spans 1,048,576 rows"),
    Bomb("past-cap.zip", bombs.media_zip_past_cap, "more than the 2.0 GB allowed"),
    Bomb("lies.zip", bombs.media_zip_lies, "damaged zip"),
    Bomb(
        "line.csv",
        lambda p: bombs.long_line(p, "text,label", fill=b"a,"),
        "line 2: longer than 1,048,576 characters",
    ),
    Bomb(
        "cell.csv",
        lambda p: bombs.long_line(p, "text,label", prefix='"'),
        "line 2: longer than 1,048,576 characters",
    ),
    Bomb("line.jsonl", lambda p: bombs.long_line(p, '{"text": "a"}'), "line 2: longer than"),
    Bomb("deep.jsonl", bombs.deep_json_line, "nests arrays or objects more than 64 deep"),
    Bomb("deep.json", bombs.deep_json_array, "nests arrays or objects more than 64 deep"),
]


@dataclass(frozen=True)
class Outcome:
    code: int | None  # None: still running at the timeout, so killed
    stdout: str
    stderr: str
    peak_mb: float


def _import(db: Path, data: Path) -> Outcome:
    hwm = data.with_name(data.name + ".hwm")
    env = {**os.environ, "HWM_FILE": str(hwm), "LABELGRAM_DB_PATH": str(db)}
    env.pop("LABELGRAM_TOKEN", None)
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, "--db", str(db), "import", "bombs", str(data)],
            capture_output=True,
            text=True,
            cwd=data.parent,
            env={**env, "PYTHONPATH": str(ROOT)},
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        # Not a timing assertion: a bomb that keeps the import busy this long was not refused.
        return Outcome(None, "", f"still running after {TIMEOUT} s", float("inf"))
    peak = int(hwm.read_text()) / 1024 if hwm.exists() else float("inf")
    return Outcome(done.returncode, done.stdout, done.stderr, peak)


def _outcome(bomb: Bomb, folder: Path) -> tuple[Path, Outcome]:
    """Build one bomb and import it into a project of its own in a child process."""
    project = folder / "project.toml"
    project.write_text(PROJECT)
    db = folder / "l.db"
    assert main(["--db", str(db), "project", "create", str(project), "--no-import"]) == 0
    # One bomb per test (not all of them in a module fixture): with pytest-xdist spreading
    # the tests over workers, a module fixture built and imported every bomb in each worker.
    return db, _import(db, bomb.build(folder / bomb.file))


@pytest.mark.parametrize("bomb", BOMBS, ids=[b.file for b in BOMBS])
def test_each_bomb_is_refused_in_one_line_within_the_memory_limit(
    bomb: Bomb, tmp_path: Path
) -> None:
    db, got = _outcome(bomb, tmp_path)
    lines = got.stderr.strip().splitlines()
    assert got.code == 2, got.stderr[-2000:]
    assert len(lines) == 1, got.stderr[-2000:]
    assert "Traceback" not in got.stderr
    assert lines[0].startswith(f"labelgram: {bomb.file}")
    assert bomb.says in lines[0]
    assert got.peak_mb < PEAK_RSS_MB
    assert "rows read" not in got.stdout  # no report
    assert asyncio.run(_imports(db)) == []  # and nothing was imported


async def _imports(db: Path) -> list[object]:
    async with Repository(db) as repo:
        project = await repo.get_project("bombs")
        return list(await repo.imports(project.id))


def test_a_small_valid_workbook_in_the_same_layout_imports(tmp_path: Path) -> None:
    # The control: the bombs are refused for what they hold, not for how they are built.
    db = tmp_path / "l.db"
    project = tmp_path / "project.toml"
    project.write_text(PROJECT)
    assert main(["--db", str(db), "project", "create", str(project), "--no-import"]) == 0
    got = _import(db, bombs.xlsx_ok(tmp_path / "ok.xlsx"))
    assert got.code == 0, got.stderr
    assert "2 rows read" not in got.stdout
    assert "1 rows read, 1 kept" in got.stdout
    assert got.peak_mb < PEAK_RSS_MB
