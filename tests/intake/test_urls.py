"""Media given as URLs: checked against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from intake.pipeline import PipelineOptions, Report, run
from intake.urls import URL_FILE_MAX_BYTES, URL_PHOTO_MAX_BYTES, check_urls

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 5000
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 5000
OPUS = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13" + b"OpusHead" + b"\x00" * 100

# path -> (status, headers, body); a Range request gets the first bytes as a 206 unless
# the entry says otherwise (as a server that ignores ranges would).
ROUTES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/cat.png": (200, {"Content-Type": "image/png"}, PNG),
    "/big.jpg": (206, {"Content-Range": f"bytes 0-4095/{URL_PHOTO_MAX_BYTES + 1}"}, JPEG),
    "/huge.mp4": (206, {"Content-Range": f"bytes 0-4095/{URL_FILE_MAX_BYTES + 1}"}, MP4),
    "/clip.mp4": (200, {"Content-Type": "video/mp4"}, MP4),
    "/page.jpg": (200, {"Content-Type": "text/html; charset=utf-8"}, b"<html>login</html>"),
    "/voice.ogg": (200, {}, OPUS),
    "/empty.png": (200, {}, b""),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        route = ROUTES.get(self.path)
        if route is None:
            self.send_error(404)
            return
        status, headers, body = route
        if status == 206:
            body = body[:4096]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_each_url_gets_a_verdict_from_its_first_bytes(server: str) -> None:
    names = ["cat.png", "big.jpg", "huge.mp4", "clip.mp4", "page.jpg", "voice.ogg", "gone.png"]
    got = check_urls([f"{server}/{n}" for n in names], timeout=5)
    verdicts = dict(zip(names, got, strict=True))
    assert (verdicts["cat.png"].kind, verdicts["cat.png"].drop) == ("photo", None)
    assert verdicts["big.jpg"].kind == "document"
    assert verdicts["big.jpg"].note is not None
    assert "sent as a document" in verdicts["big.jpg"].note
    assert verdicts["huge.mp4"].kind is None
    assert "over the 20 MB" in (verdicts["huge.mp4"].drop or "")
    assert verdicts["clip.mp4"].kind == "video"
    assert "text/html page, not a media file" in (verdicts["page.jpg"].drop or "")
    assert verdicts["voice.ogg"].kind == "voice"
    assert "HTTP 404" in (verdicts["gone.png"].drop or "")


def test_an_unreachable_host_is_dropped_with_what_to_do() -> None:
    (verdict,) = check_urls([f"http://127.0.0.1:{closed_port()}/a.png"], timeout=2)
    assert verdict.kind is None
    assert "could not fetch" in (verdict.drop or "")
    assert "check the address or the network" in (verdict.drop or "")


def test_the_pipeline_drops_bad_urls_and_sends_big_photos_as_documents(
    server: str, tmp_path: Path
) -> None:
    path = tmp_path / "media.csv"
    rows = ["id,media", *(f"{n},{server}/{n}" for n in ("cat.png", "big.jpg", "page.jpg"))]
    path.write_text("\n".join(rows) + "\n")
    report = Report(source=path.name)
    items = list(run(path, PipelineOptions(), report))
    assert [(i.ext_id, i.kind) for i in items] == [("cat.png", "photo"), ("big.jpg", "document")]
    assert report.dropped["media"].count == 1
    assert report.dropped["media"].examples[0].startswith("row 4:")
    assert report.fixed["media"].count == 1
    unchecked = list(run(path, PipelineOptions(check_urls=False), Report(source=path.name)))
    assert len(unchecked) == 3
