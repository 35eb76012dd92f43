"""Check media files before they are sent to Telegram: real type, integrity and size limits.

A file's type comes from its first bytes, not its name. Images are opened with Pillow, so a
truncated or corrupt one is dropped here rather than failing in front of a labeller; photos
outside Telegram's limits are downscaled into an output folder or sent as documents, and the
result says which. Sources are a folder or a .zip, extracted without letting a member escape
the target folder. Local files only: URLs are fetched (or not) by the caller.

This module decides per file (`check_media`); the work is done in `intake.sniffing` (the type
from the contents), `intake.images` (Pillow checks, downscaling, and the photo limits) and
`intake.mediafiles` (folders and zips), with the verdict types in `intake.mediacheck`.
"""

from __future__ import annotations

from pathlib import Path

from intake.images import check_image
from intake.mediacheck import MediaCheck, MediaError, dropped, in_mb
from intake.mediafiles import ZipLimits, iter_media_files
from intake.sniffing import SNIFF_BYTES, family, kind_of, mismatch_note, sniff, sniff_bytes

__all__ = [
    "UPLOAD_MAX_BYTES",
    "MediaCheck",
    "MediaError",
    "ZipLimits",
    "check_media",
    "family",
    "iter_media_files",
    "kind_of",
    "sniff",
    "sniff_bytes",
]

UPLOAD_MAX_BYTES = 50 * 1024 * 1024  # bots upload audio/video/documents up to 50 MB
_A_FAMILY = {"image": "an image", "audio": "audio", "video": "a video"}


def check_media(path: Path, *, out_dir: Path, downscale: bool = True) -> MediaCheck:
    """Decide how one file goes to Telegram, converting a photo into out_dir when needed."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return dropped("file not found")
    except OSError as exc:
        return dropped(f"cannot read the file ({exc.strerror})")
    if not path.is_file():
        return dropped("not a regular file")
    if stat.st_size == 0:
        return dropped("empty file (0 bytes)")
    try:
        mime = sniff(path)
    except OSError as exc:
        return dropped(f"cannot read the file ({exc.strerror})")
    suffix = path.suffix.lower()
    if stat.st_size > UPLOAD_MAX_BYTES:
        return dropped(f"{family(mime, suffix)} over 50 MB ({in_mb(stat.st_size)})", mime)
    claimed = family(None, suffix)
    if mime == "text/plain" and claimed in _A_FAMILY:
        return dropped(f"contents are text, not {_A_FAMILY[claimed]} (extension {suffix})", mime)
    mismatch = mismatch_note(mime, suffix)
    if (mime is not None and mime.startswith("image/")) or (mime is None and claimed == "image"):
        return check_image(path, stat.st_size, mime, mismatch, out_dir, downscale=downscale)
    if mime is None:
        return MediaCheck(path, "document", None, None, "unknown type")
    return MediaCheck(path, _kind(path, mime), mime, None, mismatch)


def _kind(path: Path, mime: str) -> str:
    with path.open("rb") as handle:
        return kind_of(mime, handle.read(SNIFF_BYTES))
