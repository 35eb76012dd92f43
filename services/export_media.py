"""An export's media: each sample's file written into the export folder.

A sample names its media by path or URL; once sent, Telegram also knows it by a file_id,
which means nothing outside this bot. So the file is taken from where it still is: the local
file if it is there, else Telegram (getFile, then the file URL) when only a file_id is left,
else the URL it came from. A file that cannot be had is named in the export's warnings, and
the sample's `media_file` stays empty; the export goes on.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

MEDIA_DIR = "media"
_TIMEOUT = 30.0
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_WARNINGS = 20  # named one by one; the count says the rest


@dataclass(frozen=True)
class MediaSource:
    """Where Telegram's files are: the Bot API and file URLs (`Settings`) and the token."""

    bot_api_url: str  # up to and including "/bot"
    file_url: str  # up to and including "/file/bot"
    token: str


class MediaFetcher:
    """Writes samples' media into `<folder>/media/`, one file per sample (blocking)."""

    def __init__(self, folder: Path, source: MediaSource | None) -> None:
        """Files go to `folder`/media; `source`: the Bot API, or None (no Telegram fetches)."""
        self.folder = folder
        self.dir = folder / MEDIA_DIR
        self.source = source
        self.copied = self.downloaded = self.from_telegram = self.missing = 0
        self.problems: list[str] = []
        self._client: httpx.Client | None = None

    def counts(self) -> dict[str, int]:
        """How each sample's media was had (and how many could not be)."""
        self.close()
        return {
            "media_copied": self.copied,
            "media_downloaded": self.downloaded,
            "media_from_telegram": self.from_telegram,
            "media_missing": self.missing,
        }

    def close(self) -> None:
        """Close the HTTP client, if one was opened."""
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def client(self) -> httpx.Client:
        """One HTTP client for the whole export (connections are reused)."""
        if self._client is None:
            self._client = httpx.Client(timeout=_TIMEOUT, follow_redirects=True)
        return self._client

    def fetch(
        self, sample_id: int, kind: str, media: str | None, file_id: str | None
    ) -> str | None:
        """The sample's media as a path relative to the export folder, or None (no media, or
        none to be had: then a warning says why)."""
        if media is None and file_id is None:
            return None
        self.dir.mkdir(parents=True, exist_ok=True)
        base = f"{sample_id}"
        try:
            if media and not media.startswith(("http://", "https://")) and Path(media).is_file():
                target = self.dir / f"{base}{_suffix(media)}"
                shutil.copyfile(media, target)
                self.copied += 1
                return self._relative(target)
            if file_id and self.source is not None:
                target = self._from_telegram(base, file_id)
                self.from_telegram += 1
                return self._relative(target)
            if media and media.startswith(("http://", "https://")):
                target = self.dir / f"{base}{_suffix(media.split('?', 1)[0])}"
                self._download(media, target)
                self.downloaded += 1
                return self._relative(target)
            why = "the file is gone and no bot token was given to fetch it from Telegram"
        except (OSError, httpx.HTTPError, ValueError) as exc:
            why = str(exc) or type(exc).__name__
            if self.source is not None and self.source.token:  # an HTTP error names its URL,
                why = why.replace(self.source.token, "<token>")  # and Telegram's holds it
        self.missing += 1
        if len(self.problems) < _MAX_WARNINGS:
            self.problems.append(f"sample {sample_id} ({kind}): no media file: {why}")
        return None

    def _relative(self, target: Path) -> str:
        return target.relative_to(self.folder).as_posix()

    def _from_telegram(self, base: str, file_id: str) -> Path:
        """getFile, then the file URL: what a bot does to download what it was sent."""
        assert self.source is not None
        source = self.source
        reply = self.client.post(
            f"{source.bot_api_url}{source.token}/getFile", data={"file_id": file_id}
        )
        body = reply.json()
        if not body.get("ok"):
            # Telegram's description, never the URL: the URL holds the token.
            raise ValueError(
                f"Telegram refused getFile: {body.get('description', reply.status_code)}"
            )
        file_path = str(body["result"]["file_path"])
        target = self.dir / f"{base}{_suffix(file_path)}"
        self._download(f"{source.file_url}{source.token}/{file_path}", target, secret=source.token)
        return target

    def _download(self, url: str, target: Path, secret: str | None = None) -> None:
        tmp = target.with_name(f".{target.name}.part")
        try:
            with self.client.stream("GET", url) as reply:
                if reply.status_code != 200:
                    shown = url.replace(secret, "<token>") if secret else url
                    raise ValueError(f"HTTP {reply.status_code} for {shown}")
                with tmp.open("wb") as fh:
                    for chunk in reply.iter_bytes():
                        fh.write(chunk)
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _suffix(name: str) -> str:
    """A safe file suffix from a path or URL ('' if it has none)."""
    suffix = PurePosixPath(name).suffix
    return _SAFE.sub("", suffix)[:10] if suffix else ""
