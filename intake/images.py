"""Check an image with Pillow and fit it to Telegram's photo limits, or send it as a document.

An image is opened and decoded here, so a truncated or corrupt one is dropped before a labeller
sees it. A photo over Telegram's limits (size, width + height, a format sendPhoto does not take)
is downscaled or converted into the output folder; GIFs and extreme aspect ratios go as
documents.
"""

from __future__ import annotations

import hashlib
import math
import struct
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from intake.mediacheck import MediaCheck, MediaError, dropped, in_mb
from intake.sniffing import MIME_LABELS

PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDES_SUM = 10_000  # Telegram: width + height must not exceed 10000
PHOTO_MAX_RATIO = 20  # Telegram: aspect ratio at most 20
JPEG_QUALITY = 90
_DOWNSCALE_ATTEMPTS = 8
_PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")  # what sendPhoto takes as it is

# Pillow reports malformed input through several exception types, depending on the plugin
# and on where in the file the damage is.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)

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


def check_image(
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
        return dropped(f"image too large to decode safely (decompression bomb check: {exc})", mime)
    except UnidentifiedImageError:
        if mime is None:
            return dropped(f"contents are not an image (extension {path.suffix.lower()})")
        if mime in ("image/heic", "image/heif"):
            # Pillow needs a plugin for these; not being able to read them is not damage.
            note = (
                f"{MIME_LABELS[mime]} image sent as a document (it cannot be checked or converted)"
            )
            return MediaCheck(
                path, "document", mime, None, "; ".join(filter(None, [mismatch, note]))
            )
        return dropped(
            f"corrupt image: Pillow cannot read this {MIME_LABELS.get(mime, mime)}", mime
        )
    except _DECODE_ERRORS as exc:
        return dropped(f"corrupt image: {exc}", mime)


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
        label = MIME_LABELS.get(mime or "", fmt)
        width, height = img.size
        if min(width, height) < 1:
            return dropped(f"corrupt image: {width}x{height} pixels", mime)
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
            problems.append(f"{in_mb(size)} exceeds Telegram's 10 MB photo limit")
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
            f"re-encoded as {out_format} ({in_mb(size)} -> {in_mb(written)}) "
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


def _ratio(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 100 or ratio == int(ratio) else f"{ratio:.1f}"
