"""Check media files before they are sent to Telegram: real type, integrity and size limits.

A file's type comes from its first bytes, not its name. Images are opened with Pillow, so a
truncated or corrupt one is dropped here rather than failing in front of a labeller; photos
outside Telegram's limits are downscaled into an output folder or sent as documents, and the
result says which. Sources are a folder or a .zip, extracted without letting a member escape
the target folder. Local files only: URLs are fetched (or not) by the caller.
"""

from __future__ import annotations

import codecs
import hashlib
import math
import os
import struct
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

from PIL import Image, UnidentifiedImageError

PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDES_SUM = 10_000  # Telegram: width + height must not exceed 10000
PHOTO_MAX_RATIO = 20  # Telegram: aspect ratio at most 20
UPLOAD_MAX_BYTES = 50 * 1024 * 1024  # bots upload audio/video/documents up to 50 MB

SNIFF_BYTES = 4096
_COPY_CHUNK = 1024 * 1024
JPEG_QUALITY = 90
_DOWNSCALE_ATTEMPTS = 8

_PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")  # what sendPhoto takes as it is
_AUDIO_MIMES = ("audio/mpeg", "audio/flac", "audio/wav", "audio/mp4")
_VIDEO_MIMES = ("video/mp4", "video/quicktime", "video/webm", "video/x-matroska")
_SKIPPED_NAMES = ("__MACOSX", "Thumbs.db", "desktop.ini")
_A_FAMILY = {"image": "an image", "audio": "audio", "video": "a video"}

# Pillow reports malformed input through several exception types, depending on the plugin
# and on where in the file the damage is.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)

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

_LABELS = {
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

# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


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
class ZipLimits:
    """What a .zip of media may unpack to; anything beyond is refused before extraction.

    The defaults leave room for any real labeling batch (Telegram itself caps photos at 10 MB
    and uploads at 50 MB) while stopping a "zip bomb": a small archive that would fill the
    disk. Media barely compresses, so a large member that shrank more than `max_ratio` times
    is not a photo or a recording.
    """

    max_total_bytes: int = 2 * 1024**3
    max_members: int = 100_000
    max_ratio: float = 100.0
    ratio_min_bytes: int = 10 * 1024 * 1024  # smaller members may compress as they like


@dataclass(frozen=True)
class MediaCheck:
    """The verdict on one media file: what to send and how, or why it was dropped."""

    path: Path | None  # the file to send (maybe a converted copy in out_dir); None when dropped
    kind: str | None  # "photo" | "audio" | "voice" | "video" | "document"; None when dropped
    mime: str | None  # from the contents
    drop: str | None  # why the file was dropped
    note: str | None  # what was changed or is worth knowing


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


def check_media(path: Path, *, out_dir: Path, downscale: bool = True) -> MediaCheck:
    """Decide how one file goes to Telegram, converting a photo into out_dir when needed."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return _dropped("file not found")
    except OSError as exc:
        return _dropped(f"cannot read the file ({exc.strerror})")
    if not path.is_file():
        return _dropped("not a regular file")
    if stat.st_size == 0:
        return _dropped("empty file (0 bytes)")
    try:
        mime = sniff(path)
    except OSError as exc:
        return _dropped(f"cannot read the file ({exc.strerror})")
    suffix = path.suffix.lower()
    if stat.st_size > UPLOAD_MAX_BYTES:
        return _dropped(f"{family(mime, suffix)} over 50 MB ({_mb(stat.st_size)})", mime)
    claimed = family(None, suffix)
    if mime == "text/plain" and claimed in _A_FAMILY:
        return _dropped(f"contents are text, not {_A_FAMILY[claimed]} (extension {suffix})", mime)
    mismatch = _mismatch_note(mime, suffix)
    if (mime is not None and mime.startswith("image/")) or (mime is None and claimed == "image"):
        return _check_image(path, stat.st_size, mime, mismatch, out_dir, downscale=downscale)
    if mime is None:
        return MediaCheck(path, "document", None, None, "unknown type")
    return MediaCheck(path, _kind(path, mime), mime, None, mismatch)


def _kind(path: Path, mime: str) -> str:
    with path.open("rb") as handle:
        return kind_of(mime, handle.read(SNIFF_BYTES))


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


def _mismatch_note(mime: str | None, suffix: str) -> str | None:
    expected = _MIME_BY_SUFFIX.get(suffix)
    if mime is None or expected is None or expected == mime:
        return None
    return f"extension {suffix} but contents are {_LABELS.get(mime, mime)}"


def _check_image(
    path: Path,
    size: int,
    mime: str | None,
    mismatch: str | None,
    out_dir: Path,
    *,
    downscale: bool,
) -> MediaCheck:
    """Open, verify and size up an image, then pick photo, converted photo or document."""
    try:
        # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that. Following it, the
        # warning band (large camera photos, ~90-180 Mpx by default) is still processed and
        # downscaled; only the refusal drops the file. The warning must not leak: callers
        # (and the tests) may turn warnings into errors.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return _decide_image(path, size, mime, mismatch, out_dir, downscale=downscale)
    except Image.DecompressionBombError as exc:
        return _dropped(
            f"image too large to decode safely (decompression bomb check: {exc})", mime
        )
    except UnidentifiedImageError:
        if mime is None:
            return _dropped(f"contents are not an image (extension {path.suffix.lower()})")
        if mime in ("image/heic", "image/heif"):
            # Pillow needs a plugin for these; not being able to read them is not damage.
            note = f"{_LABELS[mime]} image sent as a document (it cannot be checked or converted)"
            return MediaCheck(
                path, "document", mime, None, "; ".join(filter(None, [mismatch, note]))
            )
        return _dropped(f"corrupt image: Pillow cannot read this {_LABELS.get(mime, mime)}", mime)
    except _DECODE_ERRORS as exc:
        return _dropped(f"corrupt image: {exc}", mime)


def _decide_image(
    path: Path,
    size: int,
    mime: str | None,
    mismatch: str | None,
    out_dir: Path,
    *,
    downscale: bool,
) -> MediaCheck:
    with Image.open(path) as probe:
        probe.verify()  # checks what it can without decoding (PNG chunk CRCs, for instance)
    with Image.open(path) as img:
        fmt = img.format or ""
        mime = Image.MIME.get(fmt, mime)
        label = _LABELS.get(mime or "", fmt)
        width, height = img.size
        if min(width, height) < 1:
            return _dropped(f"corrupt image: {width}x{height} pixels", mime)
        notes = [mismatch] if mismatch else []

        def send(
            kind: str, note: str | None = None, sent: Path = path, sent_mime: str | None = mime
        ) -> MediaCheck:
            text = "; ".join([*notes, *filter(None, [note])]) or None
            return MediaCheck(sent, kind, sent_mime, None, text)

        if fmt == "GIF":
            img.load()
            return send("document", "GIF sent as a document (as a photo it would lose animation)")
        ratio = max(width, height) / min(width, height)
        if ratio > PHOTO_MAX_RATIO:
            img.load()
            return send(
                "document",
                f"sent as a document: aspect ratio {_ratio(ratio)}:1 exceeds Telegram's "
                f"{PHOTO_MAX_RATIO}:1",
            )
        problems = []
        if width + height > PHOTO_MAX_SIDES_SUM:
            problems.append(
                f"{width}x{height} exceeds Telegram's photo limit "
                f"(width + height <= {PHOTO_MAX_SIDES_SUM})"
            )
        if size > PHOTO_MAX_BYTES:
            problems.append(f"{_mb(size)} exceeds Telegram's 10 MB photo limit")
        if fmt not in _PHOTO_FORMATS:
            problems.append(f"Telegram photos are JPEG, PNG or WebP, this is {label}")
        if not problems:
            img.load()  # decodes everything: the only way to notice a truncated JPEG
            return send("photo")
        if not downscale:
            img.load()
            return send("document", "sent as a document: " + "; ".join(problems))
        made = _reencode(img, path, size, out_dir, convert=fmt not in _PHOTO_FORMATS, label=label)
        if made is None:
            return send("document", "sent as a document: could not bring it within photo limits")
        sent, note = made
        return send("photo", note, sent, "image/png" if sent.suffix == ".png" else "image/jpeg")


def _reencode(
    img: Image.Image, source: Path, size: int, out_dir: Path, *, convert: bool, label: str
) -> tuple[Path, str] | None:
    """Write a copy within Telegram's photo limits into out_dir; None if none fits."""
    width, height = img.size
    alpha = _has_alpha(img)
    scale = min(1.0, PHOTO_MAX_SIDES_SUM / (width + height))
    target = _scaled(width, height, scale)
    if target != (width, height):
        img.draft(None, target)  # JPEG decodes at 1/2, 1/4, 1/8 scale: far less memory
    orientation = img.getexif().get(0x0112)
    img.load()
    # A converted image keeps its pixels losslessly (PNG) when that fits; JPEG otherwise.
    out_format = "PNG" if alpha or (convert and target == (width, height)) else "JPEG"
    for _ in range(_DOWNSCALE_ATTEMPTS):
        shown = img if img.size == target else img.resize(target, Image.Resampling.LANCZOS)
        if orientation in _ORIENTATION:
            # Re-encoding drops EXIF, so the rotation it asked for is applied to the pixels.
            shown = shown.transpose(_ORIENTATION[orientation])
        dest = _write(shown, source, out_dir, out_format)
        written = dest.stat().st_size
        if written <= PHOTO_MAX_BYTES:
            return dest, _reencode_note(
                (width, height), shown.size, orientation, size, written, out_format, convert, label
            )
        if out_format == "PNG" and not alpha:
            out_format = "JPEG"
            continue
        scale *= min(0.9, math.sqrt(PHOTO_MAX_BYTES / written) * 0.95)
        target = _scaled(width, height, scale)
    return None


def _reencode_note(
    before: tuple[int, int],
    after: tuple[int, int],
    orientation: int | None,
    size: int,
    written: int,
    out_format: str,
    convert: bool,
    label: str,
) -> str:
    if orientation in (5, 6, 7, 8):  # rotated a quarter turn: report both sizes upright
        before = (before[1], before[0])
    parts = []
    if convert:
        parts.append(f"converted {label} to {out_format} (Telegram photos are JPEG, PNG or WebP)")
    if before != after:
        parts.append(
            f"downscaled {before[0]}x{before[1]} -> {after[0]}x{after[1]} "
            "to fit Telegram's photo limits"
        )
    elif not convert:
        parts.append(
            f"re-encoded as {out_format} ({_mb(size)} -> {_mb(written)}) "
            "to fit Telegram's 10 MB photo limit"
        )
    return "; ".join(parts)


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    new = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
    while new[0] + new[1] > PHOTO_MAX_SIDES_SUM:  # floating point can land one pixel over
        new = (max(1, new[0] - 1), new[1]) if new[0] >= new[1] else (new[0], max(1, new[1] - 1))
    return new


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info
    )


def _write(img: Image.Image, source: Path, out_dir: Path, out_format: str) -> Path:
    """Save under a name derived from the source path, via a temporary file and a rename."""
    digest = hashlib.sha1(str(source.resolve()).encode(), usedforsecurity=False).hexdigest()
    dest = out_dir / f"{digest[:20]}{'.png' if out_format == 'PNG' else '.jpg'}"
    tmp = dest.with_name(f".{dest.name}.tmp")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if out_format == "JPEG":
            rgb = img if img.mode in ("RGB", "L") else img.convert("RGB")
            rgb.save(tmp, "JPEG", quality=JPEG_QUALITY, optimize=True)
        else:
            if img.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
                img = img.convert("RGBA" if _has_alpha(img) else "RGB")
            img.save(tmp, "PNG")
        tmp.replace(dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"cannot write a converted image to {out_dir}: {exc}") from exc
    return dest


def _dropped(reason: str, mime: str | None = None) -> MediaCheck:
    return MediaCheck(None, None, mime, reason, None)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _size(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    return _mb(size) if size >= 1024 * 1024 else f"{size:,} bytes"


def _ratio(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 100 or ratio == int(ratio) else f"{ratio:.1f}"


def iter_media_files(
    source: Path, *, extract_dir: Path, limits: ZipLimits | None = None
) -> Iterator[Path]:
    """The files of a folder or a .zip (extracted into extract_dir), in a stable order.

    Hidden files and folders, __MACOSX and Thumbs.db/desktop.ini are skipped. A zip is
    checked in full before anything is written (paths, encryption, and the sizes it declares
    against `limits`, default `ZipLimits()`), so an unsafe or broken one raises MediaError at
    the call and leaves extract_dir untouched. A member that unpacks to more than it declared
    is cut off there and raises MediaError.
    """
    if source.is_dir():
        return _walk(source)
    if not source.exists():
        raise MediaError(f"{source}: not found")
    if not source.is_file() or not zipfile.is_zipfile(source):
        if source.suffix.lower() == ".zip":
            raise MediaError(f"{source.name}: not a valid zip file")
        raise MediaError(f"{source.name}: give a folder or a .zip of media files")
    return iter(_extract(source, extract_dir, limits or ZipLimits()))


def _skipped(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part in _SKIPPED_NAMES for part in parts)


def _walk(folder: Path) -> Iterator[Path]:
    found: list[tuple[tuple[str, ...], Path]] = []
    # os.walk does not follow symlinked folders, so a link loop cannot make this endless.
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not _skipped((d,))]
        for name in files:
            path = Path(root, name)
            rel = path.relative_to(folder).parts
            if not _skipped(rel) and path.is_file():
                found.append((rel, path))
    found.sort()
    return (path for _, path in found)


def _extract(archive: Path, extract_dir: Path, limits: ZipLimits) -> list[Path]:
    try:
        with zipfile.ZipFile(archive) as zf:
            entries = zf.infolist()
            if len(entries) > limits.max_members:
                raise MediaError(
                    f"{archive.name}: has {len(entries):,} entries, more than the "
                    f"{limits.max_members:,} allowed in one zip; split it into smaller zips",
                    "zip_entries",
                    file=archive.name,
                    count=len(entries),
                    limit=limits.max_members,
                )
            members: dict[tuple[str, ...], zipfile.ZipInfo] = {}
            for info in entries:
                rel = _safe_member(info.filename, archive)
                if info.is_dir() or not rel or _skipped(rel):
                    continue
                if info.flag_bits & 0x1:
                    raise MediaError(f"{archive.name}: '{info.filename}' is encrypted")
                members[rel] = info  # a repeated name: the later entry wins, as in unzip
            _check_sizes(archive, members.values(), limits)
            root = extract_dir.resolve()
            targets = {rel: extract_dir.joinpath(*rel) for rel in members}
            for rel, target in targets.items():
                # Belt and braces: also catches a symlink already in extract_dir.
                if not target.resolve().is_relative_to(root):
                    raise MediaError(f"{archive.name}: '{'/'.join(rel)}' escapes the folder")
            written: list[Path] = []
            try:
                for rel in sorted(members):
                    target = targets[rel]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _unpack(zf, members[rel], target, archive)
                    written.append(target)
            except BaseException:
                # All or nothing: a refused zip leaves no half of its media on the disk.
                for path in written:
                    path.unlink(missing_ok=True)
                raise
    except zipfile.BadZipFile as exc:
        raise MediaError(f"{archive.name}: damaged zip ({exc})") from exc
    except NotImplementedError as exc:  # e.g. an unsupported compression method
        raise MediaError(f"{archive.name}: cannot unpack ({exc})") from exc
    return [targets[rel] for rel in sorted(members)]


def _check_sizes(archive: Path, members: Iterable[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Refuse a zip whose declared sizes look like a zip bomb (nothing is written yet)."""
    total = 0
    for info in members:
        total += info.file_size
        # A stored (uncompressed) empty member has compress_size 0: only big members count.
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_min_bytes and ratio > limits.max_ratio:
            raise MediaError(
                f"{archive.name}: '{info.filename}' would unpack to {_mb(info.file_size)} from "
                f"{info.compress_size:,} bytes ({ratio:,.0f} times smaller zipped; the limit is "
                f"{limits.max_ratio:,.0f} for members over {_mb(limits.ratio_min_bytes)}), so "
                "it is not a media file but a possible zip bomb; zip the media files themselves",
                "zip_ratio",
                file=archive.name,
                member=info.filename,
                ratio=f"{ratio:,.0f}",
                limit=f"{limits.max_ratio:,.0f}",
            )
    if total > limits.max_total_bytes:
        raise MediaError(
            f"{archive.name}: would unpack to {_size(total)}, more than the "
            f"{_size(limits.max_total_bytes)} allowed for one zip; split it into smaller zips "
            "or import a folder",
            "zip_expanded",
            file=archive.name,
            limit=_size(limits.max_total_bytes),
        )


def _unpack(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, archive: Path) -> None:
    """Write one member, stopping at the size it declared (the check above trusted it)."""
    written = 0
    try:
        # zipfile itself stops at the declared size (more data then fails the CRC check as a
        # damaged zip); the real bytes are counted too, in case a reader does not.
        with zf.open(info) as src, target.open("wb") as dst:
            while chunk := src.read(_COPY_CHUNK):
                written += len(chunk)
                if written > info.file_size:
                    raise MediaError(
                        f"{archive.name}: '{info.filename}' unpacks to more than the "
                        f"{info.file_size:,} bytes it declares; the zip is damaged or "
                        "deliberately misleading (a zip bomb); re-create it",
                        "zip_lies",
                        file=archive.name,
                        member=info.filename,
                    )
                dst.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)  # no half-written member left behind
        raise


def _safe_member(name: str, archive: Path) -> tuple[str, ...]:
    """The member's path parts, refusing absolute paths and '..' (the "zip slip" attack)."""
    posix = name.replace("\\", "/")  # zips made on Windows may use backslashes
    if posix.startswith("/") or PureWindowsPath(name).drive:
        raise MediaError(f"{archive.name}: refusing member with an absolute path: '{name}'")
    parts = tuple(part for part in posix.split("/") if part not in ("", "."))
    if ".." in parts:
        raise MediaError(
            f"{archive.name}: refusing member that points outside the folder: '{name}'"
        )
    return parts
