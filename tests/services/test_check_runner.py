"""The quality check in a child process: same answers as in-process, failures write nothing."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import handlers.jobs as jobs
import services.check_runner as check_runner
import services.checks as checks
from bot.context import BotData
from config.settings import Settings
from quality.check import CheckSettings, run_check
from services.background import Throttle
from services.background import lower as _lower
from services.check_runner import (
    CHILD_CPU_SHARE,
    CHILD_NICE,
    CheckFailed,
    check_in_child,
    check_in_thread,
    check_input,
    outcome_of,
)
from storage.models import LabelStatus, Project, SampleIn
from storage.quality import QualityStore
from storage.repository import Repository
from storage.snapshot import read_labels
from tests.conftest import add_worker, make_spec
from tests.services import normal_priority

RED, GREEN, BLUE = 0, 1, 2


@pytest.fixture
def unthrottled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check children run unsliced: throttled, one takes ~5 s of wall time just to import
    numpy. Nor at nice 19 in the idle class: behind the other tests, which keep both cores
    busy, one waited 10-20 s for a core. The throttle and the lowering keep their own tests
    (the first check below, the Throttle's and the nice 19 one)."""
    monkeypatch.setattr(check_runner, "CHILD_CPU_SHARE", 1.0)
    monkeypatch.setattr(check_runner, "_lower", normal_priority._not_lowered)
    monkeypatch.setattr(check_runner, "_child", normal_priority.child)


class Crash:
    """Settings whose unpickling kills the child before it can answer (a hard crash)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os._exit, (3,))


async def answer(
    repo: Repository, user: int, project: Project, idx: int, now: float, gold: str = "no"
) -> str:
    card = await repo.next_card(user, project.id, now=now, gold=gold)
    assert card is not None
    outcome = await repo.record_label(card.assignment_id, user, idx, now=now + 1)
    assert outcome.status is LabelStatus.RECORDED
    return card.sample.ext_id


async def crowd_project(repo: Repository) -> Project:
    """2 gold + 3 plain samples, overlap 3; workers 1 and 2 are right, 3 is wrong on gold.

    Gold answers go in without the label-time gold rule (that lives in the handler), so the
    check itself finds worker 3's gold accuracy too low and suspends them.
    """
    project = await repo.create_project(
        make_spec(
            overlap=3,
            quality={
                "gold_rate": 0.2,
                "rules": {"min_gold": 2, "min_gold_accuracy": 0.7, "min_seconds": 0.0},
            },
        )
    )
    samples = [SampleIn(ext_id=f"g{i}", text=f"gold {i}", truth="red") for i in range(2)]
    samples += [SampleIn(ext_id=f"s{i}", text=f"plain {i}") for i in range(3)]
    async with repo.import_session(project.id, "test") as session:
        assert await session.add(samples) == [None] * len(samples)
    now = time.time()
    for user in (1, 2, 3):
        await add_worker(repo, user, project)
    for user in (1, 2):
        for _ in range(3):
            await answer(repo, user, project, RED, now)
    for _ in range(2):
        assert (await answer(repo, 3, project, GREEN, now, gold="only")).startswith("g")
    for _ in range(2):  # two of the three plain samples: 2 red, 1 blue
        await answer(repo, 3, project, BLUE, now)
    return project


async def snapshot(repo: Repository, project: Project) -> tuple[list[Any], ...]:
    samples = await repo.all(
        "SELECT id, status, consensus, confidence, target, need FROM samples"
        " WHERE project_id = ? ORDER BY id",
        (project.id,),
    )
    runs = await repo.all("SELECT * FROM quality_runs WHERE project_id = ?", (project.id,))
    members = await repo.all(
        "SELECT worker_id, suspended_at FROM memberships WHERE project_id = ? ORDER BY 1",
        (project.id,),
    )
    events = await repo.all("SELECT * FROM events WHERE project_id = ?", (project.id,))
    return samples, runs, members, events


async def label_count(repo: Repository, project: Project) -> int:
    row = await repo.one("SELECT COUNT(*) FROM labels WHERE project_id = ?", (project.id,))
    assert row is not None
    return int(row[0])


def bot_data(repo: Repository, in_process_labels: int = 0) -> BotData:
    """Bot data whose checks run in a child (the default here) or, for projects of at most
    `in_process_labels` labels, in a thread."""
    data = BotData()
    settings = Settings(
        token="1:x", db_path=repo.path, admins=[], check_in_process_labels=in_process_labels
    )
    data.attach(repo, settings)
    return data


async def check(data: BotData, project_id: int) -> checks.CheckReport:
    """One check of the project, with the services `data` holds."""
    return await checks.check_project(data.repo, data.quality, data.settings, project_id)


async def test_the_throttled_child_decides_what_the_check_in_this_process_decides(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = await crowd_project(repo)
    spec = await repo.project_spec(project.id)
    settings = checks._settings(spec)
    throttles: list[Throttle] = []

    class Recorded(Throttle):
        def __init__(self, pid: int, share: float) -> None:
            super().__init__(pid, share)
            throttles.append(self)

    monkeypatch.setattr(check_runner, "Throttle", Recorded)

    got = await check_in_child(repo.path, project.id, settings)

    assert [t.share for t in throttles] == [CHILD_CPU_SHARE]  # the production slicing
    assert throttles[0].stops > 0

    data = read_labels(repo.path, project.id)
    want = outcome_of(data, run_check(check_input(data), settings))
    assert got.batches == want.batches
    assert got.changed == 3  # the plain samples; gold is never rewritten
    plain = await repo.all(
        "SELECT id FROM samples WHERE project_id = ? AND gold = 0 ORDER BY id", (project.id,)
    )
    assert [row[0] for row in json.loads(got.batches[0])] == [r[0] for r in plain]
    assert got.findings == want.findings
    assert [(user, f.rule, f.action) for user, f in got.findings] == [
        (3, "gold_accuracy", "suspend")
    ]
    assert (got.method, got.counts, got.pairs) == (want.method, want.counts, want.pairs)
    for a, b in ((got.alpha, want.alpha), (got.kappa, want.kappa)):
        assert (math.isnan(a) and math.isnan(b)) or a == b
    assert (got.last_label_id, got.last_review_id) == (data.last_label_id, 0)
    assert [name for name, _, _ in got.spans] == ["spawn", "load", "aggregate", "diff", "reply"]


@pytest.mark.usefixtures("unthrottled")
async def test_a_check_suspends_in_between_and_aggregates_again_without_them(
    repo: Repository,
) -> None:
    project = await crowd_project(repo)
    report = await check(bot_data(repo), project.id)

    assert [user for user, _ in report.suspended] == [3]
    assert "gold accuracy 0% after 2 gold answers" in report.suspended[0][1]
    counts = report.summary["counts"]
    assert (counts["labels"], counts["excluded_labels"]) == (6, 4)  # 3 each by 1 and 2
    assert [name for name, _, _ in report.spans].count("aggregate again") == 1
    red = next(o.id for o in await repo.options(project.id) if o.idx == RED)
    consensus = await repo.all(
        "SELECT ext_id, status, consensus, confidence FROM samples"
        " WHERE project_id = ? AND gold = 0 ORDER BY ext_id",
        (project.id,),
    )
    assert [(ext, cons) for ext, _, cons, _ in consensus] == [
        ("s0", red),
        ("s1", red),
        ("s2", red),
    ]
    runs = await repo.all(
        "SELECT last_label_id, summary FROM quality_runs WHERE project_id = ?", (project.id,)
    )
    assert len(runs) == 1
    events = await repo.all(
        "SELECT kind FROM events WHERE project_id = ? AND kind IN"
        " ('worker.suspended', 'quality.checked') ORDER BY id",
        (project.id,),
    )
    assert [e[0] for e in events] == ["worker.suspended", "quality.checked"]


@pytest.mark.usefixtures("unthrottled")
async def test_a_crashed_child_is_reported_and_writes_nothing(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = await crowd_project(repo)
    before = await snapshot(repo, project)
    monkeypatch.setattr(checks, "_settings", lambda spec: Crash())

    with pytest.raises(CheckFailed, match=r"died in its child process \(exit code 3"):
        await check(bot_data(repo), project.id)

    assert await snapshot(repo, project) == before


@pytest.mark.usefixtures("unthrottled")
async def test_an_error_in_the_child_comes_back_with_its_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(CheckFailed, match=r"failed in its child process[\s\S]*OperationalError"):
        await check_in_child(missing, 1, CheckSettings())
    assert not missing.exists()  # read-only: the child never creates a database


@pytest.mark.usefixtures("unthrottled")
async def test_the_job_logs_a_failed_check_and_moves_on(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    project = await crowd_project(repo)
    before = await snapshot(repo, project)
    monkeypatch.setattr(checks, "_settings", lambda spec: Crash())
    context: Any = SimpleNamespace(bot_data=bot_data(repo))

    with caplog.at_level(logging.ERROR, logger="handlers.jobs"):
        await jobs.quality_job(context)

    assert "quality check of colours failed" in caplog.text
    assert "exit code 3" in caplog.text
    assert await snapshot(repo, project) == before


def test_the_child_is_lowered_to_nice_19_and_sched_idle() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _lower(sleeper.pid)
        assert os.getpriority(os.PRIO_PROCESS, sleeper.pid) == CHILD_NICE
        assert os.sched_getscheduler(sleeper.pid) == os.SCHED_IDLE
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_throttle_stops_and_continues_and_leaves_the_process_running() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        throttle = Throttle(spinner.pid, share=0.5, period=0.02)
        throttle.start()
        deadline = time.monotonic() + 10
        while throttle.stops < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        throttle.stop()
        assert throttle.stops >= 3
        assert not throttle.is_alive()
        with open(f"/proc/{spinner.pid}/stat", encoding="ascii") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        assert state in ("R", "S")  # running, not "T" (stopped)
    finally:
        spinner.kill()
        spinner.wait()


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_a_stopped_child_dies_with_the_bot(tmp_path: Path) -> None:
    # bot (killed with SIGKILL) -> check child (stopped, as the throttle leaves it 90% of the time)
    child = (
        "import os, signal, time\n"
        "from services.check_runner import die_with_parent\n"
        "assert die_with_parent(int(os.environ['BOT_PID']))\n"
        "os.kill(os.getpid(), signal.SIGSTOP)\n"
        "time.sleep(60)\n"
    )
    bot = (
        "import os, subprocess, sys, time\n"
        f"c = subprocess.Popen([sys.executable, '-c', {child!r}],"
        " env={**os.environ, 'BOT_PID': str(os.getpid())})\n"
        "print(c.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    root = Path(__file__).resolve().parents[2]
    with subprocess.Popen(
        [sys.executable, "-c", bot], cwd=root, stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            pid = int(proc.stdout.readline())
            deadline = time.monotonic() + 20
            while _state(pid) != "T" and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _state(pid) == "T"  # stopped, as by the throttle
            proc.kill()
            proc.wait()
            deadline = time.monotonic() + 10
            while _state(pid) not in (None, "Z") and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _state(pid) in (None, "Z")  # gone (or dead, waiting to be reaped)
        finally:
            proc.kill()


@pytest.mark.usefixtures("unthrottled")
async def test_a_small_project_is_checked_in_a_thread_with_the_same_outcome(
    repo: Repository,
) -> None:
    project = await crowd_project(repo)
    n_labels = await label_count(repo, project)
    assert await QualityStore(repo).label_count(project.id, upto=n_labels + 5) == n_labels
    assert await QualityStore(repo).label_count(project.id, upto=3) == 3
    spec = await repo.project_spec(project.id)
    settings = checks._settings(spec)
    here = await check_in_thread(repo.path, project.id, settings)
    child = await check_in_child(repo.path, project.id, settings)
    assert (here.batches, here.findings, here.counts) == (
        child.batches,
        child.findings,
        child.counts,
    )
    assert [name for name, _, _ in here.spans] == ["load", "aggregate", "diff"]

    report = await check(bot_data(repo, n_labels), project.id)
    assert "spawn" not in [name for name, _, _ in report.spans]
    assert [user for user, _ in report.suspended] == [3]


@pytest.mark.usefixtures("unthrottled")
async def test_a_project_over_the_limit_is_checked_in_a_child(repo: Repository) -> None:
    project = await crowd_project(repo)
    n_labels = await label_count(repo, project)
    report = await check(bot_data(repo, n_labels - 1), project.id)
    assert report.spans[0][0] == "spawn"


async def test_an_error_in_the_thread_is_a_check_failure_too(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(CheckFailed, match=r"failed; nothing was written[\s\S]*OperationalError"):
        await check_in_thread(missing, 1, CheckSettings())
    assert not missing.exists()
