"""The digest's figures (per day, per worker, the news window) and its de-duplication."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from storage.digests import read_figures
from storage.models import Project
from storage.repository import Repository
from tests.conftest import add_project, add_worker

DAY = 86400.0
T0 = 1_700_000_000.0  # a day start for these tests (the bounds are given, not computed)
BOUNDS = [T0 + i * DAY for i in range(4)]  # three days


def label(
    db: sqlite3.Connection, project: Project, ext: str, worker: int, key: str, at: float
) -> None:
    """One answered card, through the assignment triggers (as a tap stores it)."""
    sample = db.execute(
        "SELECT id FROM samples WHERE project_id = ? AND ext_id = ?", (project.id, ext)
    ).fetchone()[0]
    option = db.execute(
        "SELECT id FROM options WHERE project_id = ? AND key = ?", (project.id, key)
    ).fetchone()[0]
    cur = db.execute(
        "INSERT INTO assignments (project_id, sample_id, worker_id, status, shown_at,"
        " expires_at) VALUES (?, ?, ?, 'open', ?, ?)",
        (project.id, sample, worker, at - 5, at + 600),
    )
    db.execute(
        "UPDATE assignments SET status = 'done', option_id = ?, closed_at = ? WHERE id = ?",
        (option, at, cur.lastrowid),
    )


def consensus(db: sqlite3.Connection, project: Project, ext: str, key: str) -> None:
    db.execute(
        "UPDATE samples SET status = 'done', consensus = (SELECT id FROM options"
        " WHERE project_id = ?1 AND key = ?3) WHERE project_id = ?1 AND ext_id = ?2",
        (project.id, ext, key),
    )


async def world(repo: Repository) -> tuple[Project, sqlite3.Connection]:
    project = await add_project(repo, n_samples=6)
    for user in (1, 2, 3):
        await add_worker(repo, user, project)
    db = sqlite3.connect(repo.path, isolation_level=None)
    db.execute("UPDATE samples SET gold = 1 WHERE ext_id = 's0'")  # truth: red
    return project, db


async def test_labels_gold_and_alpha_per_day(repo: Repository) -> None:
    project, db = await world(repo)
    label(db, project, "s1", 1, "red", T0 - 10)  # before the series: not counted
    label(db, project, "s1", 2, "red", T0 + 10)
    label(db, project, "s2", 2, "red", T0 + DAY - 1)
    label(db, project, "s0", 1, "red", T0 + DAY + 5)  # gold, right
    label(db, project, "s0", 2, "blue", T0 + DAY + 6)  # gold, wrong
    label(db, project, "s2", 3, "blue", BOUNDS[-1] + 1)  # after the end: not counted
    db.execute("UPDATE labels SET retracted_at = ? WHERE worker_id = 2 AND answered_at = ?",
               (T0 + DAY, T0 + DAY - 1))  # fmt: skip
    for at, alpha in ((T0 + 100, 0.5), (T0 + 200, 0.6), (T0 + 2 * DAY + 1, 0.8)):
        db.execute(
            "INSERT INTO quality_runs (project_id, at, last_label_id, last_review_id, seconds,"
            " summary) VALUES (?, ?, 0, 0, 0, ?)",
            (project.id, at, json.dumps({"alpha": alpha, "flagged": []})),
        )
    f = read_figures(repo.path, project.id, BOUNDS, T0, BOUNDS[-1])
    assert f.labels_per_day == [1, 2, 0]  # the retracted one is gone; gold counts as a label
    assert f.gold_per_day == [(0, 0), (2, 1), (0, 0)]
    assert f.alpha_per_day == [0.6, None, 0.8]  # each day's last check
    assert f.options[0]["en"] == "Red"
    assert f.members == 3
    assert f.remaining == 6  # s3, s4 and s5 want their 2 labels each; the rest have them


async def test_confusion_pairs_workers_and_news(repo: Repository) -> None:
    project, db = await world(repo)
    now = T0 + DAY
    for ext, labels, agreed in (
        ("s1", {1: "red", 2: "red", 3: "green"}, "red"),
        ("s2", {1: "green", 2: "green", 3: "red"}, "green"),
        ("s3", {1: "blue", 2: "blue", 3: "blue"}, "blue"),
    ):
        for worker, key in labels.items():
            label(db, project, ext, worker, key, now - 3600 * worker)
        consensus(db, project, ext, agreed)
    label(db, project, "s0", 3, "red", now - 60)  # gold, right
    label(db, project, "s4", 1, "red", now - 2 * DAY)  # outside the last 24 hours
    db.execute(
        "INSERT INTO events (at, actor, project_id, kind, data) VALUES"
        ' (?1, NULL, ?2, \'worker.suspended\', \'{"worker": 3, "rule": "too_fast"}\'),'
        " (?1, 2, ?2, 'exam.failed', '{}'),"
        " (?3, 1, ?2, 'exam.failed', '{}')",  # before the window: shown by an earlier digest
        (now - 100, project.id, now - 2 * DAY),
    )
    for when, flagged in (
        (now - DAY - 10, [[1, "x"]]),  # flagged before the window: told by an earlier digest
        (now - 50, [[1, "x"], [3, "y"]]),
    ):
        db.execute(
            "INSERT INTO quality_runs (project_id, at, last_label_id, last_review_id, seconds,"
            " summary) VALUES (?, ?, 0, 0, 0, ?)",
            (project.id, when, json.dumps({"alpha": 0.4, "flagged": flagged})),
        )
    db.execute(  # the roster's record of flags: worker 2 first flagged in the window
        "INSERT INTO worker_flags (project_id, worker_id, rule, reason, first_at, last_at)"
        " VALUES (?, 2, 'too_fast', 'too fast', ?, ?)",
        (project.id, now - 30, now - 30),
    )
    (assignment, sample) = db.execute(
        "SELECT id, sample_id FROM assignments WHERE project_id = ? LIMIT 1", (project.id,)
    ).fetchone()
    db.executemany(
        "INSERT INTO reports (assignment_id, project_id, sample_id, worker_id, reason,"
        " created_at, decided_at) VALUES (?, ?, ?, ?, 'broken', ?, ?)",
        [
            (assignment, project.id, sample, 1, now - 2 * DAY, None),  # old, still open
            (assignment, project.id, sample, 2, now - 10, None),  # new, open
            (assignment, project.id, sample, 3, now - 20, now - 5),  # new, decided
        ],
    )
    f = read_figures(repo.path, project.id, [now - DAY, now], now - DAY, now)
    assert (f.reports_open, f.reports_samples, f.reports_new) == (2, 1, 2)
    red, green, blue = 0, 1, 2
    assert f.confusion[red] == [2, 1, 0]  # consensus red: two said red, one green
    assert f.confusion[green] == [1, 2, 0]
    assert f.confusion[blue] == [0, 0, 3]
    (pair,) = f.pairs
    assert (pair.a, pair.b, pair.count) == (red, green, 2)
    assert pair.example in ("sample 1", "sample 2")
    by_id = {w.user_id: w for w in f.workers}
    assert sorted(by_id) == [1, 2, 3]
    assert by_id[1].labels == 3  # s4 was two days ago
    assert (by_id[3].labels, by_id[3].gold_answered, by_id[3].gold_right) == (4, 1, 1)
    assert (by_id[3].compared, by_id[3].agreed) == (3, 1)
    assert by_id[1].name == "W1"
    assert [(n.user_id, n.what) for n in f.suspended] == [(3, "too_fast")]
    assert [n.user_id for n in f.exams_failed] == [2]
    # 1 stayed flagged (news a day ago), 3 was suspended (named once, there), 2 is new
    assert [(n.user_id, n.what) for n in f.flagged] == [(2, "too_fast")]


def test_per_day_counts_walk_the_time_index(tmp_path: Path) -> None:
    import asyncio

    async def make() -> Path:
        async with Repository(tmp_path / "plan.db") as r:
            await add_project(r)
        return tmp_path / "plan.db"

    path = asyncio.run(make())
    db = sqlite3.connect(path)
    plan = " ".join(
        str(row[3])
        for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM labels WHERE project_id = ?"
            " AND answered_at >= ? AND answered_at < ? AND retracted_at IS NULL",
            (1, 0, 1),
        )
    )
    assert "labels_project_time" in plan, plan


async def test_a_digest_is_claimed_once_per_recipient_and_day(repo: Repository) -> None:
    project = await add_project(repo)
    pid = project.id
    assert await repo.digest_pending(pid, "2026-12-07")
    assert await repo.claim_digest(pid, "2026-12-07", 7, "worker")
    assert not await repo.claim_digest(pid, "2026-12-07", 7, "worker")  # in flight
    await repo.digest_sent(pid, "2026-12-07", 7, "failed")
    assert await repo.claim_digest(pid, "2026-12-07", 7, "worker")  # a failure: again
    await repo.digest_sent(pid, "2026-12-07", 7, "sent")
    assert not await repo.claim_digest(pid, "2026-12-07", 7, "worker")
    assert await repo.claim_digest(pid, "2026-12-08", 7, "worker")  # the next day's
    assert await repo.digest_sends(pid, "2026-12-07") == {7: "sent"}


async def test_failed_sends_are_retried_a_few_times_only(repo: Repository) -> None:
    project = await add_project(repo)
    tries = 0
    while await repo.claim_digest(project.id, "d", 7, "worker"):
        tries += 1
        await repo.digest_sent(project.id, "d", 7, "failed")
        assert tries < 50
    assert tries == 5


async def test_the_window_of_news_is_fixed_once_and_chained(repo: Repository) -> None:
    project = await add_project(repo)
    assert await repo.last_digest_until(project.id) is None
    assert await repo.digest_window(project.id, "2026-12-06", 1000.0, 500.0) == (500.0, 1000.0)
    # the same day again (a restart): the same window
    assert await repo.digest_window(project.id, "2026-12-06", 1300.0, 800.0) == (500.0, 1000.0)
    # the next day starts where the last one ended
    assert await repo.digest_window(project.id, "2026-12-07", 2000.0, 1500.0) == (1000.0, 2000.0)
    assert await repo.last_digest_until(project.id) == 2000.0
    assert await repo.digest_pending(project.id, "2026-12-07")
    await repo.digest_finished(project.id, "2026-12-07")
    assert not await repo.digest_pending(project.id, "2026-12-07")
    await repo.claim_digest(project.id, "2026-12-07", 5, "coordinator")
    await repo.digest_sent(project.id, "2026-12-07", 5, "failed")
    assert await repo.digest_pending(project.id, "2026-12-07")  # one to try again


async def test_workers_turn_their_digest_off_and_on(repo: Repository) -> None:
    project = await add_project(repo)
    await add_worker(repo, 4, project)
    assert await repo.set_digest_optout(4, True)
    assert not await repo.set_digest_optout(4, True)  # twice: no change
    assert await repo.digest_optouts() == {4}
    assert await repo.set_digest_optout(4, False)
    assert await repo.digest_optouts() == set()


async def test_the_audience_is_the_members_and_whether_anyone_labeled(repo: Repository) -> None:
    project, db = await world(repo)
    assert await repo.digest_audience(project.id, T0) == ({1, 2, 3}, False)
    label(db, project, "s1", 2, "red", T0 + 5)
    assert await repo.digest_audience(project.id, T0) == ({1, 2, 3}, True)
    assert await repo.digest_audience(project.id, T0 + 10) == ({1, 2, 3}, False)
    await repo.leave_project(2, project.id)
    members, _ = await repo.digest_audience(project.id, T0)
    assert members == {1, 3}


async def test_the_confusion_comes_from_the_last_check_when_it_has_one(repo: Repository) -> None:
    project, db = await world(repo)
    now = T0 + DAY
    for worker, key in ((1, "red"), (2, "red"), (3, "green")):
        label(db, project, "s1", worker, key, now - 60)
    consensus(db, project, "s1", "red")
    counted = [[2, 1, 0], [0, 0, 0], [0, 0, 0]]
    f = read_figures(repo.path, project.id, [now - DAY, now], now - DAY, now)
    assert f.confusion == counted  # no check yet: counted from the labels

    stored = [[7, 1, 0], [2, 5, 0], [0, 0, 9]]
    for summary in ({"confusion": stored}, {"confusion": [[1, 2], [3, 4]]}):
        db.execute(
            "INSERT INTO quality_runs (project_id, at, last_label_id, last_review_id, seconds,"
            " summary) VALUES (?, ?, 0, 0, 0, ?)",
            (project.id, now - 30, json.dumps(summary)),
        )
        f = read_figures(repo.path, project.id, [now - DAY, now], now - DAY, now)
        if len(summary["confusion"]) == 3:
            assert f.confusion == stored  # the check's matrix, as it counted it
            assert f.compared == 24
        else:  # the options changed since that check: counted again
            assert f.confusion == counted


async def test_an_excluded_sample_is_no_work_left(repo: Repository) -> None:
    import time as clock

    project = await add_project(repo, 2, overlap=1)
    for w in (1, 2):
        await add_worker(repo, w, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    other = (await repo.tap(card.assignment_id, 1, 0)).card  # the other sample, claimed
    assert other is not None
    await repo.close_assignment(other.assignment_id, 1, "reported", "broken")
    assert await repo.decide_reports(other.sample.id, "excluded", actor=9) is not None
    now = clock.time()
    f = read_figures(repo.path, project.id, [now - 86400, now + 1], now - 86400, now + 1)
    assert (f.states.open, f.states.done) == (0, 1)
    assert f.remaining == 0
