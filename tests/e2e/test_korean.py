"""Korean coverage: every role walks the flows that exist as Korean users, and every text the
bot itself wrote to them (messages, captions, buttons, callback answers) has Hangul; so do
its Korean command menus and descriptions. The checker is `tests.korean`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import LabelgramApp, build_application, polling
from config.settings import Settings
from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import SandboxServer
from storage.models import Project, Role, SampleIn
from storage.repository import Repository
from tests.conftest import make_spec
from tests.e2e.conftest import ADMIN_ID
from tests.korean import CallLog, KoreanCheck, needs_hangul, recording_requests
from tests.tls import http_client

GOLD = [SampleIn(ext_id=f"g{i}", text=f"gold g{i}", truth="red") for i in range(6)]
PLAIN = [SampleIn(ext_id=f"n{i}", text=f"plain n{i}") for i in range(3)]
# Given to the bot, not written by it: sample texts, project names and slugs, file names.
CONTENT = {s.text or "" for s in GOLD + PLAIN} | {"Colours", "colours", "Shapes", "shapes"}
CONTENT |= {"plain s0", "plain s1", "gold s0", "gold s1", "gold s2", "more.csv", "User"}
CONTENT |= {"English"}  # /lang names each language as it names itself


@dataclass
class KoreanWorld:
    sandbox: SandboxServer
    repo: Repository
    app: LabelgramApp
    colours: Project
    shapes: Project
    check: KoreanCheck
    http: object

    async def user(self, user_id: int) -> SandboxUser:
        user = SandboxUser(
            self.sandbox.url,
            user_id,
            f"User{user_id}",
            language_code="ko",
            client=self.http,  # type: ignore[arg-type]
        )
        await user.create()
        self.check.korean.add(user_id)
        return user

    async def joined(self, user_id: int, project: Project, role: Role) -> SandboxUser:
        user = await self.user(user_id)
        code = await self.repo.create_invite(project.id, role)
        await user.send(f"/start {code}")
        await until(user, lambda m: bool(buttons(m)))  # the guide, with its Start button
        return user


@pytest.fixture
async def kworld(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[KoreanWorld]:
    repo = Repository(tmp_path / "ko.db")
    await repo.open()
    quality = {"gold_rate": 0.01, "exam_size": 2, "exam_pass": 1.0, "exam_retries": 1}
    colours = await repo.create_project(make_spec(overlap=2, quality=quality))
    await repo.import_samples(colours.id, PLAIN)
    async with repo.import_session(colours.id, "gold.csv") as session:
        await session.add(GOLD)
    shapes = await repo.create_project(
        make_spec(
            name="Shapes",
            slug="shapes",
            overlap=1,
            card_flow="edit",
            quality={
                "gold_rate": 1.0,
                "gold_feedback": False,
                "rules": {"min_gold": 3, "min_gold_accuracy": 0.7, "min_seconds": 0.0},
            },
        )
    )
    await repo.import_samples(
        shapes.id, [SampleIn(ext_id=f"s{i}", text=f"plain s{i}") for i in range(2)]
    )
    async with repo.import_session(shapes.id, "gold.csv") as session:
        await session.add(
            [SampleIn(ext_id=f"t{i}", text=f"gold s{i}", truth="red") for i in range(3)]
        )
    settings = Settings(
        token=sandbox.token,
        bot_api_url=sandbox.bot_api_url,
        bot_file_url=sandbox.file_url,
        db_path=tmp_path / "ko.db",
        admins=[ADMIN_ID],
        rate_limit=False,
    )
    log = CallLog()
    app = build_application(settings, repo, **recording_requests(log))
    check = KoreanCheck(log, exempt=set(CONTENT))
    async with http_client(timeout=10) as http, polling(app, freeze_heap=False):
        yield KoreanWorld(sandbox, repo, app, colours, shapes, check, http)


async def until(
    user: SandboxUser,
    wanted: Callable[[JSON], bool],
    most: int = 12,
    timeout: float = 10.0,  # noqa: ASYNC109  (a long poll the sandbox holds)
) -> JSON:
    """Read the user's next messages until one is `wanted` (the others are still checked)."""
    for _ in range(most):
        message = await user.next_message(timeout=timeout)
        if wanted(message):
            return message
    raise AssertionError(f"user {user.user_id}: no such message among the next {most}")


def text_of(message: JSON) -> str:
    return str(message.get("text") or message.get("caption") or "")


def labels(card: JSON) -> dict[str, str]:
    return {text: data for text, data in buttons(card) if data.startswith("v1:l:")}


def first(card: JSON, prefix: str) -> str:
    return next(data for _, data in buttons(card) if data.startswith(prefix))


async def work_through(user: SandboxUser, card: JSON, *, wrong_gold: int) -> None:
    """Label until all done: the first `wrong_gold` control cards wrong, then right; the plain
    cards with a label, a problem report, an undo and a skip along the way."""
    plain_steps = ["label", "report", "undo", "skip"]
    for _ in range(30):
        if "🎉" in text_of(card):
            return
        if not labels(card):
            card = await user.next_message(timeout=10)
            continue
        if text_of(card).startswith("gold"):
            choice = "초록" if wrong_gold > 0 else "빨강"
            wrong_gold -= 1
            await user.press(card, data=labels(card)[choice])
        else:
            step = plain_steps.pop(0) if plain_steps else "label"
            if step == "skip":
                await user.press(card, data=first(card, "v1:s:"))
            elif step == "report":
                await user.answer(await user.press(card, data=first(card, "v1:r:")))
                reasons = await user.message(card["message_id"])
                await user.press(reasons, data=first(reasons, "v1:rr:"))
            else:
                await user.press(card, data=labels(card)["파랑"])
                if step == "undo":
                    await until(user, lambda m: bool(labels(m)) or "🎉" in text_of(m))
                    await user.send("/undo")
        card = await user.next_message(timeout=10)
    raise AssertionError("the walk did not end")


async def test_every_role_reads_korean_everywhere(kworld: KoreanWorld) -> None:
    w = kworld
    # --- coordinator and reviewer join; the admin comes as they are -------------------------
    coordinator = await w.joined(50, w.colours, Role.COORDINATOR)
    code = await w.repo.create_invite(w.shapes.id, Role.COORDINATOR)
    await coordinator.send(f"/start {code}")
    await until(coordinator, lambda m: bool(buttons(m)))
    reviewer = await w.joined(60, w.colours, Role.REVIEWER)
    admin = await w.user(ADMIN_ID)

    # --- a worker: exam (a miss with feedback, a retry, a pass), labels, undo, skip, report --
    worker = await w.joined(1, w.colours, Role.WORKER)
    await worker.send("/guide")
    guide = await until(worker, lambda m: bool(buttons(m)))
    await worker.press(guide, data=first(guide, "v1:go:"))
    await work_through(worker, await worker.next_message(), wrong_gold=1)
    for command in ("/me", "/guide", "/projects", "/help", "/frobnicate", "hello there"):
        await worker.send(command)
        await worker.next_message()
    await worker.send("/lang")
    choose = await worker.next_message()
    await worker.answer(await worker.press(choose, data="v1:lang:ko"))
    await worker.send("/leave")
    ask = await worker.next_message()
    await worker.answer(await worker.press(ask, data=first(ask, "v1:lv:")))  # leave
    # --- a worker who fails the exam twice, and their coordinator's notice ------------------
    failing = await w.joined(3, w.colours, Role.WORKER)
    await failing.send("/start")
    guide = await until(failing, lambda m: bool(buttons(m)))
    await failing.press(guide, data=first(guide, "v1:go:"))
    for _ in range(12):
        message = await failing.next_message(timeout=10)
        if labels(message):
            await failing.press(message, data=labels(message)["초록"])
        elif "❌" in text_of(message) and "코디네이터에게 문의" in text_of(message):
            break
    await until(coordinator, lambda m: "/reinstate 3" in text_of(m))
    await failing.press(guide, data=first(guide, "v1:go:"))
    await until(failing, lambda m: "테스트" in text_of(m))
    # --- a careless worker suspended by the gold rule (cards edited in place) ---------------
    careless = await w.joined(2, w.shapes, Role.WORKER)
    await careless.send("/start")
    guide = await until(careless, lambda m: bool(buttons(m)))
    await careless.press(guide, data=first(guide, "v1:go:"))
    card = await careless.next_message()
    for _ in range(12):
        if "⛔" in text_of(card):
            break
        if labels(card):
            await careless.press(card, data=labels(card)["파랑"])
            card = await careless.next_card(card, timeout=10, notices=True)
        else:
            card = await careless.next_message(timeout=10)
    assert "⛔" in text_of(card)
    await until(coordinator, lambda m: "⛔" in text_of(m))
    await coordinator.send("/reinstate 2 shapes")
    await coordinator.next_message()
    await until(careless, lambda m: "✅" in text_of(m))
    # --- the coordinator's commands ----------------------------------------------------------
    for command in (
        "/status",
        "/invite colours",
        "/invite colours reviewer",
        "/check colours",
        "/audit colours",
        "/review",
        "/help",
        "/projects",
        "/frobnicate",
        "what now",
        "/status nowhere",
    ):
        await coordinator.send(command)
        await coordinator.next_message(timeout=30)
    await coordinator.send_document(
        "more.csv",
        b"review\nfirst new one\n\nsecond new one\n",
        caption="project=colours text=review",
    )
    await until(coordinator, lambda m: "document" in m, timeout=30)  # report, then the JSON
    await coordinator.send_document("more.csv", b"review\nx\n", caption="text=reveiw")
    await coordinator.next_message(timeout=30)
    await coordinator.send_document("more.csv", b"review\nx\n", caption="colour=red")
    await coordinator.next_message(timeout=30)
    await coordinator.send("/export colours")
    await until(coordinator, lambda m: "document" in m, timeout=120)
    # --- the reviewer and the admin -------------------------------------------------------
    for command in ("/review", "/help", "/start"):
        await reviewer.send(command)
        await reviewer.next_message()
    for command in ("/start", "/help", "/status", "/projects", "/check colours", "hello"):
        await admin.send(command)
        await admin.next_message(timeout=30)

    # --- the check, once the bot has gone quiet ------------------------------------------
    await settle(w.check.log)
    texts = w.check.texts()
    used = w.check.seen(
        [
            "sendMessage",
            "editMessageText",
            "editMessageReplyMarkup",
            "answerCallbackQuery",
            "sendDocument",
            "setMyCommands",
            "setMyDescription",
            "setMyShortDescription",
        ]
    )
    assert used == {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "answerCallbackQuery",
        "sendDocument",
        "setMyCommands",
        "setMyDescription",
        "setMyShortDescription",
    }
    assert len(texts) > 100
    assert {t.chat_id for t in texts} >= {1, 2, 3, 50, 60, ADMIN_ID}
    problems = w.check.problems()
    assert problems == [], "\n".join(
        f"{p.method} {p.where} to {p.chat_id}: {p.text!r}" for p in problems
    )


async def settle(log: CallLog, quiet: float = 1.0, most: float = 30.0) -> None:
    """Wait until the bot has made no call for `quiet` seconds (at most `most`)."""
    waited, seen = 0.0, -1
    while waited < most and seen != len(log.calls):
        seen = len(log.calls)
        await asyncio.sleep(quiet)
        waited += quiet


def test_the_checker_finds_english_and_spares_content() -> None:
    log = CallLog()
    log.calls += [
        ("sendMessage", {"chat_id": 7, "text": "Saved: Red"}),
        ("sendMessage", {"chat_id": 7, "text": "저장했어요: 빨강"}),
        ("sendMessage", {"chat_id": 8, "text": "English for an English user"}),
        ("sendMessage", {"chat_id": 7, "text": "plain n0\n\n❓ 무슨 색인가요?"}),
        ("sendMessage", {"chat_id": 7, "text": "“Colours”"}),
        ("sendMessage", {"chat_id": 7, "text": "✓ 3/4"}),
        ("copyMessage", {"chat_id": 7, "from_chat_id": 50, "message_id": 3}),
        (
            "editMessageReplyMarkup",
            {
                "chat_id": 7,
                "reply_markup": '{"inline_keyboard": '
                '[[{"text": "Skip", "callback_data": "v1:s:1"}]]}',
            },
        ),
        ("answerCallbackQuery", {"callback_query_id": "q1", "text": "Decided: Red"}),
        (
            "setMyCommands",
            {"language_code": "ko", "commands": [{"command": "a", "description": "Go"}]},
        ),
        ("setMyCommands", {"commands": [{"command": "a", "description": "Go"}]}),
    ]
    log.presser["q1"] = 7
    check = KoreanCheck(log, korean={7}, exempt={"Colours"})
    found = [(p.method, p.where, p.text) for p in check.problems()]
    assert found == [
        ("sendMessage", "text", "Saved: Red"),
        ("editMessageReplyMarkup", "button", "Skip"),
        ("answerCallbackQuery", "answer", "Decided: Red"),
        ("setMyCommands", "command", "Go"),
    ]
    assert needs_hangul("A Colours text", {"Colours"})
    assert not needs_hangul("Colours", {"Colours"})
