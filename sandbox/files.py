"""Files: uploads, ``file_id`` reuse, files given by URL, and the media objects of a Message.

A file is kept in memory with its ids and a download path. A file sent by ``http(s)`` URL is
accepted as Telegram accepts it but never fetched (no network): it gets a ``file_id`` without
``file_size``, and downloading it answers 404. A photo has one ``PhotoSize``, its dimensions read
from a PNG or JPEG header.
"""

from __future__ import annotations

import itertools
import secrets
import struct
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sandbox.wire import JSON, WRONG_FILE, ApiError, Params, Upload, bad, compact

MEDIA_KINDS = ("animation", "photo", "audio", "voice", "video", "document")
"""The media a Message can carry in the sandbox, each under its own field (an animation's
message also has a ``document``, so ``animation`` comes first)."""
_DEFAULT_MIME = {
    "animation": "video/mp4",
    "audio": "audio/mpeg",
    "voice": "audio/ogg",
    "video": "video/mp4",
    "document": "application/octet-stream",
}


@dataclass
class StoredFile:
    """A file known to the server; ``data`` is None for files sent by URL."""

    file_id: str
    file_unique_id: str
    kind: str
    file_path: str
    data: bytes | None
    mime_type: str | None = None
    file_name: str | None = None
    width: int = 1
    height: int = 1


def image_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) from a PNG or JPEG header, or (1, 1) when it cannot be read."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return (width, height) if width and height else (1, 1)
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 <= len(data) and data[i] == 0xFF:
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
                i += 2
                continue
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return (width, height) if width and height else (1, 1)
            i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return 1, 1


class FileStore:
    """The files the bot and its users sent, by file_id and by download path."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._numbers = itertools.count()

    def get(self, file_id: str) -> StoredFile | None:
        """Return the file with this file_id, if known."""
        return self._by_id.get(file_id)

    def at_path(self, file_path: str) -> StoredFile | None:
        """Return the file with this download path, if known."""
        return self._by_path.get(file_path)

    def store(
        self, kind: str, data: bytes | None, mime_type: str | None, file_name: str | None
    ) -> StoredFile:
        """Register a new file and give it ids and a download path."""
        number = next(self._numbers)
        suffix = PurePosixPath(file_name or "").suffix.lstrip(".")
        extension = "jpg" if kind == "photo" else suffix if suffix.isalnum() else "bin"
        width, height = image_size(data) if kind == "photo" and data else (1, 1)
        stored = StoredFile(
            file_id=f"SBX{kind[:2].upper()}{number:06d}{secrets.token_urlsafe(18)}",
            file_unique_id=f"SBXU{number:06d}{secrets.token_urlsafe(6)}",
            kind=kind,
            file_path=f"{kind}s/file_{number}.{extension}",
            data=data,
            mime_type=None if kind == "photo" else mime_type or _DEFAULT_MIME[kind],
            file_name=None if kind in ("photo", "voice") else file_name,
            width=width,
            height=height,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def input_file(self, kind: str, params: Params) -> StoredFile:
        """Resolve the file of a send* call: an upload, a known file_id or a URL."""
        upload = params.upload(kind)
        value = params.raw(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = params.upload(value.removeprefix("attach://"))
        if upload is not None:
            return self.uploaded(kind, upload)
        if not isinstance(value, str) or not value:
            raise bad(f"there is no {kind} in the request")
        return self.named(kind, value)

    def uploaded(self, kind: str, upload: Upload) -> StoredFile:
        """Store an uploaded file as a new file of this kind."""
        if not upload.data:
            raise bad("file must be non-empty")
        return self.store(kind, upload.data, upload.content_type, upload.filename)

    def named(self, kind: str, value: str) -> StoredFile:
        """Return the file a file_id names, or a new one for an ``http(s)`` URL."""
        if value.startswith(("http://", "https://")):
            # No network here: the file is accepted as Telegram would, but never fetched.
            name = value.split("?", 1)[0].rpartition("/")[2] or None
            return self.store(kind, None, None, name)
        stored = self._by_id.get(value)
        if stored is None:
            raise ApiError(400, WRONG_FILE)
        if stored.kind != kind:
            raise bad("type of file mismatch")
        return stored


def media_kind(message: JSON) -> str | None:
    """Return which of :data:`MEDIA_KINDS` a message carries, or None for a text message."""
    return next((kind for kind in MEDIA_KINDS if kind in message), None)


def media_fields(stored: StoredFile, params: Params) -> JSON:
    """Return the Message fields of a file: its kind's field, and for an animation a document.

    ``params`` gives duration, width, height, performer and title when the kind has them.
    """
    media = media_object(stored, params)
    if stored.kind != "animation":
        return {stored.kind: media}
    # For backward compatibility Telegram sets ``document`` too when ``animation`` is set.
    fields = ("file_id", "file_unique_id", "file_name", "mime_type", "file_size")
    return {"animation": media, "document": {k: media[k] for k in fields if k in media}}


def media_object(stored: StoredFile, params: Params) -> Any:
    """Return the Message field (PhotoSize list, Animation, Audio, Voice, Video or Document)."""
    size = len(stored.data) if stored.data is not None else None
    base: JSON = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": size,
    }
    if stored.kind == "photo":
        return [compact({**base, "width": stored.width, "height": stored.height})]
    media = {**base, "mime_type": stored.mime_type, "file_name": stored.file_name}
    if stored.kind in ("animation", "audio", "voice", "video"):
        media["duration"] = params.integer("duration") or 0
    if stored.kind == "audio":
        media.update(performer=params.text("performer"), title=params.text("title"))
    if stored.kind in ("animation", "video"):
        media.update(width=params.integer("width") or 0, height=params.integer("height") or 0)
    return compact(media)
