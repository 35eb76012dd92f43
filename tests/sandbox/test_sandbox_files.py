"""Uploads, file_id reuse, getFile and downloads in the sandbox."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox import RateLimits, SandboxServer
from tests.tls import http_client


def png(width: int, height: int) -> bytes:
    """Return a real (black) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def jpeg_header(width: int, height: int) -> bytes:
    """Return the start of a JPEG file: SOI, a JFIF APP0 segment and a baseline SOF0 segment."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x00" * 9
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(limits=RateLimits(global_rate=None, chat_rate=None)) as sandbox:
        yield sandbox


@pytest.fixture
async def http(server: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(base_url=f"{server.bot_api_url}{server.token}/") as client:
        await client.post(f"{server.url}/sandbox/users", json={"id": 7, "first_name": "Ann"})
        await client.post(f"{server.url}/sandbox/users/7/messages", json={"text": "/start"})
        yield client


async def upload(
    http: httpx.AsyncClient,
    method: str,
    field: str,
    name: str,
    data: bytes,
    mime: str,
    **extra: str,
) -> dict[str, Any]:
    files = {field: (name, data, mime)}
    response = await http.post(method, data={"chat_id": "7", **extra}, files=files)
    body: dict[str, Any] = response.json()
    return body


async def test_photo_upload_reuse_and_download(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    image = png(3, 2)
    sent = await upload(http, "sendPhoto", "photo", "cat.png", image, "image/png", caption="A cat")
    message = sent["result"]
    assert message["caption"] == "A cat"
    (size,) = message["photo"]
    assert (size["width"], size["height"], size["file_size"]) == (3, 2, len(image))

    again = (await http.post("sendPhoto", json={"chat_id": 7, "photo": size["file_id"]})).json()
    assert again["result"]["photo"][0]["file_unique_id"] == size["file_unique_id"]
    assert again["result"]["message_id"] == message["message_id"] + 1

    file = (await http.post("getFile", json={"file_id": size["file_id"]})).json()["result"]
    assert file["file_size"] == len(image)
    async with http_client() as downloader:
        download = await downloader.get(f"{server.file_url}{server.token}/{file['file_path']}")
        assert download.content == image
        denied = await downloader.get(f"{server.file_url}1:WRONG/{file['file_path']}")
        assert denied.status_code == 401


async def test_jpeg_dimensions_are_read(http: httpx.AsyncClient) -> None:
    sent = await upload(http, "sendPhoto", "photo", "x.jpg", jpeg_header(640, 480), "image/jpeg")
    size = sent["result"]["photo"][0]
    assert (size["width"], size["height"]) == (640, 480)
    unknown = await upload(http, "sendPhoto", "photo", "x.gif", b"GIF89a...", "image/gif")
    size = unknown["result"]["photo"][0]
    assert (size["width"], size["height"]) == (1, 1)


async def test_other_media_kinds(http: httpx.AsyncClient) -> None:
    document = await upload(
        http, "sendDocument", "document", "data.csv", b"a,b\n1,2\n", "text/csv"
    )
    assert document["result"]["document"]["file_name"] == "data.csv"
    assert document["result"]["document"]["mime_type"] == "text/csv"
    assert document["result"]["document"]["file_size"] == 8

    voice = await upload(http, "sendVoice", "voice", "v.ogg", b"OggS", "audio/ogg", duration="3")
    assert voice["result"]["voice"]["duration"] == 3
    audio = await upload(http, "sendAudio", "audio", "s.mp3", b"ID3", "audio/mpeg", title="Song")
    assert audio["result"]["audio"]["title"] == "Song"
    assert audio["result"]["audio"]["file_name"] == "s.mp3"
    video = await upload(http, "sendVideo", "video", "v.mp4", b"mp4", "video/mp4", width="320")
    assert video["result"]["video"]["width"] == 320


async def test_file_errors(http: httpx.AsyncClient, server: SandboxServer) -> None:
    unknown = (await http.post("sendPhoto", json={"chat_id": 7, "photo": "NOPE"})).json()
    assert unknown["description"] == "Bad Request: wrong file identifier/HTTP URL specified"
    missing = (await http.post("getFile", json={"file_id": "NOPE"})).json()
    assert missing["description"] == "Bad Request: wrong file identifier/HTTP URL specified"

    photo = await upload(http, "sendPhoto", "photo", "cat.png", png(1, 1), "image/png")
    file_id = photo["result"]["photo"][0]["file_id"]
    mismatch = (await http.post("sendDocument", json={"chat_id": 7, "document": file_id})).json()
    assert mismatch["description"] == "Bad Request: type of file mismatch"
    nothing = (await http.post("sendPhoto", json={"chat_id": 7})).json()
    assert nothing["description"] == "Bad Request: there is no photo in the request"


async def test_url_files_are_not_downloaded(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    url = "https://example.com/pictures/cat.jpg"
    sent = (await http.post("sendPhoto", json={"chat_id": 7, "photo": url})).json()
    size = sent["result"]["photo"][0]
    assert "file_size" not in size
    file = (await http.post("getFile", json={"file_id": size["file_id"]})).json()["result"]
    async with http_client() as downloader:
        download = await downloader.get(f"{server.file_url}{server.token}/{file['file_path']}")
    assert download.status_code == 404
