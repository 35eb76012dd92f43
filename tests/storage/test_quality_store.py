from __future__ import annotations

import sqlite3
import time
from typing import Any

import numpy as np
import pytest

from quality.check import CheckSettings, run_check
from quality.workers import Rules
from services.check_runner import check_input
from storage.migrations import MIGRATIONS
from storage.models import LabelStatus, Project, Role, SampleIn, UndoStatus
from storage.quality import QualityStore
from storage.repository import Repository
from storage.snapshot import ProjectLabels, SampleChanges, read_labels
from tests.conftest import add_project, add_worker, make_spec

RED, GREEN = 0, 1  # option indices; every gold sample's answer is red


async def gold_project(
    repo: Repository, n_gold: int = 2, n_plain: int = 3, **quality: object
) -> Project:
    """A project whose samples with a truth are gold (gold_rate > 0), imported in a session."""
    project = await repo.create_project(
        make_spec(overlap=2, quality={"gold_rate": 0.2, **quality})
    )
    samples = [SampleIn(ext_id=f"g{i}", text=f"gold {i}", truth="red") for i in range(n_gold)]
    samples += [SampleIn(ext_id=f"s{i}", text=f"plain {i}") for i in range(n_plain)]
    async with repo.import_session(project.id, "test") as session:
        assert await session.add(samples) == [None] * len(samples)
    return project


async def label(
    repo: Repository, user: int, project: Project, idx: int, *, gold: str = "no", now: float
) -> tuple[int, str]:
    """Take a card and answer it: (assignment id, sample ext_id)."""
    card = await repo.next_card(user, project.id, now=now, gold=gold)
    assert card is not None
    outcome = await repo.record_label(card.assignment_id, user, idx, now=now + 1)
    assert outcome.status is LabelStatus.RECORDED
    return card.assignment_id, card.sample.ext_id


async def sample_row(repo: Repository, project: Project, ext_id: str) -> tuple[Any, ...]:
    row = await repo.one(
        "SELECT id, status, target, need, n_labels, n_open, gold, consensus, confidence"
        " FROM samples WHERE project_id = ? AND ext_id = ?",
        (project.id, ext_id),
    )
    assert row is not None
    return tuple(row)


async def test_gold_samples_are_served_only_when_asked_for(repo: Repository) -> None:
    project = await gold_project(repo)
    await add_worker(repo, 1, project)
    g0 = await sample_row(repo, project, "g0")
    assert (g0[3], g0[6]) == (0, 1)  # need 0, gold
    assert (await sample_row(repo, project, "s0"))[6] == 0
    now = time.time()
    _, ext = await label(repo, 1, project, RED, now=now)
    assert ext.startswith("s")
    _, ext = await label(repo, 1, project, RED, gold="first", now=now)
    assert ext == "g0"
    _, ext = await label(repo, 1, project, RED, gold="only", now=now)
    assert ext == "g1"
    assert await repo.next_card(1, project.id, now=now, gold="only") is None
    _, ext = await label(repo, 1, project, RED, gold="first", now=now)
    assert ext.startswith("s")  # no gold left: the pick index
    for _ in range(3):  # gold="no" never hands out a gold sample
        card = await repo.next_card(1, project.id, now=now)
        if card is None:
            break
        assert card.sample.ext_id.startswith("s")
        await repo.record_label(card.assignment_id, 1, RED, now=now + 1)


async def test_failed_exam_blocks_until_reinstated(repo: Repository) -> None:
    project = await gold_project(repo, exam_size=2, exam_pass=1.0, exam_retries=0)
    await add_worker(repo, 1, project)
    store = QualityStore(repo)
    gate = await store.gate(1, project.id)
    assert (gate.status, gate.exam_answered) == ("exam", 0)
    past = time.time() - 1000  # exam answers well before the reinstatement below
    aid, _ = await label(repo, 1, project, RED, gold="only", now=past)
    first = await store.after_label(aid, 1)
    assert first is not None
    assert (first.correct, first.exam, first.exam_correct, first.exam_answered) == (
        True,
        "progress",
        1,
        1,
    )
    assert (await store.gate(1, project.id)).exam_answered == 1
    aid, _ = await label(repo, 1, project, GREEN, gold="only", now=past + 10)
    second = await store.after_label(aid, 1)
    assert second is not None
    assert (second.correct, second.exam, second.exam_correct, second.exam_answered) == (
        False,
        "failed",
        1,
        2,
    )
    assert (await store.gate(1, project.id)).status == "exam_failed"
    assert await store.reinstate(1, project.id, actor=99)
    gate = await store.gate(1, project.id)
    assert (gate.status, gate.exam_answered) == ("exam", 0)  # a fresh attempt
    assert not await store.reinstate(1, project.id, actor=99)


async def test_gold_feedback_names_the_right_option(repo: Repository) -> None:
    project = await gold_project(repo)
    await add_worker(repo, 1, project)
    store = QualityStore(repo)
    now = time.time()
    aid, _ = await label(repo, 1, project, GREEN, gold="only", now=now)
    result = await store.after_label(aid, 1)
    assert result is not None
    assert (result.correct, result.right.key, result.right.idx) == (False, "red", RED)
    assert (result.exam, result.suspended) == (None, None)  # default min_gold is 5
    aid, _ = await label(repo, 1, project, GREEN, gold="only", now=now)
    ok = await store.after_label(aid, 1)
    assert ok is not None
    assert ok.correct is False
    aid, ext = await label(repo, 1, project, RED, now=now)
    assert ext.startswith("s")
    assert await store.after_label(aid, 1) is None
    assert await store.after_label(aid, 2) is None  # not this worker's assignment


async def test_gold_accuracy_rule_suspends_and_reinstate_clears(repo: Repository) -> None:
    project = await gold_project(repo, rules={"min_gold": 2, "min_gold_accuracy": 0.9})
    await add_worker(repo, 1, project)
    store = QualityStore(repo)
    now = time.time()
    aid, _ = await label(repo, 1, project, GREEN, gold="only", now=now)
    first = await store.after_label(aid, 1)
    assert first is not None
    assert first.suspended is None  # one gold answer: too few to judge
    aid, _ = await label(repo, 1, project, GREEN, gold="only", now=now)
    held = await repo.next_card(1, project.id, now=now)  # an open card when suspended
    assert held is not None
    second = await store.after_label(aid, 1)
    assert second is not None
    assert second.suspended == "gold accuracy 0% after 2 gold answers (< 90%)"
    gate = await store.gate(1, project.id)
    assert (gate.status, gate.reason) == ("suspended", second.suspended)
    status = await repo.one("SELECT status FROM assignments WHERE id = ?", (held.assignment_id,))
    assert status == ("released",)
    row = await sample_row(repo, project, held.sample.ext_id)
    assert (row[3], row[5]) == (2, 0)  # need back to the overlap, nothing open
    assert not await store.suspend(1, project.id, "again", "manual")  # already suspended
    assert await store.reinstate(1, project.id, actor=7)
    assert (await store.gate(1, project.id)).status == "ok"
    events = await repo.events(project.id)
    suspended = [e for e in events if e["kind"] == "worker.suspended"]
    reinstated = [e for e in events if e["kind"] == "worker.reinstated"]
    assert len(suspended) == 1
    assert suspended[0]["data"]["worker"] == 1
    assert suspended[0]["data"]["rule"] == "gold_accuracy"
    assert [(e["actor"], e["data"]) for e in reinstated] == [(7, {"worker": 1})]


async def test_review_queue_and_decisions(repo: Repository) -> None:
    project = await add_project(repo, 2, overlap=2)
    for w in (1, 2):
        await add_worker(repo, w, project)
    await repo.upsert_worker(50, "Coord", None, "en")
    code = await repo.create_invite(project.id, Role.COORDINATOR)
    await repo.redeem_invite(code, 50)
    store = QualityStore(repo)
    now = time.time()
    _, ext1 = await label(repo, 1, project, RED, now=now)
    _, ext2 = await label(repo, 2, project, GREEN, now=now)
    assert ext1 == ext2 == "s0"
    assert await store.next_review(project.id) is None
    sid = int((await sample_row(repo, project, "s0"))[0])
    async with repo.transaction() as db:
        await db.execute("UPDATE samples SET status = 'review' WHERE id = ?", (sid,))
    assert await store.review_count(project.id) == 1
    waiting = await store.next_review(project.id)
    assert waiting is not None
    sample, counts = waiting
    assert sample.id == sid
    assert counts == {RED: 1, GREEN: 1}
    assert await store.decide_review(sid, 1, GREEN) == ("not_reviewer", project.id)
    assert await store.decide_review(sid, 50, 7) == ("bad_option", project.id)
    assert await store.decide_review(sid, 50, GREEN) == ("decided", project.id)
    green = next(o for o in await repo.options(project.id) if o.idx == GREEN)
    row = await sample_row(repo, project, "s0")
    assert (row[1], row[7], row[8]) == ("reviewed", green.id, 1.0)
    assert await store.decide_review(sid, 50, RED) == ("closed", project.id)
    assert await store.review_count(project.id) == 0
    assert await store.next_review(project.id) is None
    loaded = await store.load(project.id)
    assert loaded.reviewed.tolist() == [GREEN, -1]
    assert loaded.status.tolist() == [3, 0]


async def test_load_apply_round_trip(repo: Repository) -> None:
    project = await gold_project(repo, n_gold=1, n_plain=3)
    for w in (1, 2, 3):
        await add_worker(repo, w, project)
    store = QualityStore(repo)
    now = time.time()
    await label(repo, 1, project, RED, now=now)  # s0
    await label(repo, 2, project, GREEN, now=now)  # s0
    await label(repo, 3, project, GREEN, now=now)  # s1
    await label(repo, 1, project, RED, gold="only", now=now)  # g0
    held = await repo.next_card(2, project.id, now=now)  # s1, left open
    assert held is not None
    assert held.sample.ext_id == "s1"
    ids = {ext: int((await sample_row(repo, project, ext))[0]) for ext in ("g0", "s0", "s1", "s2")}
    async with repo.transaction() as db:  # s2 was decided by a reviewer
        await db.execute("UPDATE samples SET status = 'reviewed' WHERE id = ?", (ids["s2"],))

    loaded = await store.load(project.id)
    assert loaded.sample_ids.tolist() == [ids["g0"], ids["s0"], ids["s1"], ids["s2"]]
    assert loaded.truth.tolist() == [RED, -1, -1, -1]
    assert loaded.gold.tolist() == [True, False, False, False]
    assert loaded.status.tolist() == [0, 0, 0, 3]
    assert loaded.n_open.tolist() == [0, 0, 1, 0]
    assert loaded.worker_ids.tolist() == [1, 2, 3]
    assert loaded.suspended.tolist() == [False, False, False]
    assert loaded.n_options == 3
    got = {
        (int(loaded.sample_ids[t]), int(loaded.worker_ids[w]), int(lab))
        for t, w, lab in zip(loaded.task, loaded.worker, loaded.label, strict=True)
    }
    rows = await repo.all(
        "SELECT l.sample_id, l.worker_id, o.idx FROM labels AS l"
        " JOIN options AS o ON o.id = l.option_id WHERE l.project_id = ?",
        (project.id,),
    )
    assert got == {(int(s), int(w), int(i)) for s, w, i in rows}
    assert len(loaded.task) == 4
    assert loaded.seconds.tolist() == [1.0] * 4  # shown at now, answered at now + 1
    last = await repo.one("SELECT MAX(id) FROM labels WHERE project_id = ?", (project.id,))
    assert last is not None
    assert loaded.last_label_id == last[0]

    assert await store.changed_since_last_run(project.id)
    before = {ext: await sample_row(repo, project, ext) for ext in ("g0", "s2")}
    n = len(loaded.sample_ids)
    written = await store.apply(
        project.id,
        loaded.sample_ids,
        status=np.zeros(n, dtype=np.int64),
        consensus_idx=np.array([GREEN, -1, GREEN, GREEN], dtype=np.int64),
        confidence=np.full(n, 0.5),
        target=np.full(n, 4, dtype=np.int64),
        previous=None,
        run={"counts": {"open": 3}},
        last_label_id=loaded.last_label_id,
        last_review_id=loaded.last_review_id,
        seconds=0.1,
        changes=loaded.changes,
    )
    assert written == n
    green = next(o for o in await repo.options(project.id) if o.idx == GREEN)
    s0 = await sample_row(repo, project, "s0")
    s1 = await sample_row(repo, project, "s1")
    assert (s0[1], s0[2], s0[3], s0[4], s0[5], s0[7]) == ("open", 4, 2, 2, 0, None)
    assert (s1[1], s1[2], s1[3], s1[4], s1[5], s1[7]) == ("open", 4, 2, 1, 1, green.id)
    # gold and reviewed samples are untouched
    assert {ext: await sample_row(repo, project, ext) for ext in ("g0", "s2")} == before
    last_run = await store.last_run(project.id)
    assert last_run is not None
    assert last_run[:2] == (loaded.last_label_id, loaded.last_review_id)
    # the run records the samples' states as written, as /status counts them (s2 reviewed:
    # done; g0: control), not what the caller passed
    states = {"done": 1, "open": 2, "review": 0, "control": 1}
    assert last_run[2]["counts"] == states
    assert (await repo.sample_counts(project.id)).model_dump() == states
    assert not await store.changed_since_last_run(project.id)
    await repo.record_label(held.assignment_id, 2, RED, now=now + 1)
    assert await store.changed_since_last_run(project.id)
    # A second check that decides the same writes nothing.
    again = await store.load(project.id)
    written = await store.apply(
        project.id,
        again.sample_ids,
        status=again.status,
        consensus_idx=again.consensus,
        confidence=np.full(n, 0.5),
        target=again.target,
        previous=(again.status, again.consensus, again.target),
        run={"counts": {}},
        last_label_id=again.last_label_id,
        last_review_id=again.last_review_id,
        seconds=0.1,
        changes=again.changes,
    )
    assert written == 0


async def test_a_failed_write_batch_rolls_back_and_frees_the_connection(repo: Repository) -> None:
    project = await gold_project(repo, n_gold=0, n_plain=2)
    store = QualityStore(repo)
    ids = [int((await sample_row(repo, project, ext))[0]) for ext in ("s0", "s1")]
    before = [await sample_row(repo, project, ext) for ext in ("s0", "s1")]
    good = SampleChanges(
        sample_id=np.array(ids, dtype=np.int64),
        status=np.array([1, 1], dtype=np.int8),
        consensus=np.array([-1, -1], dtype=np.int64),
        confidence=np.array([0.9, 0.8]),
        target=np.array([2, 3], dtype=np.int64),
    )
    # One batch of both rows; the second names an option that does not exist (foreign key).
    first, second = good.batches(2)[0].rsplit(",null,", 1)
    bad = f"{first},999999,{second}"
    with pytest.raises(sqlite3.IntegrityError):
        await store.write_changes(project.id, [bad], {}, 0, 0, 0.0, changes=0)
    assert [await sample_row(repo, project, ext) for ext in ("s0", "s1")] == before
    assert await store.last_run(project.id) is None
    # The connection is out of the failed transaction and the lock is free.
    assert await store.write_changes(project.id, good.batches(), {}, 0, 0, 0.0, changes=0) == 2
    s0, s1 = [await sample_row(repo, project, ext) for ext in ("s0", "s1")]
    assert (s0[1], s0[2], s0[3], s1[1], s1[2], s1[3]) == ("done", 2, 2, "done", 3, 3)


async def test_every_change_a_check_must_see_marks_the_project_changed(repo: Repository) -> None:
    project = await add_project(repo, 3, overlap=2)
    for w in (1, 2):
        await add_worker(repo, w, project)
    await repo.upsert_worker(50, "Coord", None, "en")
    await repo.redeem_invite(await repo.create_invite(project.id, Role.COORDINATOR), 50)
    store = QualityStore(repo)

    async def check() -> None:
        """Record a check of what is there now, as the scheduled job does."""
        loaded = await store.load(project.id)
        await store.write_changes(
            project.id,
            [],
            {},
            loaded.last_label_id,
            loaded.last_review_id,
            0.0,
            changes=loaded.changes,
        )
        assert not await store.changed_since_last_run(project.id)

    assert not await store.changed_since_last_run(project.id)  # no labels, never checked
    now = time.time()
    await label(repo, 1, project, RED, now=now)
    assert await store.changed_since_last_run(project.id)
    await check()
    # an undo alone (no label after it)
    assert (await repo.undo_last(1, project.id, now=now + 2)).status is UndoStatus.UNDONE
    assert await store.changed_since_last_run(project.id)
    await check()
    # a suspension and a reinstatement: the worker's labels leave and rejoin the consensus
    assert await store.suspend(2, project.id, "test", "manual")
    assert await store.changed_since_last_run(project.id)
    await check()
    assert await store.reinstate(2, project.id, actor=50)
    assert await store.changed_since_last_run(project.id)
    await check()
    # a reviewer's decision
    await label(repo, 2, project, GREEN, now=now + 3)
    await check()
    sid = int((await sample_row(repo, project, "s0"))[0])
    async with repo.transaction() as db:
        await db.execute("UPDATE samples SET status = 'review' WHERE id = ?", (sid,))
    assert not await store.changed_since_last_run(project.id)  # a check's own write-back
    assert await store.decide_review(sid, 50, GREEN) == ("decided", project.id)
    assert await store.changed_since_last_run(project.id)
    await check()
    # a check recorded before the counter existed (-1) means: check once more
    async with repo.transaction() as db:
        await db.execute("UPDATE quality_runs SET changes = -1")
    assert await store.changed_since_last_run(project.id)


async def exam_answers(
    repo: Repository,
    store: QualityStore,
    project: Project,
    idx: int,
    n: int,
    *,
    now: float,
    step: float = 2.0,
) -> str | None:
    """Answer `n` exam cards with option `idx`: the last answer's exam outcome."""
    outcome = None
    for i in range(n):
        aid, _ = await label(repo, 1, project, idx, gold="only", now=now + step * i)
        result = await store.after_label(aid, 1)
        assert result is not None
        outcome = result.exam
    return outcome


def check_of(repo: Repository, project: Project, **rules: Any) -> tuple[ProjectLabels, list[str]]:
    """The project as a check reads it, and the rules that fire for worker 1."""
    data = read_labels(repo.path, project.id)
    inp = check_input(data)
    result = run_check(inp, CheckSettings(rules=Rules(min_seconds=0.0, **rules)))
    return data, [f.rule for f in result.findings if data.worker_ids[f.worker] == 1]


async def test_a_failed_exam_is_not_also_a_gold_accuracy_suspension(repo: Repository) -> None:
    # The issue's case: 0 of 4 on the exam, then the check suspended the worker for "gold
    # accuracy 0% after 4 gold answers" on top.
    project = await gold_project(
        repo, n_gold=4, exam_size=4, exam_retries=0, rules={"min_gold": 4}
    )
    await add_worker(repo, 1, project)
    store = QualityStore(repo)
    assert await exam_answers(repo, store, project, GREEN, 4, now=time.time()) == "failed"
    assert (await store.gate(1, project.id)).status == "exam_failed"
    assert await store.control_score(1, project.id) == (0, 0)
    data, rules = check_of(repo, project, min_gold=4)
    assert rules == []
    assert len(data.label) == 0  # exam answers are the exam's: the check reads none
    assert data.last_label_id > 0  # (the run record still says how far it read)


async def test_a_retaken_exam_does_not_count_against_control_answers(repo: Repository) -> None:
    # Defaults: min_gold 5, min_gold_accuracy 60%. 0/3 then 3/3 on the exam, then one missed
    # control: 3 of 7 gold answers right would suspend; 0 of 1 control answers does not.
    project = await gold_project(
        repo, n_gold=11, n_plain=1, exam_size=3, exam_pass=1.0, exam_retries=1
    )
    await add_worker(repo, 1, project)
    store = QualityStore(repo)
    past = time.time() - 1000  # the first attempt, before the retry's start
    assert await exam_answers(repo, store, project, GREEN, 3, now=past) == "retry"
    # the second attempt: answered after it started, before it was passed (as a tap would be)
    now = time.time() - 1
    assert await exam_answers(repo, store, project, RED, 3, now=now, step=0) == "passed"
    assert (await store.gate(1, project.id)).status == "ok"
    later = time.time() + 100  # control answers: after the pass
    missed = None
    for i in range(4):
        aid, _ = await label(repo, 1, project, GREEN, gold="first", now=later + i)
        missed = await store.after_label(aid, 1)
        assert missed is not None
        assert (missed.correct, missed.exam, missed.suspended) == (False, None, None)
    assert await store.control_score(1, project.id) == (4, 0)
    data, rules = check_of(repo, project)
    assert rules == []  # 4 control answers: below min_gold, whatever the exam was
    assert len(data.label) == 4
    # The fifth missed control reaches min_gold: now the rule applies, to controls only.
    aid, _ = await label(repo, 1, project, GREEN, gold="first", now=later + 10)
    fifth = await store.after_label(aid, 1)
    assert fifth is not None
    assert fifth.suspended == "gold accuracy 0% after 5 gold answers (< 60%)"


async def test_without_an_exam_every_gold_answer_is_a_control(repo: Repository) -> None:
    project = await gold_project(repo, n_gold=3, rules={"min_gold": 3})
    await add_worker(repo, 1, project)
    store = QualityStore(repo)
    now = time.time()
    for i in range(3):
        aid, _ = await label(repo, 1, project, GREEN, gold="only", now=now + i)
        result = await store.after_label(aid, 1)
    assert result is not None
    assert result.suspended == "gold accuracy 0% after 3 gold answers (< 60%)"
    assert await store.control_score(1, project.id) == (3, 0)
    await store.reinstate(1, project.id, actor=7)
    _, rules = check_of(repo, project, min_gold=3)
    assert rules == ["gold_accuracy"]


def test_migration_7_dates_passed_exams_from_the_event_log() -> None:
    db = sqlite3.connect(":memory:")
    for script in MIGRATIONS[:6]:
        db.executescript(script)
    db.executemany(
        "INSERT INTO memberships (worker_id, project_id, role, joined_at, exam_status)"
        " VALUES (?, 1, 'worker', 0, ?)",
        [(1, "passed"), (2, "failed"), (3, None), (4, "passed")],
    )
    db.executemany(
        "INSERT INTO events (at, actor, project_id, kind) VALUES (?, ?, 1, ?)",
        [(10.0, 1, "exam.retry"), (20.0, 1, "exam.passed"), (30.0, 2, "exam.failed")],
    )
    db.executescript(MIGRATIONS[6])
    rows = db.execute("SELECT worker_id, exam_passed_at FROM memberships ORDER BY 1").fetchall()
    assert rows == [(1, 20.0), (2, None), (3, None), (4, None)]


async def test_one_definition_of_a_samples_state(repo: Repository) -> None:
    project = await gold_project(repo, n_gold=1, n_plain=6)
    for ext, status, n_labels in [
        ("s0", "done", 2),  # a check found its answer
        ("s1", "reviewed", 5),  # a reviewer decided
        ("s2", "review", 5),  # waits for a reviewer
        ("s3", "open", 2),  # every label it asked for, not checked yet: done
        ("s4", "open", 1),  # wants one more
        ("g0", "open", 2),  # control, however many labels it has
    ]:
        await repo.db.execute(
            "UPDATE samples SET status = ?, n_labels = ? WHERE project_id = ? AND ext_id = ?",
            (status, n_labels, project.id, ext),
        )
    await repo.db.commit()
    expected = {"done": 3, "open": 2, "review": 1, "control": 1}  # s5: open, no labels
    assert (await repo.sample_counts(project.id)).model_dump() == expected
    assert (await QualityStore(repo).sample_counts(project.id)).model_dump() == expected
    progress = await repo.project_status(project.id)
    assert progress.states.model_dump() == expected
    assert (progress.samples, progress.samples_done, progress.states.work) == (7, 3, 6)
