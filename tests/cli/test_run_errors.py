"""`labelgram run`'s first-run mistakes: one line, exit 2, and the token never printed."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sandbox.server import SandboxServer

TOKEN = "987654:THIS-TOKEN-MUST-NEVER-BE-PRINTED"


async def start_bot(tmp_path: Path, url: str, token: str) -> asyncio.subprocess.Process:
    """`labelgram run` against `url`, its output (stdout and stderr) piped."""
    env = {
        **os.environ,
        "LABELGRAM_TOKEN": token,
        "LABELGRAM_BOT_API_URL": url,
        "LABELGRAM_DB_PATH": str(tmp_path / "run.db"),
        "LABELGRAM_LOG_LEVEL": "DEBUG",  # the token must not reach even debug logs
        # A revoked token is refused at the next getUpdates: after 1 s, not the default 10.
        "LABELGRAM_POLL_TIMEOUT": "1",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from cli.main import main; raise SystemExit(main(['run']))",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def run_bot(tmp_path: Path, url: str) -> tuple[int, str]:
    proc = await start_bot(tmp_path, url, TOKEN)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return int(proc.returncode or 0), out.decode()


@contextmanager
def refused_port() -> Iterator[int]:
    """A port that refuses connections: bound, never listening, and held, so that no test
    running alongside (pytest-xdist) can be given it meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


async def test_a_wrong_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    async with SandboxServer() as sandbox:  # accepts only its own token
        code, out = await run_bot(tmp_path, sandbox.bot_api_url)
    assert code == 2
    assert TOKEN not in out
    assert "THIS-TOKEN" not in out
    assert "Traceback" not in out
    assert "refused the bot token" in out
    assert "@BotFather" in out


async def test_an_unreachable_bot_api_is_one_line(tmp_path: Path) -> None:
    with refused_port() as port:
        code, out = await run_bot(tmp_path, f"http://127.0.0.1:{port}/bot")
    assert code == 2
    assert "Traceback" not in out
    assert "cannot reach the Bot API" in out
    assert "LABELGRAM_BOT_API_URL" in out
    assert TOKEN not in out


async def test_a_token_revoked_while_running_stops_cleanly_in_one_line(tmp_path: Path) -> None:
    import sqlite3

    async with SandboxServer() as sandbox:
        proc = await start_bot(tmp_path, sandbox.bot_api_url, sandbox.token)
        while sandbox.calls["getUpdates"] == 0:  # noqa: ASYNC110 - a counter, not an event
            await asyncio.sleep(0.02)
        real, sandbox.token = sandbox.token, "1:REVOKED"
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 2
    assert "Traceback" not in text
    assert "refused the bot token" in text
    assert real not in text
    with sqlite3.connect(tmp_path / "run.db") as db:  # shut down: the run ended cleanly
        assert db.execute("SELECT stopped_at IS NOT NULL FROM runs").fetchone() == (1,)
