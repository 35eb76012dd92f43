from __future__ import annotations

from storage.inbox import KEEP_S, Inbox
from storage.repository import Repository


async def test_a_stored_update_is_new_once_and_pending_until_handled(repo: Repository) -> None:
    inbox = Inbox(repo)
    assert await inbox.store([(5, '{"a": 1}'), (6, '{"b": 2}')], now=100.0) == {5, 6}
    assert await inbox.store([(6, '{"b": 2}'), (7, '{"c": 3}')], now=101.0) == {7}
    await inbox.mark_handled(6, now=102.0)
    assert await inbox.pending() == [(5, '{"a": 1}'), (7, '{"c": 3}')]
    await inbox.mark_handled(6, now=999.0)  # marking twice keeps the first time
    rows = await repo.all("SELECT handled_at FROM inbox WHERE update_id = 6")
    assert rows == [(102.0,)]


async def test_prune_forgets_only_what_telegram_can_no_longer_resend(repo: Repository) -> None:
    inbox = Inbox(repo)
    await inbox.store([(1, "{}"), (2, "{}"), (3, "{}")], now=0.0)
    await inbox.mark_handled(1, now=10.0)
    await inbox.mark_handled(2, now=KEEP_S)
    assert await inbox.prune(now=KEEP_S + 11.0) == 1  # 1 is old enough; 3 was never handled
    assert [u for u, _ in await inbox.pending()] == [3]
    rows = await repo.all("SELECT update_id FROM inbox ORDER BY update_id")
    assert rows == [(2,), (3,)]


async def test_a_run_that_never_ended_is_reported_unclean_at_the_next_start(
    repo: Repository,
) -> None:
    inbox = Inbox(repo)
    first, previous = await inbox.begin_run(now=10.0)
    assert previous is None
    await inbox.alive(first, now=25.0)
    second, previous = await inbox.begin_run(now=100.0)  # the first one was killed
    assert previous is not None
    assert (previous.alive_at, previous.clean) == (25.0, False)
    await inbox.end_run(second, now=200.0)
    _, previous = await inbox.begin_run(now=300.0)
    assert previous is not None
    assert (previous.alive_at, previous.clean) == (200.0, True)
