"""Tell what a media file is from its first bytes, not its name, and how Telegram sends it.

`sniff()` reads the magic numbers of the image, audio and video formats a labelling job meets
(and tells plain text from binary); `kind_of()` picks the message kind (an Ogg Opus file is a
voice message); `family()` and `mismatch_note()` word what a file is, or claims to be, for the
report.
"""

from __future__ import annotations

import codecs
from pathlib import Path

SNIFF_BYTES = 4096
_AUDIO_MIMES = ("audio/mpeg", "audio/flac", "audio/wav", "audio/mp4")
_VIDEO_MIMES = ("video/mp4", "video/quicktime", "video/webm", "video/x-matroska")

_MIME_BY_SUFFIX = {
    **dict.fromkeys((".jpg", ".jpeg", ".jpe", ".jfif"), "image/jpeg"),
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    **dict.fromkeys((".tif", ".tiff"), "image/tiff"),
    **dict.fromkeys((".heic", ".heif"), "image/heic"),
    ".avif": "image/avif",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    **dict.fromkeys((".ogg", ".oga", ".opus"), "audio/ogg"),
    ".aac": "audio/aac",
    **dict.fromkeys((".mp4", ".m4v"), "video/mp4"),
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".3gp": "video/3gpp",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
}

MIME_LABELS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/heic": "HEIC",
    "image/heif": "HEIF",
    "image/avif": "AVIF",
    "audio/mpeg": "MP3",
    "audio/ogg": "Ogg audio",
    "audio/wav": "WAV",
    "audio/flac": "FLAC",
    "audio/mp4": "M4A audio",
    "audio/aac": "AAC",
    "video/mp4": "MP4 video",
    "video/quicktime": "QuickTime video",
    "video/webm": "WebM video",
    "video/x-matroska": "Matroska video",
    "video/x-msvideo": "AVI video",
    "video/3gpp": "3GP video",
    "application/pdf": "PDF",
    "application/zip": "ZIP",
    "text/plain": "text",
}

_M4A_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ")
_HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx")
_HEIF_BRANDS = (b"mif1", b"msf1", b"heif")
_AVIF_BRANDS = (b"avif", b"avis")


def sniff(path: Path) -> str | None:
    """The MIME type of a file from its first bytes; None when empty or unrecognised."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
        at_end = not handle.read(1)
    return sniff_bytes(head, at_end=at_end)


def sniff_bytes(head: bytes, *, at_end: bool) -> str | None:
    """The MIME type of contents from their first bytes (at_end: that is all of them)."""
    mime = _magic(head)
    if mime is not None or not head:
        return mime
    if b"\x00" in head:
        return None
    try:
        # An incremental decoder accepts a character cut in half at the end of the block.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=at_end)
    except UnicodeDecodeError:
        return None
    return "text/plain"


def _magic(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(
            head[8:12]
        )
    # "BM" alone is too weak (text can start with it): the two reserved fields are zero.
    if head.startswith(b"BM") and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "application/zip"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if _ebml_doctype(head) == b"webm" else "video/x-matroska"
    if head[4:8] == b"ftyp":
        return _ftyp_mime(head)
    return _frame_sync_mime(head)


def _frame_sync_mime(head: bytes) -> str | None:
    """MP3 without an ID3 tag starts with an MPEG audio frame; AAC (ADTS) looks alike."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    if head[1] & 0x06 == 0:  # layer bits 00: not MPEG audio but an ADTS (AAC) header
        return "audio/aac" if head[1] & 0xF6 == 0xF0 else None
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x03
    if head[1] & 0x18 == 0x08 or bitrate == 0x0F or rate == 0x03:  # reserved values
        return None
    return "audio/mpeg"


def _ebml_doctype(head: bytes) -> bytes | None:
    at = head.find(b"\x42\x82", 4)
    if at < 0 or at + 3 > len(head) or not head[at + 2] & 0x80:
        return None
    length = head[at + 2] & 0x7F
    return head[at + 3 : at + 3 + length]


def _ftyp_mime(head: bytes) -> str:
    """Tell ISO media files apart by their brands: M4A audio, QuickTime, HEIC/AVIF, MP4."""
    box = int.from_bytes(head[0:4], "big")
    end = min(len(head), max(box, 16))
    brands = [head[8:12], *(head[i : i + 4] for i in range(16, end - 3, 4))]
    major = brands[0]
    if major == b"qt  ":
        return "video/quicktime"
    if major in _HEIC_BRANDS:
        return "image/heic"
    if major in _AVIF_BRANDS:
        return "image/avif"
    if major in _HEIF_BRANDS:
        return "image/heif"
    if major.startswith((b"3gp", b"3g2")):
        return "video/3gpp"
    if any(brand in _M4A_BRANDS for brand in brands):
        return "audio/mp4"
    return "video/mp4"


def kind_of(mime: str, head: bytes) -> str:
    """The Telegram message kind for contents of this MIME type, given their first bytes."""
    if mime == "audio/ogg":
        return "voice" if _is_opus(head) else "audio"
    if mime in _AUDIO_MIMES:
        return "audio"
    if mime in _VIDEO_MIMES:
        return "video"
    return "document"


def _is_opus(head: bytes) -> bool:
    """The first Ogg page carries the codec header; OpusHead means Opus (Telegram's voice)."""
    if len(head) < 27:
        return False
    return head[27 + head[26] :].startswith(b"OpusHead")


def family(mime: str | None, suffix: str) -> str:
    """A word for what the file is (or claims to be): image, audio, video or file."""
    claimed = mime or _MIME_BY_SUFFIX.get(suffix, "")
    top = claimed.split("/", 1)[0]
    return top if top in ("image", "audio", "video") else "file"


def mismatch_note(mime: str | None, suffix: str) -> str | None:
    """A note when the contents are not what the extension says, else None."""
    expected = _MIME_BY_SUFFIX.get(suffix)
    if mime is None or expected is None or expected == mime:
        return None
    return f"extension {suffix} but contents are {MIME_LABELS.get(mime, mime)}"
