"""A coordinator's input that once ended in "something went wrong": files sent to a closed
project, /reinstate of a worker who blocked the bot, numbers that are digits to Python only."""

from __future__ import annotations

from tests.e2e.conftest import World
from tests.e2e.test_replays import coordinator, count, handled


async def test_a_file_for_a_closed_project_adds_nothing(world: World) -> None:
    coord = await coordinator(world)
    await world.repo.set_project_state(world.project.id, "closed", actor=3)
    before = await count(world, "SELECT COUNT(*) FROM samples")
    await coord.send_document("more.csv", b"text\na new one\n")
    said = await coord.next_message()
    assert "is closed and read-only" in said["text"]
    await handled(world)
    assert await count(world, "SELECT COUNT(*) FROM samples") == before


async def test_reinstating_a_worker_who_blocked_the_bot_still_reinstates(world: World) -> None:
    worker, _ = await world.joined(1)
    coord = await coordinator(world)
    assert await world.repo.roster_action("suspend", world.project.id, 1, actor=3) == (True, False)
    await worker.block()
    await coord.send("/reinstate 1 colours")
    done = await coord.next_message()
    assert "went wrong" not in done["text"]
    assert await coord.messages_after(coord.last_seen, 0.5) == []  # no error after it
    row = await world.repo.one("SELECT suspended_at FROM memberships WHERE worker_id = 1")
    assert row == (None,)


async def test_numbers_only_python_calls_digits_get_the_usage(world: World) -> None:
    coord = await coordinator(world)
    for command in (
        "/reinstate ² colours",
        "/reinstate 99999999999999999999 colours",
        "/invite colours ²",
        "/invite colours 30 ³",
    ):
        await coord.send(command)
        said = await coord.next_message()
        assert "went wrong" not in said["text"], command
