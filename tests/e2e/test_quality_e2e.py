"""End-to-end quality features: gold feedback, exams, suspensions, /check and /review."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import SandboxServer
from storage.models import Role, SampleIn
from tests.e2e.conftest import World, start_world


def label_buttons(card: JSON) -> list[tuple[str, str]]:
    return [b for b in buttons(card) if b[1].startswith("v1:l:")]


def option_data(card: JSON, text: str) -> str:
    return next(data for label, data in label_buttons(card) if label == text)


def gold(n: int, prefix: str = "g") -> list[SampleIn]:
    return [
        SampleIn(ext_id=f"{prefix}{i}", text=f"gold {prefix}{i}", truth="red") for i in range(n)
    ]


def plain(n: int, prefix: str = "n") -> list[SampleIn]:
    return [SampleIn(ext_id=f"{prefix}{i}", text=f"plain {prefix}{i}") for i in range(n)]


async def add_gold(world: World, samples: list[SampleIn]) -> None:
    """Import samples with known answers the way files are imported (they become gold)."""
    async with world.repo.import_session(world.project.id, "gold.csv") as session:
        assert await session.add(samples) == [None] * len(samples)


@pytest.fixture
async def qworld(
    sandbox: SandboxServer, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[World]:
    """A world with `plain` ordinary samples, `gold` control samples and spec overrides."""
    params: dict[str, Any] = dict(request.param)
    n_plain, n_gold = params.pop("plain", 0), params.pop("gold", 0)
    async for world in start_world(sandbox, tmp_path, plain(n_plain), **params):
        if n_gold:
            await add_gold(world, gold(n_gold))
        yield world


def world_with(**params: Any) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("qworld", [params], indirect=True, ids=[""])


async def member(world: World, user_id: int, role: Role) -> SandboxUser:
    """A coordinator or reviewer who joined by an invite (joined notice and guide read)."""
    code = await world.repo.create_invite(world.project.id, role)
    user = world.user(user_id)
    await user.create()
    await user.send(f"/start {code}")
    assert f"as a {role.value}" in (await user.next_message())["text"]
    await user.next_message()
    return user


async def option_id(world: World, key: str) -> int:
    row = await world.repo.one(
        "SELECT id FROM options WHERE project_id = ? AND key = ?", (world.project.id, key)
    )
    assert row is not None
    return int(row[0])


def states_in(text: str) -> str:
    """The samples' states block of a /status or /check reply."""
    found = re.search(r"Samples done: .*\nControl samples .*", text)
    assert found is not None, text
    return found.group(0)


async def states_of(user: SandboxUser, command: str) -> str:
    await user.send(command)
    return states_in((await user.next_message())["text"])


async def sample_row(world: World, ext_id: str) -> tuple[str, int | None]:
    row = await world.repo.one(
        "SELECT status, consensus FROM samples WHERE project_id = ? AND ext_id = ?",
        (world.project.id, ext_id),
    )
    assert row is not None
    return row[0], row[1]


@world_with(gold=3, quality={"gold_rate": 1.0, "gold_feedback": True})
async def test_a_missed_gold_card_shows_the_right_answer_and_the_guide(qworld: World) -> None:
    world = qworld
    user, card = await world.first_card(1)
    assert card["text"].startswith("gold g")
    cb = await user.press(card, data=option_data(card, "Green"))
    feedback = await user.next_message()
    assert (await user.answer(cb))["text"] == "Saved: Green"
    assert "✋ That one was a control sample. The right answer is “Red”" in feedback["text"]
    assert "Pick the main colour." in feedback["text"]
    nxt = await user.next_message()
    assert nxt["text"].startswith("gold g")
    assert nxt["text"] != card["text"]
    # a right answer gets no feedback: the next card follows at once
    await user.press(nxt, data=option_data(nxt, "Red"))
    assert (await user.next_message())["text"].startswith("gold g")


@world_with(
    plain=3,
    gold=3,
    quality={"gold_rate": 0.5, "exam_size": 2, "exam_pass": 1.0, "exam_retries": 0},
)
async def test_a_failed_exam_blocks_real_work(qworld: World) -> None:
    world = qworld
    coordinator = await member(world, 50, Role.COORDINATOR)
    user, guide = await world.joined(1)
    await user.press(guide, data=buttons(guide)[0][1])
    intro = await user.next_message()
    assert "📝 First a short test: 2 samples" in intro["text"]
    card = await user.next_message()
    assert card["text"].startswith("gold g")  # the exam serves gold samples only
    await user.press(card, data=option_data(card, "Blue"))
    assert "control sample" in (await user.next_message())["text"]
    card = await user.next_message()
    assert card["text"].startswith("gold g")
    await user.press(card, data=option_data(card, "Red"))
    assert "❌ Test not passed (1/2)" in (await user.next_message())["text"]
    # the coordinators are told who failed and how to allow a retry
    notice = (await coordinator.next_message())["text"]
    assert "User1 (1) did not pass the test of “Colours” (1/2)" in notice
    assert notice.endswith("/reinstate 1 colours")
    # coming back later: still no real work (and the failure was told once: the reply to
    # /start comes next, not a second notice)
    await user.send("/start")
    assert "Welcome back" in (await user.next_message())["text"]
    guide = await user.next_message()
    await user.press(guide, data=buttons(guide)[0][1])
    assert "did not pass this project's test" in (await user.next_message())["text"]
    row = await world.repo.one(
        "SELECT COUNT(*) FROM assignments AS a JOIN samples AS s ON s.id = a.sample_id"
        " WHERE a.worker_id = 1 AND s.gold = 0"
    )
    assert row == (0,)
    # the notice's command lets the worker try again, on the gold sample they have not seen
    await coordinator.send("/reinstate 1 colours")
    assert "Reinstated User1 (1)" in (await coordinator.next_message())["text"]
    assert "You can label in “Colours” again" in (await user.next_message())["text"]
    await user.press(guide, data=buttons(guide)[0][1])
    assert "📝 First a short test" in (await user.next_message())["text"]
    assert (await user.next_message())["text"].startswith("gold g")


@world_with(
    plain=2,
    gold=2,
    quality={"exam_size": 3, "exam_pass": 1.0, "exam_retries": 0, "gold_feedback": False},
)
async def test_an_exam_cut_short_by_the_gold_left_is_told_once_to_worker_and_coordinator(
    qworld: World,
) -> None:
    world = qworld
    coordinator = await member(world, 50, Role.COORDINATOR)
    user, guide = await world.joined(1)
    await user.press(guide, data=buttons(guide)[0][1])
    assert "📝 First a short test: 3 samples" in (await user.next_message())["text"]
    card = await user.next_message()
    await user.press(card, data=option_data(card, "Red"))
    card = await user.next_message()
    await user.press(card, data=option_data(card, "Blue"))
    # no third gold sample: the exam is decided on the two answers
    assert "❌ Test not passed (1/2)" in (await user.next_message())["text"]
    notice = (await coordinator.next_message())["text"]
    assert "User1 (1) did not pass the test of “Colours” (1/2)" in notice
    assert notice.endswith("/reinstate 1 colours")
    await user.send("/me")  # the reply comes next: no second notice of the failure
    assert (await user.next_message())["text"].startswith("📊 Your work")
    # a retry with every gold sample seen: blocked at once, and the coordinator learns why
    await coordinator.send("/reinstate 1 colours")
    assert "Reinstated User1 (1)" in (await coordinator.next_message())["text"]
    assert "label in “Colours” again" in (await user.next_message())["text"]
    await user.press(guide, data=buttons(guide)[0][1])
    assert "📝 First a short test" in (await user.next_message())["text"]
    assert "did not pass this project's test" in (await user.next_message())["text"]
    notice = (await coordinator.next_message())["text"]
    assert "User1 (1) could not take the test of “Colours” again" in notice
    assert "Import more control samples" in notice
    assert notice.endswith("/reinstate 1 colours")


@world_with(
    plain=2,
    overlap=2,
    quality={
        "gold_rate": 1.0,
        "gold_feedback": False,
        "rules": {"min_gold": 3, "min_gold_accuracy": 0.7, "min_seconds": 0.0},
    },
)
async def test_a_careless_worker_is_paused_and_their_labels_left_out(qworld: World) -> None:
    world = qworld
    coordinator = await member(world, 50, Role.COORDINATOR)
    good, card = await world.first_card(1)
    for _ in range(2):
        await good.press(card, data=option_data(card, "Red"))
        card = await good.next_message()
    assert "All done" in card["text"]

    careless, card = await world.first_card(2)
    await careless.press(card, data=option_data(card, "Blue"))
    card = await careless.next_message()
    assert card["text"].startswith("plain n")
    # control samples arrive while the second plain card is open: they come next
    await add_gold(world, gold(3))
    for _ in range(4):
        await careless.press(card, data=option_data(card, "Blue"))
        card = await careless.next_message()
        if "paused" in card["text"]:
            break
        assert card["text"].startswith("gold g")
    assert (
        "⛔ You are paused in “Colours”: gold accuracy 0% after 3 gold answers" in (card["text"])
    )
    notice = (await coordinator.next_message())["text"]
    assert "User2 (2) was suspended in “Colours”" in notice
    assert "/workers colours" in notice

    await careless.send("/start")
    await careless.next_message()
    guide = await careless.next_message()
    await careless.press(guide, data=buttons(guide)[0][1])
    assert "You are paused" in (await careless.next_message())["text"]

    await coordinator.send("/check")
    summary = (await coordinator.next_message())["text"]
    assert summary.startswith("🔎 Quality check — Colours")
    left_out = re.search(r"left out: (\d+)", summary)
    assert left_out is not None
    assert int(left_out.group(1)) == 5  # 2 plain + 3 gold labels of the careless worker
    red = await option_id(world, "red")
    for ext_id in ("n0", "n1"):
        _status, consensus = await sample_row(world, ext_id)
        assert consensus == red


@world_with(
    plain=1,
    overlap=3,
    quality={"dynamic_overlap": True, "max_overlap": 3, "target_confidence": 0.99},
)
async def test_a_disputed_sample_goes_to_a_reviewer_whose_decision_wins(qworld: World) -> None:
    world = qworld
    coordinator = await member(world, 50, Role.COORDINATOR)
    reviewer = await member(world, 60, Role.REVIEWER)
    for user_id, option in ((1, "Red"), (2, "Green"), (3, "Blue")):
        user, card = await world.first_card(user_id)
        await user.press(card, data=option_data(card, option))
        assert "All done" in (await user.next_message())["text"]

    await coordinator.send("/check")
    summary = (await coordinator.next_message())["text"]
    assert "Samples done: 0/1 (0%) · open: 0 · in review: 1" in summary
    assert await states_of(coordinator, "/status") == states_in(summary)
    assert "wait for a reviewer: /review" in (await reviewer.next_message())["text"]
    assert (await sample_row(world, "n0"))[0] == "review"

    await reviewer.send("/review")
    review_card = await reviewer.next_message()
    assert "🧐 Review — the crowd did not agree." in review_card["text"]
    assert "plain n0" in review_card["text"]
    assert [b[0] for b in buttons(review_card)] == ["Red", "Green", "Blue"]
    assert all(re.fullmatch(r"v1:v:\d+:\d", b[1]) for b in buttons(review_card))
    cb = await reviewer.press(review_card, text="Green")
    nothing = await reviewer.next_message()
    assert (await reviewer.answer(cb))["text"] == "Decided: Green"
    assert "Nothing waits for review" in nothing["text"]
    green = await option_id(world, "green")
    assert await sample_row(world, "n0") == ("reviewed", green)

    # a second (stale) tap changes nothing
    cb = await reviewer.press(review_card, data=buttons(review_card)[0][1], strict=False)
    assert (await reviewer.answer(cb))["text"] == "Already decided."

    await coordinator.send("/check")
    summary = (await coordinator.next_message())["text"]
    assert "Samples done: 1/1 (100%) · open: 0 · in review: 0" in summary  # decided: done
    assert await states_of(coordinator, "/status") == states_in(summary)
    assert await sample_row(world, "n0") == ("reviewed", green)


@world_with(
    plain=3,
    gold=1,
    overlap=1,
    quality={"gold_rate": 1.0, "gold_feedback": False, "dynamic_overlap": False},
)
async def test_status_and_check_count_samples_alike_with_control_samples_apart(
    qworld: World,
) -> None:
    # The case: /status said "Samples done: 15/18" while /check said "done 6, open 9":
    # one counted a sample with all its labels as done, control samples too; the other
    # counted control samples as open work.
    world = qworld
    coordinator = await member(world, 50, Role.COORDINATOR)
    user, card = await world.first_card(1)
    assert card["text"].startswith("gold g")  # the control sample comes first
    for _ in range(3):  # the control sample and two of the three plain ones
        await user.press(card, data=option_data(card, "Red"))
        card = await user.next_message()
    assert card["text"].startswith("plain n")  # the third is on screen, not answered
    expected = "Samples done: 2/3 (67%) · open: 1 · in review: 0"
    status = await states_of(coordinator, "/status")  # before any check
    assert status.startswith(expected)
    assert status.endswith("Control samples (not counted as work): 1")
    await coordinator.send("/check")
    assert states_in((await coordinator.next_message())["text"]) == status
    assert await states_of(coordinator, "/status") == status
