"""Every bomb file is refused by `labelgram import` in one line, with the child's peak RSS checked.

Each bomb is small on disk and would expand to hundreds of megabytes (or lie about its size)
if read naively; the import runs as a real child process on a fresh project and must exit 2
with one line on stderr (no traceback), leave the project empty and stay under `PEAK_RSS_MB`.
The child reports its own peak (VmHWM of /proc/self/status, written to a file at exit):
getrusage(RUSAGE_CHILDREN) would also count whatever other child this test run has waited for.

The bombs' children are forks of one interpreter that imported the CLI once (`Forks`): a fresh
`labelgram import` spends ~0.5 s of CPU on its imports before it reads a byte, 13 times over.
What a fresh process would add to a fork is checked apart: the imports print nothing, and the
peak counts the imports' own plus what the fork added to the memory it started with. The
control workbook runs in a fresh process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
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
# One interpreter that imports the CLI, then forks a child per line of stdin (a JSON job) that
# runs CHILD as a fresh process would: its own working directory, environment, argv, stdout,
# stderr and exit code. It prints its peak RSS (kB) once imported, then each child's exit code
# (negative: the signal that ended it); each child writes its RSS (kB) at the fork to a file.
ZYGOTE = """\
import json, os, signal, sys
from cli.main import main


def kb(field):
    with open("/proc/self/status") as status:
        return next(line.split()[1] for line in status if line.startswith(field))


print(kb("VmHWM:"), flush=True)
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        with open(job["rss_file"], "w") as out:
            out.write(kb("VmRSS:"))
        os.chdir(job["cwd"])
        os.environ.update(job["env"])
        for fd, name in ((1, "stdout_file"), (2, "stderr_file")):
            file = os.open(job[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(file, fd)
            os.close(file)
        signal.alarm(job["timeout"])  # its default action ends a child still busy by then
        sys.argv = ["-c", *job["argv"]]
        exec(job["code"], {"__name__": "__main__"})  # exits (CHILD ends in sys.exit)
        os._exit(70)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
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


# Not a timing assertion: a bomb that keeps the import busy this long was not refused.
STILL_RUNNING = Outcome(None, "", f"still running after {TIMEOUT} s", float("inf"))


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LABELGRAM_TOKEN", None)
    return env


def _argv(db: Path, data: Path) -> list[str]:
    return ["--db", str(db), "import", "bombs", str(data)]


def _import(db: Path, data: Path) -> Outcome:
    """`labelgram import` in a fresh process."""
    hwm = data.with_name(data.name + ".hwm")
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, *_argv(db, data)],
            capture_output=True,
            text=True,
            cwd=data.parent,
            env={**_env(), "HWM_FILE": str(hwm), "LABELGRAM_DB_PATH": str(db)},
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return STILL_RUNNING
    peak = int(hwm.read_text()) / 1024 if hwm.exists() else float("inf")
    return Outcome(done.returncode, done.stdout, done.stderr, peak)


@dataclass(frozen=True)
class Forks:
    """A running ZYGOTE: `labelgram import` in forks of it."""

    zygote: subprocess.Popen[str]
    imports_kb: int  # the zygote's peak RSS once imported: a fresh child's before main()

    def run(self, db: Path, data: Path) -> Outcome:
        files = {
            name: data.with_name(f"{data.name}.{name}") for name in ("out", "err", "hwm", "rss")
        }
        job = {
            "cwd": str(data.parent),
            "env": {"HWM_FILE": str(files["hwm"]), "LABELGRAM_DB_PATH": str(db)},
            "argv": _argv(db, data),
            "stdout_file": str(files["out"]),
            "stderr_file": str(files["err"]),
            "rss_file": str(files["rss"]),
            "timeout": TIMEOUT,
            "code": CHILD,
        }
        assert self.zygote.stdin is not None
        assert self.zygote.stdout is not None
        self.zygote.stdin.write(json.dumps(job) + "\n")
        self.zygote.stdin.flush()
        answer = self.zygote.stdout.readline()
        assert answer, f"the zygote died (exit code {self.zygote.poll()})"
        code = int(answer)
        if code == -signal.SIGALRM:
            return STILL_RUNNING
        peak = float("inf")
        if files["hwm"].exists():
            grown = int(files["hwm"].read_text()) - int(files["rss"].read_text())
            peak = (self.imports_kb + grown) / 1024
        return Outcome(code, files["out"].read_text(), files["err"].read_text(), peak)


@pytest.fixture(scope="module")
def forks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Forks]:
    errors = tmp_path_factory.mktemp("zygote") / "stderr"
    with (
        errors.open("w") as err,
        subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=ROOT,
            env=_env(),
        ) as zygote,
    ):
        try:
            assert zygote.stdout is not None
            imports_kb = int(zygote.stdout.readline() or 0)
            # what a fresh child would print before main() runs (a warning, a traceback): none
            assert errors.read_text() == ""
            assert imports_kb > 0
            yield Forks(zygote, imports_kb)
        finally:
            zygote.kill()


def _outcome(bomb: Bomb, folder: Path, forks: Forks) -> tuple[Path, Outcome]:
    """Build one bomb and import it into a project of its own in a fork."""
    project = folder / "project.toml"
    project.write_text(PROJECT)
    db = folder / "l.db"
    assert main(["--db", str(db), "project", "create", str(project), "--no-import"]) == 0
    # One bomb per test (not all of them in a module fixture): with pytest-xdist spreading
    # the tests over workers, a module fixture built and imported every bomb in each worker.
    return db, forks.run(db, bomb.build(folder / bomb.file))


@pytest.mark.parametrize("bomb", BOMBS, ids=[b.file for b in BOMBS])
def test_each_bomb_is_refused_in_one_line_within_the_memory_limit(
    bomb: Bomb, forks: Forks, tmp_path: Path
) -> None:
    db, got = _outcome(bomb, tmp_path, forks)
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
