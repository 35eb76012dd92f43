"""Every update that writes, handled twice, has the effect of once.

Telegram re-delivers an update the bot did not confirm, and after a crash the bot hands the
stored, unhandled updates to its handlers again: the second handling sees the first one's
effect. `replay` does exactly that: the update as stored in the inbox, processed again.
"""

from __future__ import annotations

import asyncio
import json

from telegram import Update

from sandbox.client import JSON, SandboxUser, buttons
from storage.models import Role
from tests.e2e.conftest import World


def label_buttons(card: JSON) -> list[tuple[str, str]]:
    return [b for b in buttons(card) if b[1].startswith("v1:l:")]


async def handled(world: World, wait_s: float = 5.0) -> int:
    """Wait until every stored update is handled; the newest update's id."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        rows = await world.repo.db.execute_fetchall(
            "SELECT MAX(update_id), SUM(handled_at IS NULL) FROM inbox"
        )
        newest, pending = next(iter(rows))
        if newest is not None and not pending:
            return int(newest)
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("updates were not handled")
        await asyncio.sleep(0.01)


async def replay(world: World, update_id: int) -> None:
    """Handle a stored update again, as after a crash before it was marked handled."""
    rows = await world.repo.db.execute_fetchall(
        "SELECT data FROM inbox WHERE update_id = ?", (update_id,)
    )
    data = json.loads(next(iter(rows))[0])
    await world.app.process_update(Update.de_json(data, world.app.bot))


async def quiet(user: SandboxUser, wait_s: float = 0.3) -> list[JSON]:
    """Messages the user got in the next `wait_s` (none expected)."""
    return await user.messages_after(user.last_seen, wait_s)


async def count(world: World, sql: str, *params: object) -> int:
    rows = await world.repo.db.execute_fetchall(sql, params)
    return int(next(iter(rows))[0])


async def test_a_replayed_label_tap_stores_one_label_and_sends_no_second_card(
    world: World,
) -> None:
    user, card = await world.first_card(1)
    cb = await user.press(card, data=label_buttons(card)[0][1])
    assert (await user.answer(cb))["text"].startswith("Saved")
    await user.next_message()  # the next card
    tap = await handled(world)
    await replay(world, tap)
    assert await quiet(user) == []
    assert len(await world.repo.live_labels(world.project.id)) == 1
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'label.recorded'") == 1


async def test_a_replayed_tap_sends_the_next_card_the_first_handling_never_sent(
    world: World,
) -> None:
    """A kill between the label's commit and the next card: the replay delivers it."""
    user, card = await world.first_card(1)
    cb = await user.press(card, data=label_buttons(card)[0][1])
    await user.answer(cb)
    nxt = await user.next_message()
    tap = await handled(world)
    # as if the process died before the next card was claimed: no open card
    await world.repo.db.execute(
        "UPDATE assignments SET status = 'expired' WHERE status = 'open' AND worker_id = 1"
    )
    await replay(world, tap)
    again = await user.next_message()
    assert label_buttons(again)
    assert again["text"] != card["text"]
    assert nxt["message_id"] < again["message_id"]


async def test_a_replayed_undo_takes_back_one_label_only(world: World) -> None:
    user, card = await world.first_card(1)
    await user.press(card, data=label_buttons(card)[0][1])
    second = await user.next_message()
    await user.press(second, data=label_buttons(second)[1][1])
    await user.next_message()  # third card
    await user.send("/undo")
    assert "taken back" in (await user.next_message())["text"]
    reopened = await user.next_message()
    assert reopened["text"] == second["text"]
    undo = await handled(world)
    await replay(world, undo)
    # The first label stands; the reopened card is still open (not released) and on screen.
    labels = await world.repo.live_labels(world.project.id)
    assert len(labels) == 1
    rows = await world.repo.db.execute_fetchall(
        "SELECT status FROM assignments WHERE worker_id = 1 ORDER BY id"
    )
    assert [r[0] for r in rows] == ["done", "open", "released"]
    later = await quiet(user)
    assert all(not label_buttons(m) for m in later)  # no second copy of the card
    await user.press(reopened, data=label_buttons(reopened)[2][1])
    await user.next_message()
    assert len(await world.repo.live_labels(world.project.id)) == 2


async def test_a_replayed_invite_counts_once(world: World) -> None:
    await world.joined(1)
    start = await handled(world)
    await replay(world, start)
    assert await count(world, "SELECT uses FROM invites WHERE code = ?", world.invite) == 1
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'member.joined'") == 1


async def test_replayed_skip_and_report_close_one_card_each(world: World) -> None:
    user, card = await world.first_card(1)
    await user.press(card, data=next(d for _, d in buttons(card) if d.startswith("v1:s:")))
    second = await user.next_message()
    skip = await handled(world)
    await replay(world, skip)
    report = next(d for _, d in buttons(second) if d.startswith("v1:r:"))
    await user.press(second, data=report)
    asked = await user.message(second["message_id"])
    while not any(d.startswith("v1:rr:") for _, d in buttons(asked)):
        await asyncio.sleep(0.01)
        asked = await user.message(second["message_id"])
    reason = next(d for _, d in buttons(asked) if d.startswith("v1:rr:"))
    await user.press(asked, data=reason)
    third = await user.next_message()
    rr = await handled(world)
    await replay(world, rr)
    await replay(world, skip)
    assert await quiet(user) == []
    assert label_buttons(third)
    assert await count(world, "SELECT COUNT(*) FROM reports") == 1
    assert await count(world, "SELECT COUNT(*) FROM assignments WHERE status = 'skipped'") == 1
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind LIKE 'assignment.%'") == 2


async def test_a_replayed_language_tap_logs_once(world: World) -> None:
    user, _ = await world.joined(1)
    await user.send("/lang")
    menu = await user.next_message()
    cb = await user.press(menu, data=next(d for _, d in buttons(menu) if d.endswith(":ko")))
    await user.answer(cb)
    tap = await handled(world)
    await replay(world, tap)
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'worker.language'") == 1


async def test_a_replayed_invite_command_makes_one_code(world: World) -> None:
    coordinator = world.user(50)
    await coordinator.create()
    code = await world.repo.create_invite(world.project.id, Role.COORDINATOR)
    await coordinator.send(f"/start {code}")
    await coordinator.next_message()
    await coordinator.next_message()
    await coordinator.send(f"/invite {world.project.slug}")
    first = await coordinator.next_message()
    command = await handled(world)
    await replay(world, command)
    again = await coordinator.next_message()
    assert again["text"] == first["text"]
    assert await count(world, "SELECT COUNT(*) FROM invites") == 3  # fixture, coordinator, one


async def test_a_tap_replayed_after_its_label_was_undone_gives_it_no_second_time(
    world: World,
) -> None:
    user, card = await world.first_card(1)
    await user.press(card, data=label_buttons(card)[0][1])
    await user.next_message()
    tap = await handled(world)
    await user.send("/undo")
    await user.next_message()  # "taken back"
    reopened = await user.next_message()
    await handled(world)
    await replay(world, tap)
    assert await world.repo.live_labels(world.project.id) == []
    rows = await world.repo.db.execute_fetchall(
        "SELECT status FROM assignments WHERE worker_id = 1 AND id = ?",
        (int(label_buttons(reopened)[0][1].split(":")[2]),),
    )
    assert [r[0] for r in rows] == ["open"]
    assert await quiet(user) == []


async def coordinator(world: World, user_id: int = 3) -> SandboxUser:
    code = await world.repo.create_invite(world.project.id, Role.COORDINATOR)
    user = world.user(user_id)
    await user.create()
    await user.send(f"/start {code}")
    await user.next_message()
    await user.next_message()
    return user


async def test_a_replayed_upload_imports_once(world: World) -> None:
    coord = await coordinator(world)
    await coord.send_document(
        "batch.csv", b"review\nfresh one\nfresh two\n", caption="text=review"
    )
    await coord.next_message()
    await coord.next_message()
    upload = await handled(world)
    samples = await count(world, "SELECT COUNT(*) FROM samples")
    await replay(world, upload)
    assert await count(world, "SELECT COUNT(*) FROM samples") == samples
    assert await count(world, "SELECT COUNT(*) FROM imports") == 1


async def review_card(world: World) -> tuple[SandboxUser, JSON]:
    """A coordinator shown the review card of sample t0, sent to review: (them, the card)."""
    coord = await coordinator(world)
    await world.repo.db.execute(
        "UPDATE samples SET status = 'review' WHERE project_id = ? AND ext_id = 't0'",
        (world.project.id,),
    )
    await coord.send("/review")
    return coord, await coord.next_message()


async def test_a_replayed_review_decision_decides_once(world: World) -> None:
    coord, card = await review_card(world)
    cb = await coord.press(card, data=buttons(card)[1][1])
    await coord.answer(cb)
    decision = await handled(world)
    await replay(world, decision)
    assert await count(world, "SELECT COUNT(*) FROM reviews") == 1
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'review.decided'") == 1


async def test_a_replayed_check_runs_once_and_answers_the_same(world: World) -> None:
    coord = await coordinator(world)
    user, card = await world.first_card(1)
    await user.press(card, data=label_buttons(card)[0][1])
    await user.next_message()
    await coord.send("/check")
    first = await coord.next_message(timeout=10)
    command = await handled(world)
    await replay(world, command)
    again = await coord.next_message()
    assert again["text"] == first["text"]
    assert await count(world, "SELECT COUNT(*) FROM quality_runs") == 1


async def test_a_closed_project_takes_no_review_decision(world: World) -> None:
    coord, card = await review_card(world)
    await world.repo.set_project_state(world.project.id, "closed", actor=3)
    # The card shown before the close: its decision is refused and the sample stays in review.
    cb = await coord.press(card, data=buttons(card)[1][1])
    answer = await coord.answer(cb)
    assert "read-only" in answer["text"]
    await handled(world)
    assert await count(world, "SELECT COUNT(*) FROM reviews") == 0
    assert await count(world, "SELECT COUNT(*) FROM samples WHERE status = 'review'") == 1
    # /review in the closed project says why instead of sending a card.
    await coord.send("/review")
    said = await coord.next_message()
    assert "read-only" in said["text"]
    assert buttons(said) == []


async def test_a_removed_worker_s_old_card_takes_no_label_and_brings_no_new_one(
    world: World,
) -> None:
    user, card = await world.first_card(1)
    changed, _ = await world.repo.roster_action("remove", world.project.id, 1, actor=900)
    assert changed
    await user.next_message()  # "A coordinator removed you" (the outbox)
    await user.press(card, data=label_buttons(card)[0][1])
    said = await user.next_message()
    assert "You are not in “Colours”" in said["text"]
    assert buttons(said) == []
    await handled(world)
    assert await count(world, "SELECT COUNT(*) FROM labels WHERE worker_id = 1") == 0
    assert await count(world, "SELECT COUNT(*) FROM assignments WHERE worker_id = 1") == 1


async def test_an_expired_card_tapped_twice_brings_one_fresh_card(world: World) -> None:
    user, card = await world.first_card(1)
    await world.repo.db.execute("UPDATE assignments SET expires_at = 0 WHERE status = 'open'")
    await user.press(card, data=label_buttons(card)[0][1])
    fresh = await user.next_message()
    assert label_buttons(fresh)
    tap = await handled(world)
    await replay(world, tap)
    await user.press(card, data=label_buttons(card)[0][1], strict=False)  # and a double tap
    await handled(world)
    assert await user.messages_after(fresh["message_id"], 0.5) == []
    assert await count(world, "SELECT COUNT(*) FROM assignments WHERE status = 'open'") == 1
