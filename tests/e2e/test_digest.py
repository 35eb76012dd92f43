"""Daily digests through a real Bot API: at the project's local time (a clock the test
controls), to coordinators with a chart and to each worker who labeled, in their language;
once, also across a restart; /digest [project], /digest off|on."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from telegram import Update

from bot.context import BotData
from handlers import digest
from handlers.jobs import QUALITY_JOB
from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import SandboxServer
from services.charts import PNG_SIGNATURE
from storage.models import Role, SampleIn
from storage.repository import Repository
from tests.e2e.conftest import World, start_world

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture
async def seoul(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[World]:
    samples = [SampleIn(ext_id=f"t{i}", text=f"text sample {i}") for i in range(4)]
    async for w in start_world(
        sandbox, tmp_path, samples, overlap=2, timezone="Asia/Seoul", digest_time="09:00"
    ):
        # The quality check would set the consensus on its own schedule; this test sets it.
        assert w.app.job_queue is not None
        for job in w.app.job_queue.get_jobs_by_name(QUALITY_JOB):
            job.schedule_removal()
        yield w


async def drain(user: SandboxUser) -> None:
    while await user.messages_after(user.last_seen, 0.5):
        pass


async def member(world: World, user_id: int, role: Role, lang: str) -> SandboxUser:
    code = await world.repo.create_invite(world.project.id, role)
    user = world.user(user_id, lang)
    await user.create()
    await user.send(f"/start {code}")
    await user.next_message()
    await drain(user)
    return user


async def labeled(world: World, user_id: int, lang: str, option: int, n: int) -> SandboxUser:
    """A worker who labeled `n` cards with the `option`-th button."""
    user, card = await world.first_card(user_id, lang)
    for _ in range(n):
        data = [d for _, d in buttons(card) if d.startswith("v1:l:")]
        await user.press(card, data=data[option])
        card = await user.next_message()
    await drain(user)
    return user


def next_nine_in_seoul(after: float) -> float:
    """The first 09:00 in Seoul later than `after` + 2 minutes."""
    zone = ZoneInfo("Asia/Seoul")
    local = datetime.fromtimestamp(after + 120, zone)
    nine = local.replace(hour=9, minute=0, second=0, microsecond=0)
    if nine <= local:
        nine += timedelta(days=1)
    return nine.timestamp()


def controlled_job(world: World) -> tuple[list[float], Callable[[], Awaitable[None]]]:
    """The digest job on a clock the test sets; (the clock's cell, run the job once)."""
    clock = [0.0]
    assert world.app.job_queue is not None
    job = digest.schedule(world.app.job_queue, clock=lambda: clock[0])

    async def run() -> None:
        await job.run(world.app)

    return clock, run


async def agree_on_red(world: World) -> None:
    """Every labeled sample's consensus is 'red' (as a quality check would say)."""
    await world.repo.write(
        "UPDATE samples SET status = 'done', consensus = (SELECT id FROM options"
        " WHERE project_id = ?1 AND key = 'red') WHERE project_id = ?1 AND n_labels > 0",
        (world.project.id,),
    )


async def photo_bytes(world: World, message: JSON) -> bytes:
    sizes = message["photo"]
    assert isinstance(sizes, list)
    file = await world.app.bot.get_file(str(sizes[-1]["file_id"]))
    return bytes(await file.download_as_bytearray())


def assert_png(data: bytes) -> None:
    assert data.startswith(PNG_SIGNATURE)
    Image.open(io.BytesIO(data)).verify()
    assert Image.open(io.BytesIO(data)).format == "PNG"


async def test_the_digest_goes_out_at_local_time_once_in_each_language(
    seoul: World, tmp_path: Path
) -> None:
    world = seoul
    coord_ko = await member(world, 50, Role.COORDINATOR, "ko")
    coord_en = await member(world, 51, Role.COORDINATOR, "en")
    mina = await labeled(world, 1, "ko", option=0, n=2)  # red, red
    joe = await labeled(world, 2, "en", option=1, n=2)  # green, green
    await agree_on_red(world)
    nine = next_nine_in_seoul(world.project.created_at)
    clock, run = controlled_job(world)

    clock[0] = nine - 60  # 08:59 in Seoul: not yet
    await run()
    for user in (coord_ko, coord_en, mina, joe):
        assert not await user.messages_after(user.last_seen, 0.3)

    clock[0] = nine + 30  # 09:00:30 in Seoul
    await run()
    text = (await coord_ko.next_message(timeout=30))["text"]
    day = datetime.fromtimestamp(nine, ZoneInfo("Asia/Seoul")).date().isoformat()
    assert f"📊 일일 요약 — “Colours” 프로젝트, {day}" in text
    assert "진행: 샘플 4개 중" in text
    assert "최근 7일 일별 라벨 수:" in text
    labels_day = datetime.now(ZoneInfo("Asia/Seoul")).date().isoformat()
    line = f"{labels_day[5:]}  4개" + (" (오늘 지금까지)" if labels_day == day else "")
    assert line in text.splitlines()
    assert "최근 24시간 동안 작업한 작업자: 2명 중 2명" in text
    assert "• 빨강 ↔ 초록: 라벨 2개, 예: “text sample" in text  # display texts, not ids
    assert "green" not in text
    assert "지난 요약 이후 새 경고, 작업 중지, 테스트 불합격은 없어요." in text
    chart = await coord_ko.next_message(timeout=30)
    assert "📈" in chart["caption"]
    assert_png(await photo_bytes(world, chart))

    text_en = (await coord_en.next_message(timeout=30))["text"]
    assert "📊 Daily digest — “Colours”" in text_en
    assert "• Red ↔ Green: 2 labels, e.g. “text sample" in text_en
    assert "Active workers (last 24 hours): 2 of 2." in text_en
    assert not HANGUL.search(text_en)
    assert_png(await photo_bytes(world, await coord_en.next_message(timeout=30)))

    mine = (await mina.next_message(timeout=30))["text"]
    assert HANGUL.search(mine)
    assert "“Colours” 프로젝트 최근 24시간 기록이에요" in mine
    assert "라벨: 2개" in mine
    assert "다른 작업자들과 같은 답: 2개 중 100%" in mine
    assert "라벨 수로 2명 중 1위예요" in mine
    assert "고마워요" in mine
    his = (await joe.next_message(timeout=30))["text"]
    assert "Your last 24 hours in “Colours”" in his
    assert "Labels: 2" in his
    assert "Same answer as the crowd: 0% of 2 labels" in his
    assert "#2 of 2 workers by labels" in his

    # The next tick, and a restart (a new connection, nothing kept in memory): nothing again.
    clock[0] = nine + 90
    await run()
    async with Repository(tmp_path / "e2e.db") as repo:
        data = BotData()
        data.attach(repo, world.app.bot_data.settings)
        assert await digest.send_due(world.app.bot, data, nine + 3600) == 0
    for user in (coord_ko, coord_en, mina, joe):
        assert not await user.messages_after(user.last_seen, 0.5)
    sends = await world.repo.digest_sends(world.project.id, day)
    assert sends == {50: "sent", 51: "sent", 1: "sent", 2: "sent"}


async def test_a_digest_missed_while_down_goes_out_later_that_day_only(seoul: World) -> None:
    world = seoul
    coord = await member(world, 50, Role.COORDINATOR, "en")
    nine = next_nine_in_seoul(world.project.created_at)
    # Down from 08:00 to 23:00: the 09:00 digest goes out at 23:00, once.
    assert await digest.send_due(world.app.bot, world.app.bot_data, nine + 14 * 3600) == 1
    assert "Daily digest" in (await coord.next_message(timeout=30))["text"]
    await coord.next_message(timeout=30)  # the chart
    assert await digest.send_due(world.app.bot, world.app.bot_data, nine + 14 * 3600 + 60) == 0
    # Down all the next day until 00:30 the day after: that day's is not sent late at night...
    assert await digest.send_due(world.app.bot, world.app.bot_data, nine + 2 * 86400 - 30600) == 0
    # ... and the day after's goes out at its own 09:00.
    assert await digest.send_due(world.app.bot, world.app.bot_data, nine + 2 * 86400) == 1
    # A closed project (read-only) has no digest.
    await world.repo.write(
        "INSERT INTO project_life (project_id, state, since) VALUES (?, 'closed', 0)",
        (world.project.id,),
    )
    assert await digest.send_due(world.app.bot, world.app.bot_data, nine + 3 * 86400) == 0


async def test_digest_now_and_a_replay_of_the_command(seoul: World) -> None:
    world = seoul
    coord = await member(world, 50, Role.COORDINATOR, "ko")
    await labeled(world, 1, "en", option=0, n=1)
    await coord.send("/digest colours")
    assert "요약을 만들고 있어요" in (await coord.next_message(timeout=30))["text"]
    text = (await coord.next_message(timeout=60))["text"]
    assert "📊 일일 요약 — “Colours” 프로젝트" in text
    assert "1개 (오늘 지금까지)" in text
    assert_png(await photo_bytes(world, await coord.next_message(timeout=30)))
    rows = await world.repo.all("SELECT data FROM inbox WHERE data LIKE '%/digest colours%'")
    await world.app.process_update(Update.de_json(json.loads(rows[0][0]), world.app.bot))
    assert not await coord.messages_after(coord.last_seen, 0.5)
    await coord.send("/digest nope")
    assert "nope" in (await coord.next_message())["text"]


async def test_workers_turn_their_digest_off_and_on(seoul: World) -> None:
    world = seoul
    coord = await member(world, 50, Role.COORDINATOR, "en")
    mina = await labeled(world, 1, "ko", option=0, n=1)
    await mina.send("/digest")
    assert "켜진 상태예요" in (await mina.next_message())["text"]
    await mina.send("/digest off")
    assert "일일 요약을 껐어요" in (await mina.next_message())["text"]
    nine = next_nine_in_seoul(world.project.created_at)
    assert await digest.send_due(world.app.bot, world.app.bot_data, nine + 10) == 1
    assert "Daily digest" in (await coord.next_message(timeout=30))["text"]
    assert not await mina.messages_after(mina.last_seen, 0.5)  # off: nothing
    await mina.send("/digest on")
    assert "일일 요약을 켰어요" in (await mina.next_message())["text"]
    await mina.send("/digest")
    assert "켜진 상태예요" in (await mina.next_message())["text"]


async def test_a_worker_who_blocked_the_bot_is_marked_unreachable_once(seoul: World) -> None:
    world = seoul
    mina = await labeled(world, 1, "en", option=0, n=1)
    joe = await labeled(world, 2, "en", option=1, n=1)
    await mina.block()
    nine = next_nine_in_seoul(world.project.created_at)
    assert await digest.send_due(world.app.bot, world.app.bot_data, nine + 10) == 1
    assert "Your last 24 hours" in (await joe.next_message(timeout=30))["text"]
    day = datetime.fromtimestamp(nine, ZoneInfo("Asia/Seoul")).date().isoformat()
    assert await world.repo.digest_sends(world.project.id, day) == {1: "unreachable", 2: "sent"}
    await mina.unblock()
    assert await digest.send_due(world.app.bot, world.app.bot_data, nine + 70) == 0
    assert not await mina.messages_after(mina.last_seen, 0.5)  # not tried again that day


async def test_a_digest_that_timed_out_is_not_sent_again(seoul: World) -> None:
    from telegram.error import TimedOut

    from handlers.digest import _deliver

    repo = seoul.repo
    sends: list[str] = []

    async def timed_out() -> None:
        sends.append("first")  # it reached Telegram; the answer did not come back
        raise TimedOut()

    async def fine() -> None:
        sends.append("again")

    assert await _deliver(repo, seoul.project.id, "2026-12-07", 7, "worker", timed_out) == 0
    assert await _deliver(repo, seoul.project.id, "2026-12-07", 7, "worker", fine) == 0
    assert sends == ["first"]
