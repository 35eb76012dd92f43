"""The media files of a folder or a .zip, the zip checked in full before anything is unpacked.

A zip is refused whole, before a byte is written, when a member's path would escape the target
folder ("zip slip"), a member is encrypted, or its declared sizes look like a zip bomb
(`ZipLimits`); a member that unpacks to more than it declared is cut off and refused too.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

from intake.mediacheck import MediaError, in_mb

_COPY_CHUNK = 1024 * 1024
_SKIPPED_NAMES = ("__MACOSX", "Thumbs.db", "desktop.ini")


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
                f"{archive.name}: '{info.filename}' would unpack to {in_mb(info.file_size)} from "
                f"{info.compress_size:,} bytes ({ratio:,.0f} times smaller zipped; the limit is "
                f"{limits.max_ratio:,.0f} for members over {in_mb(limits.ratio_min_bytes)}), so "
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


def _size(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    return in_mb(size) if size >= 1024 * 1024 else f"{size:,} bytes"
