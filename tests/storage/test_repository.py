from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from storage.assignments import TAP_SQL
from storage.errors import Conflict, DatabaseUnavailable, NotFound, StorageError
from storage.gold import GOLD_ANSWER_SQL
from storage.migrations import MIGRATIONS
from storage.models import LabelStatus, Role, SampleIn, UndoStatus
from storage.repository import ANSWER_SQL, CLAIM_SQL, DUE_SQL, GOLD_CLAIM_SQL, PICK_SQL, Repository
from tests.conftest import add_project, add_worker, make_spec


async def test_migrations_set_user_version_and_pragmas(repo: Repository) -> None:
    assert await repo.schema_version() == len(MIGRATIONS)
    row = await repo.one("PRAGMA journal_mode")
    assert row == ("wal",)
    row = await repo.one("PRAGMA foreign_keys")
    assert row == (1,)


async def test_reopen_keeps_data_and_does_not_remigrate(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    async with Repository(path) as repo:
        await add_project(repo, 3)
    async with Repository(path) as repo:
        status = await repo.project_status((await repo.get_project("colours")).id)
        assert status.samples == 3


async def test_unopenable_path_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        await Repository(tmp_path / "missing" / "x.db").open()
    not_db = tmp_path / "junk.db"
    not_db.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(DatabaseUnavailable, match="cannot open database"):
        await Repository(not_db).open()


async def test_duplicate_slug_is_a_conflict(repo: Repository) -> None:
    await repo.create_project(make_spec())
    with pytest.raises(Conflict, match="slug 'colours'"):
        await repo.create_project(make_spec())


async def test_import_is_idempotent_and_checks_truth(repo: Repository) -> None:
    project = await add_project(repo, 4)
    added, present = await repo.import_samples(
        project.id, [SampleIn(ext_id="s1", text="again"), SampleIn(ext_id="new", text="n")]
    )
    assert (added, present) == (1, 1)
    with pytest.raises(ValueError, match="truth 'purple' is not an option"):
        await repo.import_samples(
            project.id,
            [SampleIn(ext_id="ok", text="fine"), SampleIn(ext_id="bad", text="x", truth="purple")],
        )
    # the failed import left nothing behind, not even its valid first row
    assert (await repo.project_status(project.id)).samples == 5


async def test_overlap_distinct_workers_and_no_repeats(repo: Repository) -> None:
    project = await add_project(repo, 3, overlap=2)
    for w in (1, 2, 3):
        await add_worker(repo, w, project)
    seen: dict[int, list[int]] = {1: [], 2: [], 3: []}
    for _ in range(10):
        for w in (1, 2, 3):
            card = await repo.next_card(w, project.id)
            if card is None:
                continue
            seen[w].append(card.sample.id)
            outcome = await repo.record_label(card.assignment_id, w, 0)
            assert outcome.status is LabelStatus.RECORDED
    for samples in seen.values():
        assert len(samples) == len(set(samples)), "a worker saw a sample twice"
    labels = await repo.live_labels(project.id)
    assert len(labels) == 3 * 2
    per_sample: dict[int, set[int]] = {}
    for label in labels:
        per_sample.setdefault(label.sample_id, set()).add(label.worker_id)
    assert all(len(workers) == 2 for workers in per_sample.values())
    for w in (1, 2, 3):
        assert await repo.next_card(w, project.id) is None


async def test_partly_labeled_samples_go_first(repo: Repository) -> None:
    project = await add_project(repo, 5, overlap=3)
    for w in (1, 2):
        await add_worker(repo, w, project)
    first = await repo.next_card(1, project.id)
    assert first is not None
    await repo.record_label(first.assignment_id, 1, 0)
    second = await repo.next_card(2, project.id)
    assert second is not None
    assert second.sample.id == first.sample.id


async def test_open_card_is_returned_again_not_a_new_one(repo: Repository) -> None:
    project = await add_project(repo, 5)
    await add_worker(repo, 1, project)
    a = await repo.next_card(1, project.id)
    b = await repo.next_card(1, project.id)
    assert a is not None
    assert b is not None
    assert a.assignment_id == b.assignment_id
    assert (await repo.project_status(project.id)).open_assignments == 1


async def test_expired_assignment_returns_to_pool(repo: Repository) -> None:
    project = await add_project(repo, 1, overlap=1, assignment_timeout=60)
    for w in (1, 2):
        await add_worker(repo, w, project)
    card = await repo.next_card(1, project.id, now=1000.0)
    assert card is not None
    assert await repo.next_card(2, project.id, now=1030.0) is None  # still held by worker 1
    late = await repo.next_card(2, project.id, now=1061.0)
    assert late is not None
    assert late.sample.id == card.sample.id
    # worker 1's tap on the expired card records nothing
    outcome = await repo.record_label(card.assignment_id, 1, 0, now=1062.0)
    assert outcome.status is LabelStatus.EXPIRED
    recorded = await repo.record_label(late.assignment_id, 2, 1, now=1063.0)
    assert recorded.status is LabelStatus.RECORDED
    labels = await repo.live_labels(project.id)
    assert [(label.worker_id, label.option_key) for label in labels] == [(2, "green")]
    # worker 1 never gets that sample again
    assert await repo.next_card(1, project.id, now=1065.0) is None


async def test_expiry_in_record_label_itself(repo: Repository) -> None:
    project = await add_project(repo, 1, overlap=1, assignment_timeout=60)
    await add_worker(repo, 1, project)
    card = await repo.next_card(1, project.id, now=0.0)
    assert card is not None
    outcome = await repo.record_label(card.assignment_id, 1, 0, now=61.0)
    assert outcome.status is LabelStatus.EXPIRED
    assert (await repo.sample(card.sample.id)).n_open == 0


async def test_double_tap_records_one_label(repo: Repository) -> None:
    project = await add_project(repo, 2)
    await add_worker(repo, 1, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    first = await repo.record_label(card.assignment_id, 1, 2)
    again = await repo.record_label(card.assignment_id, 1, 0)
    assert first.status is LabelStatus.RECORDED
    assert again.status is LabelStatus.DUPLICATE
    assert again.option is not None
    assert again.option.key == "blue"
    assert len(await repo.live_labels(project.id)) == 1


async def test_foreign_and_invalid_taps_record_nothing(repo: Repository) -> None:
    project = await add_project(repo, 2)
    for w in (1, 2):
        await add_worker(repo, w, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    assert (await repo.record_label(card.assignment_id, 2, 0)).status is LabelStatus.NOT_YOURS
    assert (await repo.record_label(999_999, 1, 0)).status is LabelStatus.NOT_YOURS
    assert (await repo.record_label(card.assignment_id, 1, 3)).status is LabelStatus.BAD_OPTION
    assert await repo.live_labels(project.id) == []


async def test_skip_and_report_return_sample_and_are_final(repo: Repository) -> None:
    project = await add_project(repo, 2, overlap=1)
    await add_worker(repo, 1, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    result = await repo.close_assignment(card.assignment_id, 1, "reported", "broken")
    assert result.status is LabelStatus.RECORDED
    assert (await repo.record_label(card.assignment_id, 1, 0)).status is LabelStatus.CLOSED
    sample = await repo.sample(card.sample.id)
    assert (sample.n_open, sample.n_labels) == (0, 0)
    assert (await repo.project_status(project.id)).reports == 1


async def test_undo_takes_back_last_label_and_reopens_it(repo: Repository) -> None:
    project = await add_project(repo, 3, overlap=2)
    await add_worker(repo, 1, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    await repo.record_label(card.assignment_id, 1, 0)
    held = await repo.next_card(1, project.id)
    assert held is not None
    undone = await repo.undo_last(1, project.id)
    assert undone.status is UndoStatus.UNDONE
    assert undone.card is not None
    assert undone.card.assignment_id == card.assignment_id
    assert await repo.live_labels(project.id) == []
    # the card the worker held went back to the pool
    assert (await repo.record_label(held.assignment_id, 1, 0)).status is LabelStatus.CLOSED
    relabel = await repo.record_label(card.assignment_id, 1, 1)
    assert relabel.status is LabelStatus.RECORDED
    labels = await repo.live_labels(project.id)
    assert [label.option_key for label in labels] == ["green"]
    raw = await repo.all("SELECT retracted_at IS NOT NULL FROM labels ORDER BY id")
    assert raw == [(1,), (0,)]  # the taken-back label is kept, marked retracted


async def test_undo_refused_when_sample_is_finished(repo: Repository) -> None:
    project = await add_project(repo, 1, overlap=1)
    await add_worker(repo, 1, project)
    assert (await repo.undo_last(1, project.id)).status is UndoStatus.NOTHING
    card = await repo.next_card(1, project.id)
    assert card is not None
    await repo.record_label(card.assignment_id, 1, 0)
    assert (await repo.undo_last(1, project.id)).status is UndoStatus.TOO_LATE


async def test_invites_roles_and_no_demotion(repo: Repository) -> None:
    project = await add_project(repo, 1)
    await repo.upsert_worker(7, "C", None, "ko")
    coord = await repo.create_invite(project.id, Role.COORDINATOR)
    worker = await repo.create_invite(project.id, Role.WORKER)
    _, role = await repo.redeem_invite(coord, 7)
    assert role is Role.COORDINATOR
    _, role = await repo.redeem_invite(worker, 7)
    assert role is Role.COORDINATOR
    with pytest.raises(NotFound):
        await repo.redeem_invite("nope", 7)
    w = await repo.get_worker(7)
    assert w is not None
    assert w.language == "ko"
    assert w.current_project_id == project.id


async def test_language_choice_survives_profile_refresh(repo: Repository) -> None:
    await repo.upsert_worker(5, "A", None, "en")
    await repo.set_language(5, "ko")
    w = await repo.upsert_worker(5, "A", None, "en-US")
    assert w.language == "ko"


async def test_event_log_is_append_only(repo: Repository) -> None:
    await add_project(repo, 1)
    events = await repo.events()
    assert {e["kind"] for e in events} >= {"project.created", "samples.imported"}
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await repo.db.execute("DELETE FROM events")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await repo.db.execute("UPDATE events SET kind = 'x'")


@pytest.mark.parametrize("sql", [PICK_SQL, CLAIM_SQL, ANSWER_SQL, TAP_SQL])
async def test_hot_queries_use_indexes_not_scans(repo: Repository, sql: str) -> None:
    project = await add_project(repo, 50)
    params = {
        "project": project.id,
        "worker": 1,
        "now": 0.0,
        "expires": 1.0,
        "assignment": 1,
        "idx": 0,
        "update": 7,
        "option": 1,
        "message": None,
    }
    names = {n for n in params if f":{n}" in sql}
    plan_rows = await repo.all("EXPLAIN QUERY PLAN " + sql, {n: params[n] for n in names})
    plan = " | ".join(str(row[3]) for row in plan_rows)
    assert "SCAN" not in plan, plan  # every table is reached through an index
    assert "TEMP B-TREE" not in plan, plan  # the index gives the order; nothing is sorted
    if "s.need" in sql:  # a pick
        assert "INDEX samples_pick" in plan
        assert "sqlite_autoindex_assignments_1" in plan  # the seen-check is an index lookup


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        (DUE_SQL, (0.0,)),  # the probe before a claim (at most once a second)
        (GOLD_ANSWER_SQL, (1, 1)),  # the gold check after every label
    ],
)
async def test_tap_lookups_use_indexes_not_scans(
    repo: Repository, sql: str, params: tuple[float | int, ...]
) -> None:
    await add_project(repo, 50)
    plan_rows = await repo.all("EXPLAIN QUERY PLAN " + sql, params)
    plan = " | ".join(str(row[3]) for row in plan_rows)
    assert "SCAN" not in plan, plan
    assert "TEMP B-TREE" not in plan, plan


async def test_gold_claim_reaches_gold_samples_through_their_index(repo: Repository) -> None:
    project = await add_project(repo, 50)
    params = {"project": project.id, "worker": 1, "now": 0.0, "expires": 1.0, "message": None}
    plan_rows = await repo.all("EXPLAIN QUERY PLAN " + GOLD_CLAIM_SQL, params)
    plan = " | ".join(str(row[3]) for row in plan_rows)
    assert "SCAN" not in plan, plan
    assert "INDEX samples_gold" in plan, plan  # only the project's gold samples are read
    assert "sqlite_autoindex_assignments_1" in plan, plan
    # (They are sorted by n_labels on every gold claim: cheap while gold samples are few.)


async def test_idle_workers_are_found_once_when_work_returns(repo: Repository) -> None:
    project = await add_project(repo, 1, overlap=1)
    for w in (1, 2):
        await add_worker(repo, w, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    await repo.record_label(card.assignment_id, 1, 0)
    await repo.mark_idle(1, project.id)
    await repo.mark_idle(2, project.id)
    assert await repo.take_idle_with_work() == []  # nothing new yet
    await repo.import_samples(project.id, [SampleIn(ext_id="new", text="new one")])
    assert sorted(await repo.take_idle_with_work()) == [(1, project.id), (2, project.id)]
    assert await repo.take_idle_with_work() == []  # each is told once


async def test_concurrent_workers_keep_counters_consistent(repo: Repository) -> None:
    import asyncio
    import random

    project = await add_project(repo, 40, overlap=3)
    workers = list(range(1, 9))
    for w in workers:
        await add_worker(repo, w, project)

    async def work(w: int) -> int:
        rng = random.Random(w)
        done = 0
        while (card := await repo.next_card(w, project.id)) is not None:
            roll = rng.random()
            if roll < 0.1:
                await repo.close_assignment(card.assignment_id, w, "skipped")
                continue
            taps = [repo.record_label(card.assignment_id, w, rng.randrange(3)) for _ in range(2)]
            outcomes = await asyncio.gather(*taps)  # a double tap, processed concurrently
            assert sorted(o.status.value for o in outcomes) == ["duplicate", "recorded"]
            done += 1
            if roll > 0.95 and (await repo.undo_last(w, project.id)).card is not None:
                done -= 1  # taken back; the same card comes next and is labeled again
        return done

    totals = await asyncio.gather(*(work(w) for w in workers))
    labels = await repo.live_labels(project.id)
    assert len(labels) == sum(totals)
    rows = await repo.all(
        "SELECT s.id, s.target, s.n_labels, s.n_open, s.need,"
        " (SELECT COUNT(*) FROM labels l WHERE l.sample_id = s.id AND l.retracted_at IS NULL),"
        " (SELECT COUNT(*) FROM assignments a WHERE a.sample_id = s.id AND a.status = 'open')"
        " FROM samples s"
    )
    for _, target, n_labels, n_open, need, live, open_ in rows:
        assert (n_labels, n_open) == (live, open_)
        assert need == target - n_labels - n_open
        assert n_labels <= target
    pairs = [(lb.worker_id, lb.sample_id) for lb in labels]
    assert len(pairs) == len(set(pairs)), "a worker labeled a sample twice"


async def test_checkpoint_copies_the_wal_from_its_own_connection(repo: Repository) -> None:
    row = await repo.one("PRAGMA wal_autocheckpoint")
    assert row is not None
    assert row[0] > 1000  # the automatic checkpoint is only a safety net
    project = await add_project(repo, 200)
    await add_worker(repo, 1, project)
    async with repo.transaction():  # a writer holding the lock does not block the checkpoint
        pages, copied = await repo.checkpoint()
    assert pages > 0
    assert copied == pages


async def test_import_session_reports_duplicates_and_stores_its_report(repo: Repository) -> None:
    project = await repo.create_project(make_spec())

    def s(ext: str, key: str) -> SampleIn:
        return SampleIn(ext_id=ext, text=f"text {key}", content_key=key)

    async with repo.import_session(project.id, "first.csv") as session:
        assert await session.add([s("a", "k1"), s("b", "k2")]) == [None, None]
        assert await session.add([s("c", "k1"), s("a", "k9")]) == ["duplicate", "id_exists"]
        session.rows_read, session.dropped, session.report = 4, 2, {"rows": 4}
    async with repo.import_session(project.id, "second.csv") as session:
        assert await session.add([s("d", "k2"), s("e", "k3")]) == ["already_in_project", None]
    reports = await repo.imports(project.id)
    assert [(r.source, r.added) for r in reports] == [("second.csv", 1), ("first.csv", 2)]
    assert reports[1].report == {"rows": 4}
    assert (await repo.project_status(project.id)).samples == 3


async def test_import_session_without_the_duplicate_rule_only_checks_ids(
    repo: Repository,
) -> None:
    project = await repo.create_project(make_spec())

    def s(ext: str, key: str) -> SampleIn:
        return SampleIn(ext_id=ext, text=f"text {key}", content_key=key)

    async with repo.import_session(project.id, "first.csv") as session:
        assert await session.add([s("a", "k1")]) == [None]
    async with repo.import_session(project.id, "again.csv", duplicates=False) as session:
        got = await session.add([s("b", "k1"), s("c", "k1"), s("a", "k7")])
        assert got == [None, None, "id_exists"]
    assert (await repo.project_status(project.id)).samples == 3


async def test_duplicate_checks_span_batches_and_survive_many_keys(repo: Repository) -> None:
    project = await repo.create_project(make_spec())
    first = [SampleIn(ext_id=f"a{i}", text=f"t{i}", content_key=f"k{i}") for i in range(3000)]
    async with repo.import_session(project.id, "one.csv") as session:
        assert await session.add(first[:1500]) == [None] * 1500
        again = [SampleIn(ext_id=f"b{i}", text="x", content_key=f"k{i}") for i in (0, 1499)]
        assert await session.add([*again, *first[1500:]]) == ["duplicate"] * 2 + [None] * 1500
    async with repo.import_session(project.id, "two.csv") as session:
        later = [SampleIn(ext_id=f"c{i}", text="x", content_key=f"k{i}") for i in (7, 2999)]
        fresh = SampleIn(ext_id="c-new", text="y", content_key="k-new")
        assert await session.add([*later, fresh]) == ["already_in_project"] * 2 + [None]
    assert (await repo.project_status(project.id)).samples == 3001


def stages(repo: Repository) -> list[Path]:
    return sorted(repo.path.parent.glob(f"{repo.path.name}.import-*.tmp"))


async def test_an_import_in_progress_holds_no_lock_and_shows_nothing_yet(
    repo: Repository,
) -> None:
    project = await repo.create_project(make_spec())
    other = await add_project(repo, 3, slug="other")
    async with repo.import_session(project.id, "big.csv") as session:
        await session.add([SampleIn(ext_id="a", text="one", content_key="k1")])
        assert len(stages(repo)) == 1
        # Labeling (any write) goes on while the import reads and cleans.
        async with asyncio.timeout(2), repo.transaction() as db:
            await db.execute("UPDATE projects SET name = 'renamed' WHERE id = ?", (other.id,))
        assert (await repo.project_status(project.id)).samples == 0
        session.rows_read = 1
    assert (await repo.project_status(project.id)).samples == 1
    assert stages(repo) == []
    (summary,) = await repo.imports(project.id)
    assert (summary.source, summary.added, summary.rows_read) == ("big.csv", 1, 1)


async def test_an_id_taken_by_someone_else_meanwhile_cancels_the_whole_import(
    repo: Repository,
) -> None:
    project = await repo.create_project(make_spec())

    async def raced() -> None:
        async with repo.import_session(project.id, "race.csv") as session:
            await session.add([SampleIn(ext_id=f"s{i}", text=f"t{i}") for i in range(3)])
            # Another process adds s1 behind this one's back (the lock only covers ours).
            await repo.db.execute(
                "INSERT INTO samples (project_id, ext_id, kind, text, target, need, created_at)"
                " VALUES (?, 's1', 'text', 'x', 3, 3, 0)",
                (project.id,),
            )

    with pytest.raises(StorageError, match="nothing was imported"):
        await raced()
    assert (await repo.project_status(project.id)).samples == 1  # only the other one's
    assert await repo.imports(project.id) == []
    assert stages(repo) == []


async def test_abandoned_import_files_are_removed_at_open(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    old, fresh = tmp_path / "x.db.import-old.tmp", tmp_path / "x.db.import-new.tmp"
    for f in (old, fresh):
        f.write_bytes(b"scratch")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    async with Repository(path):
        pass
    assert not old.exists()
    assert fresh.exists()  # may be another process's import, still being written


async def test_import_session_rolls_back_whole(repo: Repository) -> None:
    project = await repo.create_project(make_spec())

    async def half_then_bad() -> None:
        async with repo.import_session(project.id, "bad.csv") as session:
            await session.add([SampleIn(ext_id="ok", text="fine", content_key="k")])
            await session.add([SampleIn(ext_id="x", text="t", truth="purple", content_key="j")])

    with pytest.raises(ValueError, match="truth 'purple'"):
        await half_then_bad()
    assert (await repo.project_status(project.id)).samples == 0
    assert await repo.imports(project.id) == []
    assert stages(repo) == []


async def _stored_projects(repo: Repository) -> list[tuple[object, ...]]:
    projects = await repo.db.execute_fetchall("SELECT id, slug FROM projects")
    options = await repo.db.execute_fetchall("SELECT COUNT(*) FROM options")
    return [tuple(r) for r in projects] + [tuple(r) for r in options]


async def _create_with(
    repo: Repository,
    samples: list[SampleIn],
    meanwhile: Callable[[], Awaitable[object]] | None = None,
) -> int:
    """`labelgram project create` in short: a draft project and its first import."""
    async with repo.project_draft(make_spec()) as draft:
        if meanwhile is not None:
            await meanwhile()
        async with repo.import_session(draft.id, "data.csv") as session:
            await session.add(samples)
    return draft.id


async def test_a_draft_project_is_stored_with_its_import(repo: Repository) -> None:
    spec = make_spec()
    async with repo.project_draft(spec) as draft:
        assert await _stored_projects(repo) == [(0,)]  # nothing yet: not even the options
        async with repo.import_session(draft.id, "first.csv") as session:
            assert await session.add([SampleIn(ext_id="a", text="x", truth="red")]) == [None]
    project = await repo.get_project(spec.slug)
    assert project.id == draft.id
    assert [o.key for o in await repo.options(project.id)] == ["red", "green", "blue"]
    assert [r.source for r in await repo.imports(project.id)] == ["first.csv"]
    assert (await repo.project_status(project.id)).samples == 1
    kinds = await repo.db.execute_fetchall("SELECT kind FROM events ORDER BY id")
    assert [k[0] for k in kinds] == ["project.created", "samples.imported"]


async def test_a_failed_import_leaves_no_draft_project_and_the_slug_free(
    repo: Repository,
) -> None:
    with pytest.raises(ValueError, match="not an option"):
        await _create_with(repo, [SampleIn(ext_id="a", text="x", truth="purple")])
    assert await _stored_projects(repo) == [(0,)]
    with pytest.raises(NotFound):
        await repo.get_project(1)  # not served from a stale cache either
    # the same command, once the data is fixed
    project_id = await _create_with(repo, [SampleIn(ext_id="a", text="x", truth="red")])
    assert await _stored_projects(repo) == [(project_id, "colours"), (3,)]


async def test_the_draft_project_is_stored_in_the_import_publishing_transaction(
    repo: Repository,
) -> None:
    # The import row is written after the project in the publishing transaction: when it
    # fails, the project goes with it (as with a crash before COMMIT), not left behind.
    await repo.db.execute(
        "CREATE TEMP TRIGGER fail_import BEFORE INSERT ON imports"
        " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
        await _create_with(repo, [SampleIn(ext_id="a", text="x")])
    assert await _stored_projects(repo) == [(0,)]


async def test_a_draft_without_an_import_is_stored_alone_and_slugs_stay_unique(
    repo: Repository,
) -> None:
    async with repo.project_draft(make_spec()) as draft:
        pass
    assert (await repo.get_project("colours")).id == draft.id
    with pytest.raises(Conflict, match="slug 'colours' already exists"):
        await _create_with(repo, [SampleIn(ext_id="a", text="x")])
    assert await _stored_projects(repo) == [(draft.id, "colours"), (3,)]


async def test_a_draft_whose_id_was_taken_meanwhile_stores_nothing(repo: Repository) -> None:
    async def another_process_creates_a_project() -> None:
        async with Repository(repo.path) as other:
            await other.create_project(make_spec(slug="other", name="Other"))

    with pytest.raises(Conflict, match="took id 1 while 'colours' was being created"):
        await _create_with(
            repo, [SampleIn(ext_id="a", text="x")], another_process_creates_a_project
        )
    assert await _stored_projects(repo) == [(1, "other"), (3,)]
    assert (await repo.project_status(1)).samples == 0  # the import did not land there


async def test_a_write_cancelled_at_its_begin_leaves_no_transaction_open(
    repo: Repository,
) -> None:
    """A handler cancelled (at shutdown) while its BEGIN was on the way must not leave the
    shared connection inside a transaction for the next write."""
    task = asyncio.create_task(repo.log_event("first"))
    await asyncio.sleep(0)  # the task holds the lock and waits for its BEGIN
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await repo.log_event("second")  # not "cannot start a transaction within a transaction"
    assert not repo.db.in_transaction
    assert [e["kind"] for e in await repo.events()] == ["second"]
