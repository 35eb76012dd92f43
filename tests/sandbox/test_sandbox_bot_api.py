"""The sandbox's Bot API side, spoken to over HTTP as a bot would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox import RateLimits, SandboxServer
from tests.tls import http_client

UNLIMITED = RateLimits(global_rate=None, chat_rate=None)


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(limits=UNLIMITED) as sandbox:
        yield sandbox


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(timeout=10) as client:
        yield client


async def api(
    http: httpx.AsyncClient, server: SandboxServer, method: str, **params: Any
) -> dict[str, Any]:
    """Call a Bot API method with a JSON body and return the decoded answer."""
    response = await http.post(f"{server.bot_api_url}{server.token}/{method}", json=params)
    body: dict[str, Any] = response.json()
    assert response.status_code == body.get("error_code", 200)
    return body


async def form(
    http: httpx.AsyncClient, server: SandboxServer, method: str, **params: Any
) -> dict[str, Any]:
    """Call a method the way python-telegram-bot does: form fields, objects as JSON strings."""
    fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    response = await http.post(f"{server.bot_api_url}{server.token}/{method}", data=fields)
    body: dict[str, Any] = response.json()
    return body


async def user_says(
    http: httpx.AsyncClient, server: SandboxServer, user_id: int, text: str
) -> dict[str, Any]:
    await http.post(f"{server.url}/sandbox/users", json={"id": user_id, "first_name": "Ann"})
    response = await http.post(
        f"{server.url}/sandbox/users/{user_id}/messages", json={"text": text}
    )
    result: dict[str, Any] = response.json()["result"]
    return result


def keyboard(*data: str) -> dict[str, Any]:
    return {
        "inline_keyboard": [[{"text": f"b{i}", "callback_data": d} for i, d in enumerate(data)]]
    }


async def test_get_me_shape(http: httpx.AsyncClient, server: SandboxServer) -> None:
    body = await api(http, server, "getMe")
    assert body["ok"] is True
    me = body["result"]
    assert me["is_bot"] is True
    assert me["id"] == 123456
    assert me["username"] == "labelgram_sandbox_bot"
    assert {"first_name", "can_join_groups", "supports_inline_queries"} <= me.keys()


async def test_errors_have_telegram_shape(http: httpx.AsyncClient, server: SandboxServer) -> None:
    wrong = await http.get(f"{server.bot_api_url}1:WRONG/getMe")
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}

    unknown = await http.get(f"{server.bot_api_url}{server.token}/sendSticker")
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}

    lower = await http.get(f"{server.bot_api_url}{server.token}/getme")
    assert lower.json()["ok"] is True
    assert dict(server.calls) == {"sendSticker": 1, "getme": 1}


async def test_get_updates_offset_confirms_and_limit(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    for text in ("one", "two", "three"):
        await user_says(http, server, 7, text)

    first = (await api(http, server, "getUpdates", limit=2))["result"]
    assert [u["message"]["text"] for u in first] == ["one", "two"]
    again = (await api(http, server, "getUpdates"))["result"]
    assert len(again) == 3  # nothing confirmed yet

    rest = (await api(http, server, "getUpdates", offset=first[-1]["update_id"] + 1))["result"]
    assert [u["message"]["text"] for u in rest] == ["three"]
    after = (await api(http, server, "getUpdates", offset=rest[-1]["update_id"] + 1))["result"]
    assert after == []
    # Confirmed updates are gone for good, even with the default offset.
    assert (await api(http, server, "getUpdates"))["result"] == []


async def test_long_poll_ends_when_an_update_arrives(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    await user_says(http, server, 7, "hello")
    first = (await api(http, server, "getUpdates"))["result"]
    offset = first[-1]["update_id"] + 1

    poll = asyncio.create_task(api(http, server, "getUpdates", offset=offset, timeout=30))
    await asyncio.sleep(0.1)
    assert not poll.done()
    await user_says(http, server, 7, "again")
    body = await asyncio.wait_for(poll, 5)
    assert [u["message"]["text"] for u in body["result"]] == ["again"]


async def test_short_timeout_returns_empty(http: httpx.AsyncClient, server: SandboxServer) -> None:
    body = await api(http, server, "getUpdates", timeout=0.2)
    assert body == {"ok": True, "result": []}


async def test_allowed_updates_are_remembered(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    await form(http, server, "getUpdates", allowed_updates=["callback_query"], timeout=0)
    await user_says(http, server, 7, "ignored")
    assert (await api(http, server, "getUpdates"))["result"] == []

    await form(http, server, "getUpdates", allowed_updates=[])  # [] = all default types
    await user_says(http, server, 7, "seen")
    result = (await api(http, server, "getUpdates"))["result"]
    assert [u["message"]["text"] for u in result] == ["seen"]


async def test_second_get_updates_ends_the_first_with_409(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    first = asyncio.create_task(api(http, server, "getUpdates", timeout=30))
    await asyncio.sleep(0.1)
    second = await api(http, server, "getUpdates", timeout=0)
    assert second == {"ok": True, "result": []}
    conflict = await asyncio.wait_for(first, 5)
    assert conflict["error_code"] == 409
    assert conflict["description"].startswith("Conflict: terminated by other getUpdates request")


async def test_commands_get_a_bot_command_entity(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    plain = await user_says(http, server, 7, "hello /start")
    assert "entities" not in plain
    start = await user_says(http, server, 7, "/start")
    assert start["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    addressed = await user_says(http, server, 7, "/start@labelgram_sandbox_bot abc")
    assert addressed["entities"] == [{"type": "bot_command", "offset": 0, "length": 28}]
    assert addressed["message_id"] == start["message_id"] + 1


async def test_chat_not_found(http: httpx.AsyncClient, server: SandboxServer) -> None:
    unknown = await api(http, server, "sendMessage", chat_id=999, text="hi")
    assert unknown["description"] == "Bad Request: chat not found"
    await http.post(f"{server.url}/sandbox/users", json={"id": 8, "first_name": "Bo"})
    silent = await api(http, server, "sendMessage", chat_id=8, text="hi")
    assert silent["description"] == "Bad Request: chat not found"


async def test_text_limits(http: httpx.AsyncClient, server: SandboxServer) -> None:
    await user_says(http, server, 7, "/start")
    empty = await api(http, server, "sendMessage", chat_id=7, text="")
    assert empty["description"] == "Bad Request: message text is empty"
    too_long = await api(http, server, "sendMessage", chat_id=7, text="x" * 4097)
    assert too_long["description"] == "Bad Request: message is too long"
    assert (await api(http, server, "sendMessage", chat_id=7, text="x" * 4096))["ok"]

    # With HTML, the limit applies to the text without its tags.
    html = "<b>" + "x" * 4090 + "</b> &amp; "
    sent = await form(http, server, "sendMessage", chat_id=7, text=html, parse_mode="HTML")
    assert sent["result"]["text"] == "x" * 4090 + " & "
    assert sent["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 4090}]
    broken = await api(http, server, "sendMessage", chat_id=7, text="a < b", parse_mode="HTML")
    assert broken["description"].startswith("Bad Request: can't parse entities")
    unsupported = await api(
        http, server, "sendMessage", chat_id=7, text="<p>x</p>", parse_mode="HTML"
    )
    assert unsupported["description"] == (
        'Bad Request: can\'t parse entities: Unsupported start tag "p" at byte offset 0'
    )


async def test_callback_data_and_markup_checks(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    await user_says(http, server, 7, "/start")
    for bad in ("", "x" * 65, "й" * 33):  # 66 bytes of UTF-8
        body = await form(
            http, server, "sendMessage", chat_id=7, text="t", reply_markup=keyboard(bad)
        )
        assert body["description"] == "Bad Request: BUTTON_DATA_INVALID", bad
    ok = await form(
        http, server, "sendMessage", chat_id=7, text="t", reply_markup=keyboard("й" * 32)
    )
    assert ok["result"]["reply_markup"] == keyboard("й" * 32)

    malformed = await form(http, server, "sendMessage", chat_id=7, text="t", reply_markup="{nope")
    assert malformed["description"] == (
        "Bad Request: can't parse reply keyboard markup JSON object"
    )
    no_action = {"inline_keyboard": [[{"text": "x"}]]}
    body = await form(http, server, "sendMessage", chat_id=7, text="t", reply_markup=no_action)
    assert body["description"] == "Bad Request: text buttons are unallowed in the inline keyboard"


async def test_caption_limit(http: httpx.AsyncClient, server: SandboxServer) -> None:
    await user_says(http, server, 7, "/start")
    url = "https://example.com/cat.jpg"
    body = await api(http, server, "sendPhoto", chat_id=7, photo=url, caption="c" * 1025)
    assert body["description"] == "Bad Request: message caption is too long"
    sent = await api(http, server, "sendPhoto", chat_id=7, photo=url, caption="c" * 1024)
    assert sent["result"]["caption"] == "c" * 1024


async def test_edits(http: httpx.AsyncClient, server: SandboxServer) -> None:
    await user_says(http, server, 7, "/start")
    sent = await api(
        http, server, "sendMessage", chat_id=7, text="Pick", reply_markup=keyboard("a")
    )
    message_id = sent["result"]["message_id"]

    missing = await api(http, server, "editMessageText", chat_id=7, message_id=999, text="x")
    assert missing["description"] == "Bad Request: message to edit not found"
    same = await api(
        http,
        server,
        "editMessageText",
        chat_id=7,
        message_id=message_id,
        text="Pick",
        reply_markup=keyboard("a"),
    )
    assert same["description"].startswith("Bad Request: message is not modified: specified new")

    edited = await api(
        http, server, "editMessageText", chat_id=7, message_id=message_id, text="Done"
    )
    assert edited["result"]["text"] == "Done"
    assert "reply_markup" not in edited["result"]  # no reply_markup: the keyboard goes
    assert isinstance(edited["result"]["edit_date"], int)
    state = (await http.get(f"{server.url}/sandbox/users/7/messages/{message_id}")).json()
    assert state["result"]["text"] == "Done"

    markup = await api(
        http,
        server,
        "editMessageReplyMarkup",
        chat_id=7,
        message_id=message_id,
        reply_markup=keyboard("b"),
    )
    assert markup["result"]["reply_markup"] == keyboard("b")
    again = await api(
        http,
        server,
        "editMessageReplyMarkup",
        chat_id=7,
        message_id=message_id,
        reply_markup=keyboard("b"),
    )
    assert again["error_code"] == 400

    deleted = await api(http, server, "deleteMessage", chat_id=7, message_id=message_id)
    assert deleted == {"ok": True, "result": True}
    gone = await http.get(f"{server.url}/sandbox/users/7/messages/{message_id}")
    assert gone.status_code == 404


async def test_answer_callback_query_only_once(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    await user_says(http, server, 7, "/start")
    sent = await api(
        http, server, "sendMessage", chat_id=7, text="Pick", reply_markup=keyboard("a")
    )
    press = await http.post(
        f"{server.url}/sandbox/users/7/callback",
        json={"message_id": sent["result"]["message_id"], "data": "a"},
    )
    query_id = press.json()["result"]["callback_query_id"]
    updates = (await api(http, server, "getUpdates"))["result"]
    query = updates[-1]["callback_query"]
    assert query["id"] == query_id
    assert query["data"] == "a"
    assert query["message"]["text"] == "Pick"
    assert query["from"]["id"] == 7
    assert isinstance(query["chat_instance"], str)

    first = await api(http, server, "answerCallbackQuery", callback_query_id=query_id, text="ok")
    assert first == {"ok": True, "result": True}
    second = await api(http, server, "answerCallbackQuery", callback_query_id=query_id)
    assert second["description"] == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    unknown = await api(http, server, "answerCallbackQuery", callback_query_id="123")
    assert unknown["error_code"] == 400


async def test_rate_limits_answer_429(http: httpx.AsyncClient) -> None:
    limits = RateLimits(global_rate=None, chat_rate=0.5, chat_burst=2)
    async with SandboxServer(limits=limits) as server:
        for user_id in (7, 8):
            await user_says(http, server, user_id, "/start")
        for _ in range(2):
            assert (await api(http, server, "sendMessage", chat_id=7, text="hi"))["ok"]
        limited = await api(http, server, "sendMessage", chat_id=7, text="hi")
        assert limited["error_code"] == 429
        retry_after = limited["parameters"]["retry_after"]
        assert isinstance(retry_after, int)
        assert retry_after >= 1
        assert limited["description"] == f"Too Many Requests: retry after {retry_after}"
        # Another chat has its own bucket.
        assert (await api(http, server, "sendMessage", chat_id=8, text="hi"))["ok"]

    limits = RateLimits(global_rate=1.0, global_burst=1, chat_rate=None)
    async with SandboxServer(limits=limits) as server:
        for user_id in (7, 8):
            await user_says(http, server, user_id, "/start")
        assert (await api(http, server, "sendMessage", chat_id=7, text="hi"))["ok"]
        limited = await api(http, server, "sendMessage", chat_id=8, text="hi")
        assert limited["error_code"] == 429
        assert limited["parameters"] == {"retry_after": 1}


async def test_blocked_user_gets_nothing(http: httpx.AsyncClient, server: SandboxServer) -> None:
    await user_says(http, server, 7, "/start")
    await api(http, server, "getUpdates", offset=-1)
    await http.post(f"{server.url}/sandbox/users/7/block")
    blocked = await api(http, server, "sendMessage", chat_id=7, text="hi")
    assert blocked == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    updates = (await api(http, server, "getUpdates", offset=-1))["result"]
    change = updates[0]["my_chat_member"]
    assert change["new_chat_member"]["status"] == "kicked"

    await http.post(f"{server.url}/sandbox/users/7/unblock")
    assert (await api(http, server, "sendMessage", chat_id=7, text="hi"))["ok"]


async def test_commands_and_webhook_methods(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    commands = [{"command": "start", "description": "Start labeling"}]
    assert (await form(http, server, "setMyCommands", commands=commands))["result"] is True
    assert (await api(http, server, "getMyCommands"))["result"] == commands
    scoped = await api(http, server, "getMyCommands", scope={"type": "all_private_chats"})
    assert scoped["result"] == []
    bad = await api(
        http, server, "setMyCommands", commands=[{"command": "Bad-Name", "description": "x"}]
    )
    assert bad["error_code"] == 400
    assert (await api(http, server, "deleteMyCommands"))["result"] is True
    assert (await api(http, server, "getMyCommands"))["result"] == []

    await user_says(http, server, 7, "pending")
    info = (await api(http, server, "getWebhookInfo"))["result"]
    assert info == {"url": "", "has_custom_certificate": False, "pending_update_count": 1}
    assert (await api(http, server, "deleteWebhook", drop_pending_updates=True))["result"]
    assert (await api(http, server, "getUpdates"))["result"] == []
    assert (await api(http, server, "sendChatAction", chat_id=7, action="typing"))["result"]
    assert (await api(http, server, "logOut"))["result"] is True
    assert (await api(http, server, "close"))["result"] is True


async def test_stop_releases_pending_long_polls(http: httpx.AsyncClient) -> None:
    server = SandboxServer()
    await server.start()
    poll = asyncio.create_task(api(http, server, "getUpdates", timeout=30))
    await asyncio.sleep(0.1)
    await asyncio.wait_for(server.stop(), 5)
    assert (await asyncio.wait_for(poll, 5))["result"] == []


async def test_html_becomes_entities(http: httpx.AsyncClient, server: SandboxServer) -> None:
    await user_says(http, server, 7, "/start")
    html = (
        '<a href="https://example.com/?a=1&amp;b=2">guide</a> '
        '<pre><code class="language-python">x = 1</code></pre> <i>é😀<b>b</b></i>'
    )
    sent = await api(http, server, "sendMessage", chat_id=7, text=html, parse_mode="HTML")
    assert sent["result"]["text"] == "guide x = 1 é😀b"
    assert sent["result"]["entities"] == [
        {"type": "text_link", "offset": 0, "length": 5, "url": "https://example.com/?a=1&b=2"},
        {"type": "pre", "offset": 6, "length": 5, "language": "python"},
        {"type": "italic", "offset": 12, "length": 4},  # 😀 is two UTF-16 code units
        {"type": "bold", "offset": 15, "length": 1},
    ]
    for broken, error in [
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", "Unmatched end tag at byte offset 4"),
        ("x</b>", "Unexpected end tag at byte offset 1"),
    ]:
        body = await api(http, server, "sendMessage", chat_id=7, text=broken, parse_mode="HTML")
        assert body["description"].startswith(f"Bad Request: can't parse entities: {error}")


async def test_replies_and_caption_edits(http: httpx.AsyncClient, server: SandboxServer) -> None:
    question = await user_says(http, server, 7, "what?")
    reply = await api(
        http,
        server,
        "sendMessage",
        chat_id=7,
        text="this",
        reply_parameters={"message_id": question["message_id"]},
    )
    assert reply["result"]["reply_to_message"]["text"] == "what?"
    missing = await api(
        http, server, "sendMessage", chat_id=7, text="x", reply_parameters={"message_id": 999}
    )
    assert missing["description"] == "Bad Request: message to be replied not found"

    photo = await api(http, server, "sendPhoto", chat_id=7, photo="https://example.com/a.png")
    message_id = photo["result"]["message_id"]
    edited = await api(
        http,
        server,
        "editMessageCaption",
        chat_id=7,
        message_id=message_id,
        caption="<b>new</b>",
        parse_mode="HTML",
    )
    assert edited["result"]["caption"] == "new"
    assert edited["result"]["caption_entities"] == [{"type": "bold", "offset": 0, "length": 3}]
    no_text = await api(
        http, server, "editMessageText", chat_id=7, message_id=message_id, text="t"
    )
    assert no_text["description"] == "Bad Request: there is no text in the message to edit"
    users_own = await api(
        http, server, "editMessageText", chat_id=7, message_id=question["message_id"], text="t"
    )
    assert users_own["description"] == "Bad Request: message can't be edited"
