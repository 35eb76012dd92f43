"""Menus and words per role through the sandbox: command menus by scope and language, the
bot's descriptions, /help and /start per role, hints for unknown input, /projects."""

from __future__ import annotations

from pathlib import Path

from telegram import BotCommandScopeChat, BotCommandScopeDefault

from bot.menus import ProjectTap
from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import SandboxServer
from storage.models import Role, SampleIn
from tests.conftest import make_spec
from tests.e2e.conftest import ADMIN_ID, World, start_world


def names(profile: JSON) -> list[str]:
    return [c["command"] for c in profile["commands"]]


async def joined_as(world: World, user_id: int, role: Role, lang: str = "en") -> SandboxUser:
    code = await world.repo.create_invite(world.project.id, role)
    user = world.user(user_id, lang)
    await user.create()
    await user.send(f"/start {code}")
    await user.next_message()  # "You joined ..."
    await user.next_message()  # the guide
    return user


async def test_a_newcomer_sees_the_workers_menu_and_the_description(world: World) -> None:
    english, korean = world.user(1, "en"), world.user(2, "ko")
    for user in (english, korean):
        await user.create()
    seen = await english.bot_profile()
    assert names(seen)[:3] == ["start", "guide", "undo"]
    assert "status" not in names(seen)
    assert "review" not in names(seen)
    assert "quick taps" in seen["description"]
    assert "invite link" in seen["description"]
    assert seen["short_description"].startswith("Data labeling")
    seen_ko = await korean.bot_profile()
    assert names(seen_ko) == names(seen)
    assert seen_ko["commands"][0]["description"] == "참여하거나 라벨링 이어서 하기"
    assert "초대 링크" in seen_ko["description"]
    assert "라벨링" in seen_ko["short_description"]
    # The default scope itself, as getMyCommands answers it.
    default = await world.app.bot.get_my_commands(scope=BotCommandScopeDefault())
    assert [c.command for c in default] == names(seen)


async def test_the_admins_menu_is_theirs_once_they_start_the_bot(world: World) -> None:
    bot = world.app.bot
    scope = BotCommandScopeChat(ADMIN_ID)
    boss = world.user(ADMIN_ID, "ko")
    await boss.create()
    # At start-up the admin had never written to the bot: Telegram knows no such chat, so
    # only the workers' menu shows (the bot logged it and went on).
    assert "status" not in names(await boss.bot_profile())
    await boss.send("/start")
    await boss.next_message()
    for code in (None, "ko"):
        menu = [c.command for c in await bot.get_my_commands(scope=scope, language_code=code)]
        assert {"status", "check", "review", "invite", "export", "audit"} <= set(menu)
        assert "help" in menu
        # Only commands the bot handles: a feature not wired in shows no dead command.
        assert "nosuchcommand" not in menu
    seen = await boss.bot_profile()
    assert "status" in names(seen)
    check = next(c for c in seen["commands"] if c["command"] == "check")
    assert check["description"] == "지금 품질 점검하기"


async def test_the_admins_menu_is_set_at_start_up_when_their_chat_exists(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    async with SandboxUser(sandbox.url, ADMIN_ID, "Boss", language_code="en") as boss:
        await boss.create()
        await boss.send("hello")  # an admin who used the bot before this start
        samples = [SampleIn(ext_id="a", text="a")]
        async for world in start_world(sandbox, tmp_path, samples):
            menu = await world.app.bot.get_my_commands(scope=BotCommandScopeChat(ADMIN_ID))
            assert "status" in [c.command for c in menu]
            assert "status" in names(await boss.bot_profile())


async def test_joining_as_coordinator_or_reviewer_brings_their_menu_and_leaving_ends_it(
    world: World,
) -> None:
    coordinator = await joined_as(world, 31, Role.COORDINATOR, "ko")
    assert "status" in names(await coordinator.bot_profile())
    ko_menu = await world.app.bot.get_my_commands(
        scope=BotCommandScopeChat(31), language_code="ko"
    )
    assert any(c.command == "status" and c.description == "프로젝트 진행 상황" for c in ko_menu)
    reviewer = await joined_as(world, 32, Role.REVIEWER)
    seen = names(await reviewer.bot_profile())
    assert "review" in seen
    assert "status" not in seen
    worker = await joined_as(world, 33, Role.WORKER)
    assert "review" not in names(await worker.bot_profile())

    await reviewer.send("/leave")
    ask = await reviewer.next_message()
    await reviewer.answer(await reviewer.press(ask, data=buttons(ask)[0][1]))
    seen = names(await reviewer.bot_profile())
    assert "review" not in seen
    assert seen[0] == "start"
    assert await world.app.bot.get_my_commands(scope=BotCommandScopeChat(32)) == ()


async def test_help_fits_the_role(world: World) -> None:
    worker = await joined_as(world, 41, Role.WORKER)
    await worker.send("/help")
    text = (await worker.next_message())["text"]
    assert "/undo — " in text
    assert "/status" not in text
    boss = world.user(ADMIN_ID, "ko")
    await boss.create()
    await boss.send("/help")
    text = (await boss.next_message())["text"]
    assert "/status — 프로젝트 진행 상황" in text
    assert "colours" in text
    assert "관리자" in text


async def test_start_fits_the_role(world: World) -> None:
    boss = world.user(ADMIN_ID)
    await boss.create()
    await boss.send("/start")
    text = (await boss.next_message())["text"]
    assert "as an admin" in text
    assert "colours" in text
    coordinator = await joined_as(world, 51, Role.COORDINATOR)
    await coordinator.send("/start")
    text = (await coordinator.next_message())["text"]
    assert "You coordinate “Colours”" in text
    assert "/status" in text


async def test_unknown_commands_and_text_get_a_hint(world: World) -> None:
    stranger = world.user(61, "ko")
    await stranger.create()
    await stranger.send("/frobnicate now")
    assert "/frobnicate" in (reply := (await stranger.next_message())["text"])
    assert "/help" in reply
    await stranger.send("hello?")
    assert "초대 링크" in (await stranger.next_message())["text"]
    worker = await joined_as(world, 62, Role.WORKER)
    await worker.send("red")
    assert "buttons on the card" in (await worker.next_message())["text"]
    boss = world.user(ADMIN_ID)
    await boss.create()
    await boss.send("what now")
    assert "send a file" in (await boss.next_message())["text"]


async def test_projects_lists_and_switches_and_refuses_a_foreign_project(world: World) -> None:
    second = await world.repo.create_project(make_spec(name="Shapes", slug="shapes"))
    other = await world.repo.create_project(make_spec(name="Secret", slug="secret"))
    user = await joined_as(world, 71, Role.WORKER)
    code = await world.repo.create_invite(second.id, Role.REVIEWER)
    await user.send(f"/start {code}")
    await user.next_message()
    await user.next_message()
    await user.send("/projects")
    listing = await user.next_message()
    labels = [text for text, _ in buttons(listing)]
    assert labels == ["Colours · worker", "✓ Shapes · reviewer"]
    choose_colours = buttons(listing)[0][1]
    await user.answer(await user.press(listing, data=choose_colours))
    switched = await user.next_card(listing, notices=True)  # the list turns into the outcome
    assert switched["message_id"] == listing["message_id"]
    assert switched["text"] == "Now in “Colours”."
    assert buttons(switched)[0][1] == f"v1:go:{world.project.id}"
    worker = await world.repo.get_worker(71)
    assert worker is not None
    assert worker.current_project_id == world.project.id
    # The same press again (a second tap, a replay) sends nothing new.
    seen = user.last_seen
    await user.answer(await user.press(listing, data=choose_colours, strict=False))
    assert await user.messages_after(seen) == []
    # A forged press for a project the user is not in changes nothing.
    press = await user.press(listing, data=ProjectTap(other.id).pack(), strict=False)
    answer = await user.answer(press)
    assert answer["answered"]
    assert "not valid" in answer["text"]
    worker = await world.repo.get_worker(71)
    assert worker is not None
    assert worker.current_project_id == world.project.id


async def test_an_admin_uploads_without_joining_naming_the_project(world: World) -> None:
    shapes = await world.repo.create_project(make_spec(name="Shapes", slug="shapes"))
    before = (await world.repo.project_status(world.project.id)).samples
    boss = world.user(ADMIN_ID)
    await boss.create()
    data = b"review\nfirst new one\nsecond new one\n"
    await boss.send_document("more.csv", data)
    asked = (await boss.next_message())["text"]
    assert "Which project" in asked
    assert "colours, shapes" in asked
    await boss.send_document("more.csv", data, caption="project=colours text=review")
    summary = (await boss.next_message())["text"]
    assert "more.csv (csv, utf-8): 2 rows read, 2 kept" in summary
    await boss.next_message()  # the full report
    assert (await world.repo.project_status(world.project.id)).samples == before + 2
    assert (await world.repo.project_status(shapes.id)).samples == 0
    assert await world.repo.role_of(ADMIN_ID, world.project.id) is None  # never joined


async def test_a_coordinator_cannot_upload_into_a_project_they_do_not_manage(
    world: World,
) -> None:
    secret = await world.repo.create_project(make_spec(name="Secret", slug="secret"))
    coordinator = await joined_as(world, 81, Role.COORDINATOR, "ko")
    await coordinator.send_document("x.csv", b"text\nhello\n", caption="project=secret")
    refused = (await coordinator.next_message())["text"]
    assert refused.startswith("“secret” 프로젝트에는 가져올 수 없어요.")
    assert "colours" in refused
    assert (await world.repo.project_status(secret.id)).samples == 0
    # A misspelt column is told in Korean, and nothing is imported.
    before = (await world.repo.project_status(world.project.id)).samples
    await coordinator.send_document("x.csv", b"review\nhello\n", caption="text=reveiw")
    said = (await coordinator.next_message())["text"]
    assert said.startswith("아무것도 가져오지 않았어요. 캡션에 적힌 텍스트 열(“reveiw”)이")
    assert (await world.repo.project_status(world.project.id)).samples == before
    await coordinator.send_document("x.csv", b"review\nhello\n", caption="colour=red")
    assert "“colour=red”" in (await coordinator.next_message())["text"]
