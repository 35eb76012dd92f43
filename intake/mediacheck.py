"""What a media check says: the verdict on one file, or the error for a source that cannot be used.

Shared by `intake.media` (the verdict), `intake.images` (photos converted or refused) and
`intake.mediafiles` (folders and zips).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class MediaError(Exception):
    """The media source as a whole cannot be used (not a folder or zip, a bad or unsafe zip).

    A refusal for a limit also has a `code` and its `params` (as `intake.archive` gives them),
    so the bot can say the same in the user's language; `code` is None for the other errors.
    """

    def __init__(self, message: str, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class MediaCheck:
    """The verdict on one media file: what to send and how, or why it was dropped."""

    path: Path | None  # the file to send (maybe a converted copy in out_dir); None when dropped
    kind: str | None  # "photo" | "audio" | "voice" | "video" | "document"; None when dropped
    mime: str | None  # from the contents
    drop: str | None  # why the file was dropped
    note: str | None  # what was changed or is worth knowing


def dropped(reason: str, mime: str | None = None) -> MediaCheck:
    """The verdict for a file that is not sent, and why."""
    return MediaCheck(None, None, mime, reason, None)


def in_mb(size: int) -> str:
    """A size in bytes as a user reads it in a reason: "12.3 MB"."""
    return f"{size / (1024 * 1024):.1f} MB"
