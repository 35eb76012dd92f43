"""The sandbox's fault switches: rate-limit presets, busy port, re-delivery, 429 storms,
expiring callback queries and the counters a fault harness asserts on."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from telegram import Bot, Update
from telegram.error import RetryAfter
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from cli import main as cli
from sandbox import server as sandbox_server
from sandbox.client import (
    SandboxError,
    SandboxUser,
    redeliver,
    set_callback_ttl,
    stats,
    storm,
    updates,
)
from sandbox.server import QUERY_INVALID, RateLimits, SandboxServer
from tests.tls import bot_requests, http_client

UNLIMITED = RateLimits.parse("off")
KEYBOARD = {"inline_keyboard": [[{"text": "Cat", "callback_data": "v1:l:1:0"}]]}


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(limits=UNLIMITED) as sandbox:
        yield sandbox


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(timeout=10, trust_env=False) as client:
        yield client


@pytest.fixture
async def ann(server: SandboxServer) -> AsyncIterator[SandboxUser]:
    async with SandboxUser(server.url, 7, "Ann") as user:
        await user.create()
        yield user


async def api(
    http: httpx.AsyncClient, server: SandboxServer, method: str, **params: Any
) -> dict[str, Any]:
    """Call a Bot API method as the bot and return the decoded answer."""
    response = await http.post(f"{server.bot_api_url}{server.token}/{method}", json=params)
    body: dict[str, Any] = response.json()
    assert response.status_code == body.get("error_code", 200)
    return body


async def get_updates(
    http: httpx.AsyncClient, server: SandboxServer, offset: int | None = None
) -> list[dict[str, Any]]:
    params = {} if offset is None else {"offset": offset}
    body = await api(http, server, "getUpdates", **params)
    result: list[dict[str, Any]] = body["result"]
    return result


async def card(http: httpx.AsyncClient, server: SandboxServer, ann: SandboxUser) -> dict[str, Any]:
    """Have Ann write first, then send her a message with a button."""
    await ann.send("/start")
    body = await api(http, server, "sendMessage", chat_id=7, text="Pick", reply_markup=KEYBOARD)
    assert body["ok"], body
    result: dict[str, Any] = body["result"]
    return result


# --- rate-limit presets ----------------------------------------------------------------------


def test_limits_parse_presets_and_rates() -> None:
    assert RateLimits.parse("telegram") == RateLimits()
    assert RateLimits.parse(" Telegram ") == RateLimits()
    off = RateLimits.parse("off")
    assert (off.global_rate, off.chat_rate) == (None, None)
    assert RateLimits.parse("5/s") == RateLimits(global_rate=5.0, global_burst=5, chat_rate=None)
    half = RateLimits.parse("0.5/s")
    assert (half.global_rate, half.global_burst, half.chat_rate) == (0.5, 1, None)
    assert RateLimits.parse("2.5/s").global_burst == 3


@pytest.mark.parametrize("text", ["fast", "", "5", "0/s", "-1/s", "nan/s", "inf/s", "x/s", "5/m"])
def test_limits_parse_refuses_bad_values(text: str) -> None:
    with pytest.raises(ValueError, match=r"limits must be off, telegram or N/s") as error:
        RateLimits.parse(text)
    assert repr(text) in str(error.value)


async def test_rate_of_n_per_second_has_no_per_chat_limit(http: httpx.AsyncClient) -> None:
    # Telegram's per-chat bucket holds 20: the 21st message to one chat would be refused.
    async with SandboxServer(limits=RateLimits.parse("100/s")) as server:
        user = SandboxUser(server.url, 7, "Ann", client=http)
        await user.create()
        await user.send("/start")
        for _ in range(25):
            assert (await api(http, server, "sendMessage", chat_id=7, text="hi"))["ok"]
    async with SandboxServer(limits=RateLimits.parse("2/s")) as server:
        user = SandboxUser(server.url, 7, "Ann", client=http)
        await user.create()
        await user.send("/start")
        for _ in range(2):
            assert (await api(http, server, "sendMessage", chat_id=7, text="hi"))["ok"]
        limited = await api(http, server, "sendMessage", chat_id=7, text="hi")
        assert limited["error_code"] == 429


def test_standalone_server_parses_limits() -> None:
    assert sandbox_server._parse_args([]).limits == RateLimits()
    assert sandbox_server._parse_args(["--limits", "off"]).limits == RateLimits.parse("off")
    assert sandbox_server._parse_args(["--limits", "7/s"]).limits == RateLimits.parse("7/s")
    with pytest.raises(SystemExit) as exit_:
        sandbox_server._parse_args(["--limits", "fast"])
    assert exit_.value.code == 2


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the arguments `labelgram sandbox` would serve with, without serving."""
    seen: list[dict[str, Any]] = []

    def fake_serve(**kwargs: Any) -> int:
        seen.append(kwargs)
        return 0

    monkeypatch.setattr(sandbox_server, "serve", fake_serve)
    return seen


def test_cli_sandbox_passes_limits(served: list[dict[str, Any]]) -> None:
    assert cli.main(["sandbox", "--port", "9999", "--limits", "7/s"]) == 0
    assert cli.main(["sandbox"]) == 0
    assert cli.main(["sandbox", "--limits", "off"]) == 0
    assert [(s["port"], s["limits"]) for s in served] == [
        (9999, RateLimits.parse("7/s")),
        (8081, RateLimits()),
        (8081, RateLimits.parse("off")),
    ]


def test_cli_sandbox_bad_limits_is_one_line(
    served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["sandbox", "--limits", "fast"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labelgram: limits must be off, telegram or N/s")
    assert err.count("\n") == 1
    assert served == []


# --- busy port --------------------------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_busy_port_is_one_line_and_exit_2(
    busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    advice = "is in use: stop the other server or pick another with --port\n"
    assert sandbox_server.main(["--port", str(busy_port)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"python -m sandbox.server: port {busy_port} {advice}"
    assert captured.out == ""

    assert cli.main(["sandbox", "--port", str(busy_port)]) == 2
    assert capsys.readouterr().err == f"labelgram: port {busy_port} {advice}"


# --- re-delivery ------------------------------------------------------------------------------


async def test_redelivered_update_comes_back_past_the_offset(
    http: httpx.AsyncClient, server: SandboxServer, ann: SandboxUser
) -> None:
    await ann.send("/undo")
    [first] = await get_updates(http, server)
    after = first["update_id"] + 1
    assert await get_updates(http, server, after) == []  # confirmed

    assert await updates(server.url) == [first]
    assert await redeliver(server.url, first["update_id"]) == first
    assert await get_updates(http, server, after) == [first]
    # The offset past it, sent after it was handed out, confirms the replay.
    assert await get_updates(http, server, after) == []

    counters = await stats(server.url)
    assert counters["updates_queued"] == 1
    assert counters["updates_redelivered"] == 1
    assert counters["updates_delivered"] == 2
    assert counters["updates_pending"] == 0


async def test_unconfirmed_replay_is_delivered_again(
    http: httpx.AsyncClient, server: SandboxServer, ann: SandboxUser
) -> None:
    await ann.send("/start code")
    [first] = await get_updates(http, server)
    await get_updates(http, server, first["update_id"] + 1)
    await redeliver(server.url, first["update_id"])
    assert await get_updates(http, server) == [first]
    assert await get_updates(http, server) == [first]  # no offset: not confirmed
    assert await get_updates(http, server, first["update_id"] + 1) == []


async def test_replay_keeps_update_order(
    http: httpx.AsyncClient, server: SandboxServer, ann: SandboxUser
) -> None:
    await ann.send("one")
    [first] = await get_updates(http, server)
    await get_updates(http, server, first["update_id"] + 1)
    await ann.send("two")
    await redeliver(server.url, first["update_id"])
    batch = await get_updates(http, server, first["update_id"] + 1)
    assert [u["message"]["text"] for u in batch] == ["one", "two"]
    # A poller that confirms the last update of the batch confirms both.
    assert await get_updates(http, server, batch[-1]["update_id"] + 1) == []


async def test_replayed_tap_is_the_same_callback_query(
    http: httpx.AsyncClient, server: SandboxServer, ann: SandboxUser
) -> None:
    message = await card(http, server, ann)
    query_id = await ann.press(message, text="Cat")
    batch = await get_updates(http, server)
    tap = batch[-1]
    await get_updates(http, server, tap["update_id"] + 1)
    await api(http, server, "answerCallbackQuery", callback_query_id=query_id)

    await redeliver(server.url, tap["update_id"])
    [again] = await get_updates(http, server, tap["update_id"] + 1)
    assert again == tap
    assert again["callback_query"]["id"] == query_id
    second = await api(http, server, "answerCallbackQuery", callback_query_id=query_id)
    assert second["description"] == QUERY_INVALID


async def test_update_history_is_bounded_and_listed_after(
    http: httpx.AsyncClient,
) -> None:
    async with SandboxServer(limits=UNLIMITED, update_history=3) as server:
        user = SandboxUser(server.url, 7, "Ann", client=http)
        await user.create()
        for n in range(5):
            await user.send(f"m{n}")
        kept = await updates(server.url, client=http)
        assert [u["message"]["text"] for u in kept] == ["m2", "m3", "m4"]
        later = await updates(server.url, after=kept[1]["update_id"], client=http)
        assert [u["message"]["text"] for u in later] == ["m4"]

        oldest = kept[0]["update_id"] - 1
        with pytest.raises(SandboxError) as missing:
            await redeliver(server.url, oldest, client=http)
        assert missing.value.code == 404
        with pytest.raises(SandboxError):
            await redeliver(server.url, 999, client=http)
    with pytest.raises(ValueError, match="update_history"):
        SandboxServer(update_history=0)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /start with the text it came with."""
    if update.message is not None and update.message.text is not None:
        await update.message.reply_text(f"got {update.message.text}")


@pytest.fixture
async def ptb_app(server: SandboxServer) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    requests = bot_requests()
    application = (
        ApplicationBuilder()
        .token(server.token)
        .base_url(server.bot_api_url)
        .base_file_url(server.file_url)
        .request(requests["request"])
        .get_updates_request(requests["get_updates_request"])
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        yield application
        await application.updater.stop()
        await application.stop()


async def test_python_telegram_bot_handles_a_replay_again(
    server: SandboxServer,
    ptb_app: Application,  # type: ignore[type-arg]
    ann: SandboxUser,
) -> None:
    await ann.send("/start abc")
    assert (await ann.next_message())["text"] == "got /start abc"
    [update] = await updates(server.url)
    await redeliver(server.url, update["update_id"])
    assert (await ann.next_message())["text"] == "got /start abc"
    assert (await stats(server.url))["updates_redelivered"] == 1


# --- 429 storm --------------------------------------------------------------------------------


async def test_storm_refuses_sends_and_edits_until_ended(
    http: httpx.AsyncClient, server: SandboxServer, ann: SandboxUser
) -> None:
    message = await card(http, server, ann)
    state = await storm(server.url, 60, retry_after=3)
    assert state["active"] is True
    assert state["retry_after"] == 3
    assert 0 < state["seconds_left"] <= 60

    refused = await api(http, server, "sendMessage", chat_id=7, text="hi")
    assert refused == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    edit = await api(
        http, server, "editMessageText", chat_id=7, message_id=message["message_id"], text="x"
    )
    assert edit["error_code"] == 429
    # Not rate-limited methods go through.
    assert (await api(http, server, "sendChatAction", chat_id=7, action="typing"))["ok"]
    assert (await api(http, server, "getMe"))["ok"]
    query_id = await ann.press(message, text="Cat")
    assert (await api(http, server, "answerCallbackQuery", callback_query_id=query_id))["ok"]

    assert (await storm(server.url, 0))["active"] is False
    assert (await api(http, server, "sendMessage", chat_id=7, text="hi"))["ok"]
    counters = await stats(server.url)
    assert counters["storm_refusals"] == 2
    assert counters["too_many_requests"] == 2
    assert counters["storm"]["active"] is False


async def test_storm_ends_by_itself(
    http: httpx.AsyncClient, server: SandboxServer, ann: SandboxUser
) -> None:
    await ann.send("/start")
    await storm(server.url, 0.05)
    await asyncio.sleep(0.1)
    assert (await api(http, server, "sendMessage", chat_id=7, text="hi"))["ok"]


async def test_storm_probability_refuses_a_share(
    http: httpx.AsyncClient, server: SandboxServer, ann: SandboxUser
) -> None:
    await ann.send("/start")
    await storm(server.url, 60, probability=0.5)
    codes = [
        (await api(http, server, "sendMessage", chat_id=7, text="hi")).get("error_code", 200)
        for _ in range(100)
    ]
    assert set(codes) == {200, 429}
    assert (await stats(server.url))["storm_refusals"] == codes.count(429)

    await storm(server.url, 60, probability=0.0)
    assert (await api(http, server, "sendMessage", chat_id=7, text="hi"))["ok"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"seconds": "10"},
        {"seconds": -1},
        {"seconds": True},
        {"seconds": 10, "retry_after": 1.5},
        {"seconds": 10, "retry_after": -1},
        {"seconds": 10, "probability": 2},
        {"seconds": 10, "probability": None},
        {"seconds": 10, "retryafter": 1},
    ],
)
async def test_storm_refuses_bad_requests(
    http: httpx.AsyncClient, server: SandboxServer, body: dict[str, Any]
) -> None:
    response = await http.post(f"{server.url}/sandbox/storm", json=body)
    assert response.status_code == 400
    assert (await stats(server.url))["storm"]["active"] is False


async def test_python_telegram_bot_sees_retry_after_in_a_storm(
    server: SandboxServer, ann: SandboxUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22 warns when it builds RetryAfter with an int retry_after unless opted in to timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    await ann.send("/start")
    await storm(server.url, 60, retry_after=4)
    async with Bot(server.token, base_url=server.bot_api_url) as bot:
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(7, "hi")
    assert flood.value.retry_after == dt.timedelta(seconds=4)


# --- expiring callback queries ----------------------------------------------------------------


async def test_callback_queries_expire_after_telegrams_15_s_by_default(
    server: SandboxServer,
) -> None:
    assert server.callback_ttl == 15.0
    assert SandboxServer(callback_ttl=None).callback_ttl is None


async def test_answer_after_callback_ttl_is_refused(http: httpx.AsyncClient) -> None:
    async with SandboxServer(limits=UNLIMITED, callback_ttl=0.05) as server:
        user = SandboxUser(server.url, 7, "Ann", client=http)
        await user.create()
        message = await card(http, server, user)
        query_id = await user.press(message, text="Cat")
        await asyncio.sleep(0.1)
        late = await api(http, server, "answerCallbackQuery", callback_query_id=query_id)
        assert late == {"ok": False, "error_code": 400, "description": QUERY_INVALID}
        counters = await stats(server.url, client=http)
        assert counters["callback_answers_expired"] == 1
        assert counters["unanswered_callback_query_ids"] == [query_id]


async def test_callback_ttl_setting(
    http: httpx.AsyncClient, server: SandboxServer, ann: SandboxUser
) -> None:
    message = await card(http, server, ann)
    await set_callback_ttl(server.url, 0.05)
    assert server.callback_ttl == 0.05
    stale = await ann.press(message, text="Cat")
    await asyncio.sleep(0.1)
    refused = await api(http, server, "answerCallbackQuery", callback_query_id=stale)
    assert refused["description"] == QUERY_INVALID

    await set_callback_ttl(server.url, None)
    assert server.callback_ttl is None
    assert (await api(http, server, "answerCallbackQuery", callback_query_id=stale))["ok"]
    await set_callback_ttl(server.url, 60)
    fresh = await ann.press(message, text="Cat")
    assert (await api(http, server, "answerCallbackQuery", callback_query_id=fresh))["ok"]


@pytest.mark.parametrize(
    "body", [{"callback_ttl": 0}, {"callback_ttl": -1}, {"callback_ttl": "5"}, {"ttl": 5}]
)
async def test_settings_refuse_bad_values(
    http: httpx.AsyncClient, server: SandboxServer, body: dict[str, Any]
) -> None:
    response = await http.post(f"{server.url}/sandbox/settings", json=body)
    assert response.status_code == 400
    assert server.callback_ttl == 15.0


def test_constructor_refuses_bad_callback_ttl() -> None:
    with pytest.raises(ValueError, match="callback_ttl"):
        SandboxServer(callback_ttl=0)


# --- counters ---------------------------------------------------------------------------------


async def test_stats_count_answered_and_unanswered_taps(
    http: httpx.AsyncClient, server: SandboxServer, ann: SandboxUser
) -> None:
    message = await card(http, server, ann)
    taps = [await ann.press(message, text="Cat") for _ in range(3)]
    await api(http, server, "answerCallbackQuery", callback_query_id=taps[1])
    await get_updates(http, server)

    counters = await stats(server.url)
    assert counters["callback_queries"] == 3
    assert counters["callback_queries_answered"] == 1
    assert counters["callback_queries_unanswered"] == 2
    assert counters["unanswered_callback_query_ids"] == [taps[0], taps[2]]
    assert counters["updates_queued"] == 4  # /start and three taps
    assert counters["updates_delivered"] == 4
    assert counters["updates_pending"] == 4  # handed out, not confirmed
    assert counters["too_many_requests"] == 0
