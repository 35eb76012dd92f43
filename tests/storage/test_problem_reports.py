"""The report inbox and project life in storage: holds, decisions once per update, a fix that
keeps the counters right, paused and closed projects claiming nothing."""

from __future__ import annotations

import pytest

from storage.backup import COUNTER_ERRORS_SQL
from storage.models import Project, UndoStatus
from storage.quality import QualityStore
from storage.repository import IDLE_WITH_WORK_SQL, PICK_SQL, Repository
from tests.conftest import add_project, add_worker


async def reported(
    repo: Repository, project: Project, worker: int, reason: str = "unclear"
) -> int:
    """The worker's next card, reported; its sample's id."""
    card = await repo.next_card(worker, project.id)
    assert card is not None
    outcome = await repo.close_assignment(card.assignment_id, worker, "reported", reason)
    assert outcome.project_id == project.id
    return card.sample.id


async def held(repo: Repository, sample_id: int) -> str | None:
    row = await repo.one("SELECT held FROM samples WHERE id = ?", (sample_id,))
    assert row is not None
    return None if row[0] is None else str(row[0])


async def events(repo: Repository, kind: str) -> int:
    row = await repo.one("SELECT COUNT(*) FROM events WHERE kind = ?", (kind,))
    assert row is not None
    return int(row[0])


async def test_a_sample_is_held_after_report_hold_workers(repo: Repository) -> None:
    project = await add_project(repo, 1, overlap=5)
    for w in (1, 2, 3):
        await add_worker(repo, w, project)
    sample = await reported(repo, project, 1)
    assert await held(repo, sample) is None
    # The same worker cannot report it twice (a card is shown once); a second worker holds it.
    assert await reported(repo, project, 2, "broken") == sample
    assert await held(repo, sample) == "held"
    assert await events(repo, "sample.held") == 1
    assert await repo.next_card(3, project.id) is None
    assert await repo.all(PICK_SQL, {"project": project.id, "worker": 3}) == []
    # An idle worker is not told of work that is held.
    await repo.mark_idle(3, project.id)
    assert await repo.all(IDLE_WITH_WORK_SQL) == []
    # A report alone asks for nothing (the bot reports broken files itself); the worker's
    # tap asks for a note on their own report.
    assert await repo.pending_reply(2) is None
    row = await repo.one("SELECT assignment_id, id FROM reports WHERE worker_id = 2")
    assert row is not None
    await repo.await_note(1, row[0])  # not their report: nothing asked
    assert await repo.pending_reply(1) is None
    await repo.await_note(2, row[0])
    pending = await repo.pending_reply(2)
    assert pending is not None
    assert (pending.kind, pending.ref) == ("note", row[1])


async def test_report_hold_zero_never_holds(repo: Repository) -> None:
    project = await add_project(repo, 1, overlap=5, report_hold=0)
    for w in (1, 2, 3):
        await add_worker(repo, w, project)
    sample = await reported(repo, project, 1)
    await reported(repo, project, 2)
    assert await held(repo, sample) is None
    card = await repo.next_card(3, project.id)
    assert card is not None
    assert card.sample.id == sample


async def test_a_note_goes_on_the_workers_own_report_once(repo: Repository) -> None:
    project = await add_project(repo, 1, overlap=5)
    await add_worker(repo, 1, project)
    await add_worker(repo, 2, project)
    await reported(repo, project, 1)
    report_id = (await repo.one("SELECT id FROM reports"))[0]  # type: ignore[index]
    await repo.await_note(1, (await repo.one("SELECT assignment_id FROM reports"))[0])  # type: ignore[index]
    assert not await repo.save_note(2, report_id, "not mine", update_id=10)
    assert await repo.save_note(1, report_id, "cut off", update_id=11)
    assert await repo.save_note(1, report_id, "something else", update_id=11)  # a replay
    assert await repo.one("SELECT note FROM reports") == ("cut off",)
    assert await repo.pending_reply(1) is None
    assert await events(repo, "report.note") == 1


async def test_excluded_once_per_update_and_out_for_good(repo: Repository) -> None:
    project = await add_project(repo, 1, overlap=5)
    for w in (1, 2, 3, 4):
        await add_worker(repo, w, project)
    sample = await reported(repo, project, 1, "broken")
    open_card = await repo.next_card(3, project.id)  # on screen when it is excluded
    assert open_card is not None
    await reported(repo, project, 2, "broken")
    first = await repo.decide_reports(sample, "excluded", actor=900, update_id=50)
    assert first is not None
    assert first.reporters == [1, 2]
    again = await repo.decide_reports(sample, "excluded", actor=900, update_id=50)
    assert again is not None
    assert again.replay
    assert again.reporters == [1, 2]
    assert await repo.decide_reports(sample, "dismissed", actor=900, update_id=51) is None
    assert await held(repo, sample) == "excluded"
    assert await repo.excluded_reason(sample) == "broken (2)"
    assert await repo.excluded_count(project.id) == 1
    assert await events(repo, "sample.excluded") == 1
    assert await repo.open_card_of(3, project.id) is None  # its card was taken back
    assert await repo.next_card(4, project.id) is None
    assert await repo.open_report_count(project.id) == (0, 0)
    counts = await repo.sample_counts(project.id)  # no longer work: /status reaches 100 %
    assert (counts.work, counts.open) == (0, 0)
    assert await repo.one(COUNTER_ERRORS_SQL) == (0,)


async def test_dismissed_goes_back_to_the_pool(repo: Repository) -> None:
    project = await add_project(repo, 1, overlap=5)
    for w in (1, 2, 3):
        await add_worker(repo, w, project)
    sample = await reported(repo, project, 1)
    await reported(repo, project, 2)
    listed = await repo.open_reports(project.id)
    assert [r.sample.id for r in listed] == [sample]
    assert [(line.worker_id, line.name) for line in listed[0].lines] == [(1, "W1"), (2, "W2")]
    done = await repo.decide_reports(sample, "dismissed", actor=900)
    assert done is not None
    assert await held(repo, sample) is None
    card = await repo.next_card(3, project.id)
    assert card is not None
    assert card.sample.id == sample
    assert await events(repo, "reports.dismissed") == 1


@pytest.mark.parametrize("clear", [False, True])
async def test_a_fix_keeps_or_clears_the_labels(repo: Repository, clear: bool) -> None:
    project = await add_project(repo, 1, overlap=5)
    for w in (1, 2, 3):
        await add_worker(repo, w, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    await repo.record_label(card.assignment_id, 1, 0)
    sample = await reported(repo, project, 2)
    await repo.write("UPDATE samples SET status = 'done' WHERE id = ?", (sample,))
    with pytest.raises(ValueError, match="corrected text"):
        await repo.decide_reports(sample, "fixed", new_text="  ")
    done = await repo.decide_reports(sample, "fixed", new_text="fixed text", clear_labels=clear)
    assert done is not None
    assert done.cleared == (1 if clear else 0)
    row = await repo.one(
        "SELECT text, n_labels, status, held FROM samples WHERE id = ?", (sample,)
    )
    assert row == ("fixed text", 0 if clear else 1, "open" if clear else "done", None)
    live = await repo.one("SELECT COUNT(*) FROM labels WHERE retracted_at IS NULL")
    assert live == (0 if clear else 1,)
    assert await repo.one(COUNTER_ERRORS_SQL) == (0,)
    assert await events(repo, "sample.fixed") == 1


async def test_paused_and_closed_projects_claim_nothing(repo: Repository) -> None:
    project = await add_project(repo, 3, overlap=1)
    for w in (1, 2):
        await add_worker(repo, w, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    change = await repo.set_project_state(project.id, "paused", actor=900, update_id=7)
    assert (change.before, change.after, change.released) == ("active", "paused", 1)
    assert change.cards == []  # never delivered: no message to mark
    replayed = await repo.set_project_state(project.id, "paused", actor=900, update_id=7)
    assert replayed.replay
    assert replayed.released == 1
    assert await repo.open_card_of(1, project.id) is None
    assert await repo.next_card(2, project.id) is None
    assert await repo.next_card(2, project.id, gold="first") is None
    assert await repo.project_state(project.id) == "paused"
    await repo.mark_idle(2, project.id)
    assert await repo.all(IDLE_WITH_WORK_SQL) == []
    await repo.set_project_state(project.id, "active", actor=900)
    assert await repo.next_card(2, project.id) is not None
    labeled = await repo.next_card(1, project.id)
    assert labeled is not None
    await repo.record_label(labeled.assignment_id, 1, 0)
    await repo.set_project_state(project.id, "closed", actor=900)
    # Read-only: /undo reopens nothing.
    assert (await repo.undo_last(1, project.id)).status is UndoStatus.STOPPED
    assert await repo.project_states() == {project.id: "closed"}
    assert await repo.next_card(1, project.id) is None
    kinds = await repo.all(
        "SELECT kind FROM events WHERE kind IN"
        " ('project.paused', 'project.resumed', 'project.closed') ORDER BY id"
    )
    assert [k[0] for k in kinds] == ["project.paused", "project.resumed", "project.closed"]
    assert await repo.one(COUNTER_ERRORS_SQL) == (0,)


async def test_new_reports_are_announced_once(repo: Repository) -> None:
    project = await add_project(repo, 2, overlap=5)
    for w in (1, 2):
        await add_worker(repo, w, project)
    await reported(repo, project, 1)
    await reported(repo, project, 2)
    assert await repo.unannounced() == {project.id: 2}
    assert await repo.unannounced() == {project.id: 2}  # reading announces nothing
    assert await repo.announce(project.id, [900, 901, 900], 1.0) == 2
    assert await repo.unannounced() == {}
    assert await repo.announce(project.id, [900], 2.0) == 0  # a replayed round queues nothing
    rows = await repo.all("SELECT chat_id, kind, payload FROM outbox ORDER BY chat_id")
    assert [tuple(r) for r in rows] == [
        (900, "reports_new", f'{{"n": 2, "project": {project.id}}}'),
        (901, "reports_new", f'{{"n": 2, "project": {project.id}}}'),
    ]


async def test_the_pick_reads_held_from_the_index(repo: Repository) -> None:
    project = await add_project(repo, 50)
    rows = await repo.all("EXPLAIN QUERY PLAN " + PICK_SQL, {"project": project.id, "worker": 1})
    plan = " ".join(str(r[-1]) for r in rows)
    assert "COVERING INDEX samples_pick" in plan
    # The paused/closed check is one primary-key lookup, run once (not per candidate row).
    assert "SEARCH p USING PRIMARY KEY" in plan
    assert "CORRELATED SCALAR SUBQUERY 1" not in plan
    assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", "")


async def test_an_excluded_sample_waits_for_no_reviewer(repo: Repository) -> None:
    project = await add_project(repo, 2, overlap=5)
    await add_worker(repo, 1, project)
    await add_worker(repo, 2, project)
    sample = await reported(repo, project, 1)
    await reported(repo, project, 2)
    await repo.write("UPDATE samples SET status = 'review' WHERE project_id = ?", (project.id,))
    quality = QualityStore(repo)
    assert await quality.review_count(project.id) == 2
    await repo.decide_reports(sample, "excluded")
    assert await quality.review_count(project.id) == 1
    waiting = await quality.next_review(project.id)
    assert waiting is not None
    assert waiting[0].id != sample


async def test_the_check_reads_no_excluded_sample_nor_its_labels(repo: Repository) -> None:
    from storage.snapshot import read_labels

    project = await add_project(repo, 2, overlap=5)
    for w in (1, 2):
        await add_worker(repo, w, project)
    firsts, nexts = [], []
    for w in (1, 2):
        card = await repo.next_card(w, project.id)
        assert card is not None
        firsts.append(card.sample.id)
        following = (await repo.tap(card.assignment_id, w, 0)).card
        assert following is not None
        nexts.append(following)
    # Both labelled the first sample and hold the second: worker 1 reports it, worker 2
    # labels it, and a coordinator then excludes it.
    assert firsts[0] == firsts[1]
    assert nexts[0].sample.id == nexts[1].sample.id
    excluded = nexts[0].sample.id
    await repo.close_assignment(nexts[0].assignment_id, 1, "reported", "broken")
    await repo.tap(nexts[1].assignment_id, 2, 1)
    before = read_labels(repo.path, project.id)
    assert sorted(before.sample_ids[before.task].tolist()) == sorted([firsts[0]] * 2 + [excluded])
    assert await repo.decide_reports(excluded, "excluded") is not None
    after = read_labels(repo.path, project.id)
    assert after.sample_ids.tolist() == [firsts[0]]
    assert after.sample_ids[after.task].tolist() == [firsts[0]] * 2
    assert after.last_label_id == before.last_label_id  # the watermark still counts it


async def test_a_suspended_worker_undoes_nothing_and_their_taps_are_refused(
    repo: Repository,
) -> None:
    from storage.models import LabelStatus
    from storage.quality import QualityStore

    project = await add_project(repo, 5)
    await add_worker(repo, 1, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    held = (await repo.tap(card.assignment_id, 1, 0)).card
    assert held is not None
    assert await QualityStore(repo).suspend(1, project.id, "too fast", "speed")
    assert (await repo.undo_last(1, project.id)).status is UndoStatus.BARRED
    assert await repo.open_card_of(1, project.id) is None
    # A card reopened before the suspension (there is none here: make one) takes no label.
    await repo.write(
        "UPDATE assignments SET status = 'open', closed_at = NULL WHERE id = ?",
        (held.assignment_id,),
    )
    refused = await repo.tap(held.assignment_id, 1, 0)
    assert refused.outcome.status is LabelStatus.CLOSED
    assert refused.card is None
    assert len(await repo.live_labels(project.id)) == 1
