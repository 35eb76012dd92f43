"""Check media given as http(s) URLs: reachable, really media, small enough for Telegram.

Telegram fetches a URL itself when the bot sends it, with tighter limits than for uploads:
photos up to 5 MB, other files up to 20 MB (Bot API, "Sending files"). So a URL is worth a
sample only if it answers, its first bytes are what the sample claims (a photo, audio, video)
and its size is within those limits. Each URL costs one GET of its first 4 KiB
(``Range: bytes=0-4095``; a server that ignores ranges is read no further than that), the
total size coming from Content-Range or Content-Length. The URLs of a batch are checked at
once on a small thread pool, each with a timeout, so a slow host costs seconds, not minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from intake.columns import media_kind
from intake.media import family, kind_of, sniff_bytes

URL_PHOTO_MAX_BYTES = 5 * 1024 * 1024  # Telegram fetches photos by URL up to 5 MB
URL_FILE_MAX_BYTES = 20 * 1024 * 1024  # and any other file up to 20 MB
HEAD_BYTES = 4096
TIMEOUT_S = 10.0
WORKERS = 16


@dataclass(frozen=True)
class UrlCheck:
    """The verdict on one URL: the message kind to send it as, or why it was dropped."""

    kind: str | None  # None when dropped
    drop: str | None
    note: str | None = None


def check_urls(
    urls: Sequence[str],
    *,
    timeout: float = TIMEOUT_S,
    workers: int = WORKERS,
    transport: httpx.BaseTransport | None = None,
) -> list[UrlCheck]:
    """Check URLs concurrently; one verdict per URL, in order."""
    if not urls:
        return []
    with (
        httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            transport=transport,
            headers={"User-Agent": "labelgram-import/1 (media check)"},
        ) as client,
        ThreadPoolExecutor(max_workers=min(workers, len(urls))) as pool,
    ):
        return list(pool.map(lambda url: check_url(url, client), urls))


def check_url(url: str, client: httpx.Client) -> UrlCheck:
    """Fetch the first bytes of one URL and decide."""
    try:
        with client.stream("GET", url, headers={"Range": f"bytes=0-{HEAD_BYTES - 1}"}) as resp:
            if resp.status_code >= 400:
                return UrlCheck(None, f"the server answered HTTP {resp.status_code} for {url}")
            head = b""
            for chunk in resp.iter_bytes():
                head += chunk
                if len(head) >= HEAD_BYTES:
                    break
            size = _total_size(resp, len(head))
            content_type = resp.headers.get("content-type", "").split(";", 1)[0].strip()
    except httpx.HTTPError as exc:
        why = str(exc) or type(exc).__name__
        return UrlCheck(None, f"could not fetch {url} ({why}); check the address or the network")
    return decide(url, head[:HEAD_BYTES], size, content_type)


def decide(url: str, head: bytes, size: int | None, content_type: str) -> UrlCheck:
    """The verdict from what the server sent: the first bytes, the total size if known."""
    if not head:
        return UrlCheck(None, f"{url} is empty (0 bytes)")
    mime = sniff_bytes(head, at_end=size is not None and size <= len(head))
    suffix = _suffix(url)
    claimed = media_kind(url)
    if (mime is None and content_type.startswith("text/")) or mime == "text/plain":
        shown = content_type or "text"
        return UrlCheck(None, f"{url} is a {shown} page, not a media file")
    what = family(mime, suffix)
    kind = kind_of(mime, head) if mime is not None else claimed
    if what == "image":
        kind = "photo" if mime in ("image/jpeg", "image/png", "image/webp") else "document"
    note = None
    if size is not None and what == "image" and size > URL_PHOTO_MAX_BYTES:
        if size > URL_FILE_MAX_BYTES:
            return UrlCheck(None, _too_large(url, size))
        kind, note = "document", f"photo over 5 MB by URL ({_mb(size)}): sent as a document"
    elif size is not None and size > URL_FILE_MAX_BYTES:
        return UrlCheck(None, _too_large(url, size))
    if size is None:
        note = "size unknown (the server did not say): Telegram may refuse it if over 20 MB"
    return UrlCheck(kind, None, note)


def _total_size(resp: httpx.Response, got: int) -> int | None:
    """The whole file's size from Content-Range (a 206) or Content-Length (a 200)."""
    content_range = resp.headers.get("content-range", "")
    if resp.status_code == 206 and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        return int(total) if total.isdigit() else None
    length = resp.headers.get("content-length", "")
    if resp.status_code == 200 and length.isdigit():
        return int(length)
    return got if resp.status_code == 200 and got < HEAD_BYTES else None


def _suffix(url: str) -> str:
    path = urlsplit(url).path
    dot = path.rfind(".")
    return path[dot:].lower() if dot > path.rfind("/") else ""


def _too_large(url: str, size: int) -> str:
    return (
        f"{url} is {_mb(size)}, over the 20 MB Telegram fetches by URL;"
        " download it and import the file (uploads may be up to 50 MB)"
    )


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
