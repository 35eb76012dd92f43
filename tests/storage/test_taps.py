"""The label tap in one transaction (`Repository.tap`): the label, its gold check and the next
card land together, and a tap sooner than the project's min_read is refused, also on replay."""

from __future__ import annotations

import time

import pytest

from storage.models import LabelStatus, Project, SampleIn
from storage.repository import Repository
from tests.conftest import add_project, add_worker
from tests.storage.test_quality_store import GREEN, RED, gold_project


async def first_card(repo: Repository, project: Project, user: int, now: float) -> int:
    await add_worker(repo, user, project)
    card = await repo.next_card(user, project.id, now=now)
    assert card is not None
    return card.assignment_id


async def live_labels(repo: Repository, assignment_id: int) -> int:
    row = await repo.one(
        "SELECT COUNT(*) FROM labels WHERE assignment_id = ? AND retracted_at IS NULL",
        (assignment_id,),
    )
    assert row is not None
    return int(row[0])


async def test_a_tap_stores_the_label_and_claims_the_next_card_shown_in_the_tapped_message(
    repo: Repository,
) -> None:
    project = await add_project(repo, 3, card_flow="edit")
    now = time.time()
    first = await first_card(repo, project, 1, now)
    result = await repo.tap(first, 1, RED, update_id=10, message_id=77, now=now + 1)
    assert result.outcome.status is LabelStatus.RECORDED
    assert result.outcome.option is not None
    assert result.outcome.option.key == "red"
    assert result.gold is None
    card = result.card
    assert card is not None
    assert card.assignment_id != first
    assert card.message_id == 77  # on screen once the tapped message is edited into it
    open_card = await repo.open_card_of(1, project.id)
    assert open_card is not None
    assert open_card.assignment_id == card.assignment_id
    assert await live_labels(repo, first) == 1
    # The edit failed: the card is undelivered again, for the pending-card job.
    await repo.card_unsent(card.assignment_id, 77)
    assert (card.assignment_id) in [a for _, _, a in await repo.undelivered(now + 100)]


async def test_in_the_new_card_flow_the_next_card_waits_for_its_own_message(
    repo: Repository,
) -> None:
    project = await add_project(repo, 3)  # make_spec: card_flow "new"
    now = time.time()
    first = await first_card(repo, project, 1, now)
    result = await repo.tap(first, 1, RED, update_id=10, message_id=77, now=now + 1)
    assert result.card is not None
    assert result.card.message_id is None


async def test_the_label_and_the_claim_are_one_transaction(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = await add_project(repo, 3)
    now = time.time()
    first = await first_card(repo, project, 1, now)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(repo, "claim_card", broken)
    with pytest.raises(RuntimeError):
        await repo.tap(first, 1, RED, update_id=10, now=now + 1)
    assert await live_labels(repo, first) == 0  # the label went back with the claim
    monkeypatch.undo()
    result = await repo.tap(first, 1, RED, update_id=10, now=now + 1)
    assert result.outcome.status is LabelStatus.RECORDED
    assert result.card is not None


async def test_a_tap_sooner_than_min_read_is_refused_and_so_is_its_replay(
    repo: Repository,
) -> None:
    project = await add_project(repo, 3, min_read=0.5)
    now = time.time()
    first = await first_card(repo, project, 1, now)
    early = await repo.tap(first, 1, RED, update_id=10, now=now + 0.2)
    assert early.outcome.status is LabelStatus.TOO_FAST
    assert early.card is None
    assert await live_labels(repo, first) == 0
    # The same update handled again later (after a crash) is refused again: same result.
    replay = await repo.tap(first, 1, RED, update_id=10, now=now + 5)
    assert replay.outcome.status is LabelStatus.TOO_FAST
    assert await live_labels(repo, first) == 0
    # A tap made after reading counts.
    later = await repo.tap(first, 1, GREEN, update_id=11, now=now + 0.6)
    assert later.outcome.status is LabelStatus.RECORDED
    assert later.outcome.option is not None
    assert later.outcome.option.key == "green"
    # The refused update stays refused, even now that the card is answered.
    again = await repo.tap(first, 1, RED, update_id=10, now=now + 9)
    assert again.outcome.status is LabelStatus.TOO_FAST
    assert await live_labels(repo, first) == 1


async def test_min_read_zero_turns_the_guard_off(repo: Repository) -> None:
    project = await add_project(repo, 3, min_read=0)
    now = time.time()
    first = await first_card(repo, project, 1, now)
    result = await repo.tap(first, 1, RED, update_id=10, now=now)
    assert result.outcome.status is LabelStatus.RECORDED


async def test_refusals_claim_nothing(repo: Repository) -> None:
    project = await add_project(repo, 3)
    now = time.time()
    first = await first_card(repo, project, 1, now)
    await add_worker(repo, 2, project)
    assert (await repo.tap(first, 2, RED, now=now + 1)).outcome.status is LabelStatus.NOT_YOURS
    bad = await repo.tap(first, 1, 9, now=now + 1)
    assert bad.outcome.status is LabelStatus.BAD_OPTION
    assert bad.card is None
    done = await repo.tap(first, 1, RED, update_id=5, now=now + 1)
    assert done.card is not None
    twice = await repo.tap(first, 1, GREEN, update_id=6, now=now + 2)
    assert twice.outcome.status is LabelStatus.DUPLICATE
    assert twice.card is None
    assert twice.outcome.option is not None
    assert twice.outcome.option.key == "red"
    late = await repo.tap(done.card.assignment_id, 1, RED, now=now + 3600)
    assert late.outcome.status is LabelStatus.EXPIRED
    assert late.card is None


async def test_nothing_left_claims_no_card(repo: Repository) -> None:
    project = await add_project(repo, 1, overlap=1)
    now = time.time()
    first = await first_card(repo, project, 1, now)
    result = await repo.tap(first, 1, RED, now=now + 1)
    assert result.outcome.status is LabelStatus.RECORDED
    assert result.card is None  # the caller tells the worker all is done


async def test_an_exam_goes_on_with_gold_then_ends_in_the_same_call(repo: Repository) -> None:
    project = await gold_project(repo, n_gold=3, exam_size=2, exam_pass=0.5)
    await add_worker(repo, 1, project)
    now = time.time()
    card = await repo.next_card(1, project.id, now=now, gold="only")
    assert card is not None
    assert card.sample.ext_id.startswith("g")
    first = await repo.tap(card.assignment_id, 1, RED, now=now + 1, roll=0.99)
    assert first.gold is not None
    assert first.gold.exam == "progress"
    assert first.card is not None
    assert first.card.sample.ext_id.startswith("g")
    second = await repo.tap(first.card.assignment_id, 1, GREEN, now=now + 2, roll=0.99)
    assert second.gold is not None
    assert (second.gold.exam, second.gold.exam_correct, second.gold.exam_answered) == (
        "passed",
        1,
        2,
    )
    assert second.card is not None
    assert second.card.sample.ext_id.startswith("s")  # passed: work, with roll ≥ gold rate


async def test_a_failed_exam_claims_nothing(repo: Repository) -> None:
    project = await gold_project(repo, n_gold=3, exam_size=1, exam_pass=1.0, exam_retries=0)
    await add_worker(repo, 1, project)
    now = time.time()
    card = await repo.next_card(1, project.id, now=now, gold="only")
    assert card is not None
    result = await repo.tap(card.assignment_id, 1, GREEN, now=now + 1)
    assert result.gold is not None
    assert result.gold.exam == "failed"
    assert result.card is None
    assert await repo.open_card_of(1, project.id) is None
    gate = await repo.one(
        "SELECT exam_status FROM memberships WHERE worker_id = 1 AND project_id = ?",
        (project.id,),
    )
    assert gate == ("failed",)


async def test_a_wrong_control_answer_below_the_bar_suspends_in_the_same_call(
    repo: Repository,
) -> None:
    rules = {"min_gold": 2, "min_gold_accuracy": 0.9}
    project = await gold_project(repo, n_gold=3, n_plain=3, rules=rules)
    await add_worker(repo, 1, project)
    now = time.time()
    card = await repo.next_card(1, project.id, now=now, gold="only")
    assert card is not None
    result = await repo.tap(card.assignment_id, 1, GREEN, now=now + 1, roll=0.0)
    assert result.gold is not None
    assert not result.gold.correct
    assert result.gold.suspended is None  # one control answer: below min_gold
    assert result.card is not None
    assert result.card.sample.ext_id.startswith("g")
    result = await repo.tap(result.card.assignment_id, 1, GREEN, now=now + 2)
    assert result.gold is not None
    assert result.gold.suspended is not None
    assert result.card is None
    row = await repo.one(
        "SELECT suspended_at IS NOT NULL FROM memberships WHERE worker_id = 1 AND project_id = ?",
        (project.id,),
    )
    assert row == (1,)


async def test_a_gold_roll_below_the_rate_claims_gold_first(repo: Repository) -> None:
    project = await gold_project(repo, n_gold=2, n_plain=3)
    await add_worker(repo, 1, project)
    now = time.time()
    card = await repo.next_card(1, project.id, now=now)
    assert card is not None
    assert card.sample.ext_id.startswith("s")
    result = await repo.tap(card.assignment_id, 1, RED, now=now + 1, roll=0.1)  # rate 0.2
    assert result.card is not None
    assert result.card.sample.ext_id.startswith("g")
    result = await repo.tap(result.card.assignment_id, 1, RED, now=now + 2, roll=0.5)
    assert result.gold is not None
    assert result.gold.correct
    assert result.card is not None
    assert result.card.sample.ext_id.startswith("s")


async def test_timed_out_cards_go_back_to_the_pool_on_a_tap(repo: Repository) -> None:
    project = await add_project(repo, 2, overlap=1, assignment_timeout=600)
    await repo.import_samples(project.id, [SampleIn(ext_id="x", text="x")])
    now = time.time()
    stale = await first_card(repo, project, 2, now - 1000)  # worker 2 walks away with s0
    mine = await first_card(repo, project, 1, now - 500)  # (s0 not timed out yet)
    result = await repo.tap(mine, 1, RED, now=now - 100)
    row = await repo.one("SELECT status FROM assignments WHERE id = ?", (stale,))
    assert row == ("expired",)
    # s0 came back to the pool before the claim, and comes first in it.
    assert result.card is not None
    assert result.card.sample.ext_id == "s0"
