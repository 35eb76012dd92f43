"""--with-media: local files are copied; a file only Telegram still has is fetched through the
Bot API (getFile, then the file URL), here the sandbox's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sandbox import RateLimits, SandboxServer
from services.export import ExportOptions, export_project
from services.export_media import MediaSource
from storage.models import SampleIn
from storage.repository import Repository
from tests.conftest import make_spec
from tests.sandbox.test_sandbox_files import png


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(limits=RateLimits(global_rate=None, chat_rate=None)) as sandbox:
        yield sandbox


async def telegram_file(server: SandboxServer, data: bytes) -> tuple[str, str]:
    """A photo sent through the sandbox: its file_id and download URL."""
    async with httpx.AsyncClient(base_url=f"{server.bot_api_url}{server.token}/") as http:
        await http.post(f"{server.url}/sandbox/users", json={"id": 7, "first_name": "Ann"})
        await http.post(f"{server.url}/sandbox/users/7/messages", json={"text": "/start"})
        sent = await http.post(
            "sendPhoto", data={"chat_id": "7"}, files={"photo": ("cat.png", data, "image/png")}
        )
        file_id: str = sent.json()["result"]["photo"][0]["file_id"]
        path = (await http.post("getFile", json={"file_id": file_id})).json()["result"]
    return file_id, f"{server.file_url}{server.token}/{path['file_path']}"


async def test_media_is_copied_or_fetched_from_telegram(
    repo: Repository, server: SandboxServer, tmp_path: Path
) -> None:
    here = tmp_path / "here.png"
    here.write_bytes(png(2, 2))
    gone = tmp_path / "gone.png"
    project = await repo.create_project(make_spec())
    await repo.import_samples(
        project.id,
        [
            SampleIn(ext_id="a", kind="photo", media=str(here)),
            SampleIn(ext_id="b", kind="photo", media=str(gone)),
            SampleIn(ext_id="c", text="just text"),
        ],
    )
    remote = png(3, 1)
    row = await repo.one("SELECT id FROM samples WHERE ext_id = 'b'")
    assert row is not None
    file_id, url = await telegram_file(server, remote)
    await repo.set_file_id(int(row[0]), file_id)
    # A sample given by URL is downloaded from it (here the sandbox's file server).
    await repo.import_samples(project.id, [SampleIn(ext_id="d", kind="photo", media=url)])
    source = MediaSource(server.bot_api_url, server.file_url, server.token)
    out = tmp_path / "out"
    result = await asyncio.to_thread(
        export_project,
        repo.path,
        project.slug,
        "jsonl",
        out,
        ExportOptions(media=True, source=source),
    )
    assert result.warnings == []
    assert result.counts["media_copied"] == 1
    assert result.counts["media_from_telegram"] == 1
    assert result.counts["media_downloaded"] == 1
    assert result.counts["media_missing"] == 0
    samples = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    files = {s["id"]: s["media_file"] for s in samples}
    assert files["c"] is None
    assert (out / files["a"]).read_bytes() == png(2, 2)
    assert (out / files["b"]).read_bytes() == remote
    assert files["b"].endswith(".jpg"), "named as Telegram stores it"
    assert (out / files["d"]).read_bytes() == remote
    assert samples[1]["media"] == str(gone), "the original path is still named"
    card = (out / "README.md").read_text()
    assert "name: media_file" in card
    assert "image-classification" in card

    # Without a token the gone file cannot be had: the export says so and goes on.
    again = await asyncio.to_thread(
        export_project,
        repo.path,
        project.slug,
        "csv",
        tmp_path / "again",
        ExportOptions(media=True),
    )
    assert again.counts["media_missing"] == 1
    assert again.counts["media_downloaded"] == 1
    (warning,) = again.warnings
    assert "no media file" in warning
    assert "no bot token" in warning


async def test_a_refused_getfile_names_no_token(
    repo: Repository, server: SandboxServer, tmp_path: Path
) -> None:
    project = await repo.create_project(make_spec())
    await repo.import_samples(
        project.id, [SampleIn(ext_id="a", kind="photo", media=str(tmp_path / "gone.png"))]
    )
    row = await repo.one("SELECT id FROM samples")
    assert row is not None
    await repo.set_file_id(int(row[0]), "NOT-A-FILE-ID")
    source = MediaSource(server.bot_api_url, server.file_url, server.token)
    result = await asyncio.to_thread(
        export_project,
        repo.path,
        project.slug,
        "jsonl",
        tmp_path / "out",
        ExportOptions(media=True, source=source),
    )
    (warning,) = result.warnings
    assert "Telegram refused getFile" in warning
    assert server.token not in warning


def test_a_network_error_naming_the_url_names_no_token(tmp_path: Path) -> None:
    from services.export_media import MediaFetcher

    token = "123:SECRET-token"
    fetcher = MediaFetcher(
        tmp_path, MediaSource("http://127.0.0.1:9/bot", "http://x/file/bot", token)
    )

    class Refusing(httpx.Client):
        def post(self, url: object, **kwargs: object) -> httpx.Response:
            raise httpx.ConnectError(f"cannot reach {url}")

    fetcher._client = Refusing()
    assert fetcher.fetch(1, "photo", None, "FILE-ID") is None
    (warning,) = fetcher.problems
    assert "cannot reach" in warning
    assert token not in warning
    fetcher.close()
