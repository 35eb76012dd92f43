from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from intake import mediafiles
from intake.images import PHOTO_MAX_BYTES, PHOTO_MAX_SIDES_SUM
from intake.media import MediaError, ZipLimits, check_media, iter_media_files, sniff


def image_file(path: Path, size: tuple[int, int], fmt: str, mode: str = "RGB") -> Path:
    Image.new(mode, size, "red" if mode == "RGB" else None).save(path, fmt)
    return path


def ogg_page(codec_header: bytes) -> bytes:
    # OggS, version, header type, granule (8), serial (4), sequence (4), CRC (4), 1 segment
    return b"OggS\x00\x02" + bytes(20) + bytes([1, len(codec_header)]) + codec_header


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + bytes(64)


WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + bytes(32)
MKV = b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska" + bytes(32)

SAMPLES = {
    "song.mp3": (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(64), "audio/mpeg", "audio"),
    "bare.mp3": (b"\xff\xfb\x90\x64" + bytes(64), "audio/mpeg", "audio"),
    "note.ogg": (ogg_page(b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00"), "audio/ogg", "voice"),
    "music.ogg": (ogg_page(b"\x01vorbis\x00\x00\x00\x00"), "audio/ogg", "audio"),
    "clip.wav": (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(32), "audio/wav", "audio"),
    "clip.flac": (b"fLaC\x00\x00\x00\x22" + bytes(34), "audio/flac", "audio"),
    "clip.m4a": (ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), "audio/mp4", "audio"),
    "movie.mp4": (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4", "video"),
    "movie.mov": (ftyp(b"qt  ", b"qt  "), "video/quicktime", "video"),
    "movie.webm": (WEBM, "video/webm", "video"),
    "movie.mkv": (MKV, "video/x-matroska", "video"),
    "paper.pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "application/pdf", "document"),
    "notes.txt": ("plain text, ünïcode\n".encode(), "text/plain", "document"),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_magic_bytes_decide_the_kind(tmp_path: Path, name: str) -> None:
    data, mime, kind = SAMPLES[name]
    path = tmp_path / name
    path.write_bytes(data)
    assert sniff(path) == mime
    check = check_media(path, out_dir=tmp_path / "out")
    assert (check.kind, check.mime, check.drop, check.note) == (kind, mime, None, None)
    assert check.path == path


def test_sniff_text_cut_inside_a_character_is_still_text(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_bytes(b"a" + "é".encode() * 5000)  # the 4 KB block ends mid-character
    assert sniff(path) == "text/plain"
    (tmp_path / "nul.bin").write_bytes(b"abc\x00def")
    assert sniff(tmp_path / "nul.bin") is None


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_small_photos_are_sent_as_they_are(tmp_path: Path, fmt: str) -> None:
    path = image_file(tmp_path / f"cat.{fmt.lower()}", (640, 480), fmt)
    check = check_media(path, out_dir=tmp_path / "out")
    assert check == check_media(path, out_dir=tmp_path / "out")
    assert (check.path, check.kind, check.drop, check.note) == (path, "photo", None, None)
    assert check.mime == f"image/{fmt.lower()}"
    assert not (tmp_path / "out").exists()


def test_truncated_png_is_dropped(tmp_path: Path) -> None:
    whole = image_file(tmp_path / "whole.png", (300, 200), "PNG").read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(whole[: len(whole) // 2])
    check = check_media(path, out_dir=tmp_path / "out")
    assert check.path is None
    assert check.kind is None
    assert check.drop is not None
    assert check.drop.startswith("corrupt image: ")


def test_truncated_jpeg_is_dropped(tmp_path: Path) -> None:
    noisy = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
    noisy.save(tmp_path / "whole.jpg", "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes((tmp_path / "whole.jpg").read_bytes()[:3000])
    check = check_media(path, out_dir=tmp_path / "out")
    assert check.drop is not None
    assert check.drop.startswith("corrupt image: ")
    assert "truncated" in check.drop


def test_text_named_jpg_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_text("<html>404 Not Found</html>\n")
    check = check_media(path, out_dir=tmp_path / "out")
    assert check.drop == "contents are text, not an image (extension .jpg)"
    assert check.mime == "text/plain"
    assert check.path is None


def test_text_named_mp4_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_text("version https://git-lfs.github.com/spec/v1\n")
    assert check_media(path, out_dir=tmp_path).drop == (
        "contents are text, not a video (extension .mp4)"
    )


def test_binary_junk_named_jpg_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\x00\x01\x02\x03" * 100)
    check = check_media(path, out_dir=tmp_path / "out")
    assert check.drop == "contents are not an image (extension .jpg)"


def test_png_named_jpg_is_a_photo_with_a_note(tmp_path: Path) -> None:
    path = image_file(tmp_path / "shot.jpg", (100, 80), "PNG")
    check = check_media(path, out_dir=tmp_path / "out")
    assert (check.path, check.kind, check.mime) == (path, "photo", "image/png")
    assert check.note == "extension .jpg but contents are PNG"


def test_extreme_aspect_ratio_is_sent_as_a_document(tmp_path: Path) -> None:
    path = image_file(tmp_path / "strip.png", (12000, 100), "PNG")
    check = check_media(path, out_dir=tmp_path / "out")
    assert (check.path, check.kind, check.drop) == (path, "document", None)
    assert check.note == "sent as a document: aspect ratio 120:1 exceeds Telegram's 20:1"


def test_large_photo_is_downscaled_within_limits(tmp_path: Path) -> None:
    path = image_file(tmp_path / "big.jpg", (8000, 6000), "JPEG")
    out = tmp_path / "out"
    check = check_media(path, out_dir=out)
    assert check.kind == "photo"
    assert check.path is not None
    assert check.path.parent == out
    assert check.path.suffix == ".jpg"
    assert check.mime == "image/jpeg"
    with Image.open(check.path) as small:
        width, height = small.size
        assert small.format == "JPEG"
    assert width + height <= PHOTO_MAX_SIDES_SUM
    assert abs(width / height - 8000 / 6000) < 0.01
    assert check.path.stat().st_size <= PHOTO_MAX_BYTES
    assert check.note == f"downscaled 8000x6000 -> {width}x{height} to fit Telegram's photo limits"
    assert [p.name for p in out.iterdir()] == [check.path.name]  # no temporary file left


def test_large_photo_with_alpha_is_downscaled_to_png(tmp_path: Path) -> None:
    path = image_file(tmp_path / "logo.png", (5100, 5000), "PNG", mode="LA")
    check = check_media(path, out_dir=tmp_path / "out")
    assert check.kind == "photo"
    assert check.mime == "image/png"
    assert check.path is not None
    with Image.open(check.path) as small:
        assert small.format == "PNG"
        assert small.mode == "LA"
        assert sum(small.size) <= PHOTO_MAX_SIDES_SUM


def test_large_photo_without_downscale_is_a_document(tmp_path: Path) -> None:
    path = image_file(tmp_path / "big.png", (8000, 6000), "PNG", mode="L")
    check = check_media(path, out_dir=tmp_path / "out", downscale=False)
    assert (check.path, check.kind) == (path, "document")
    assert check.note is not None
    assert check.note.startswith("sent as a document: 8000x6000 exceeds Telegram's photo limit")
    assert not (tmp_path / "out").exists()


def test_photo_over_10_mb_is_reencoded(tmp_path: Path) -> None:
    noisy = Image.frombytes("RGB", (2500, 2000), os.urandom(2500 * 2000 * 3))
    path = tmp_path / "noise.png"
    noisy.save(path, "PNG", compress_level=1)
    assert path.stat().st_size > PHOTO_MAX_BYTES
    check = check_media(path, out_dir=tmp_path / "out")
    assert check.kind == "photo"
    assert check.path is not None
    assert check.path.stat().st_size <= PHOTO_MAX_BYTES
    assert check.note is not None
    assert "Telegram's" in check.note


def test_bmp_is_converted_to_png(tmp_path: Path) -> None:
    path = image_file(tmp_path / "scan.bmp", (120, 90), "BMP")
    check = check_media(path, out_dir=tmp_path / "out")
    assert check.kind == "photo"
    assert check.mime == "image/png"
    assert check.path is not None
    assert check.path.parent == tmp_path / "out"
    assert check.note == "converted BMP to PNG (Telegram photos are JPEG, PNG or WebP)"
    with Image.open(check.path) as png:
        assert (png.format, png.size) == ("PNG", (120, 90))
    again = check_media(path, out_dir=tmp_path / "out")
    assert again == check  # a stable name, overwritten in place
    assert [p.name for p in (tmp_path / "out").iterdir()] == [check.path.name]
    kept = check_media(path, out_dir=tmp_path / "out2", downscale=False)
    assert (kept.path, kept.kind, kept.mime) == (path, "document", "image/bmp")


def test_exif_rotation_is_applied_when_reencoding(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: the viewer turns it a quarter clockwise
    path = tmp_path / "phone.jpg"
    Image.new("RGB", (6000, 4500), "blue").save(path, "JPEG", exif=exif)
    check = check_media(path, out_dir=tmp_path / "out")
    assert check.path is not None
    with Image.open(check.path) as upright:
        width, height = upright.size
    assert height > width
    assert check.note == f"downscaled 4500x6000 -> {width}x{height} to fit Telegram's photo limits"


def test_heic_that_pillow_cannot_open_is_a_document(tmp_path: Path) -> None:
    path = tmp_path / "phone.heic"
    path.write_bytes(ftyp(b"heic", b"mif1", b"heic"))
    check = check_media(path, out_dir=tmp_path / "out")
    assert (check.path, check.kind, check.mime, check.drop) == (
        path,
        "document",
        "image/heic",
        None,
    )


def test_gif_is_sent_as_a_document(tmp_path: Path) -> None:
    path = image_file(tmp_path / "anim.gif", (50, 50), "GIF")
    check = check_media(path, out_dir=tmp_path / "out")
    assert (check.path, check.kind, check.mime) == (path, "document", "image/gif")
    assert check.note is not None
    assert "GIF" in check.note


def test_decompression_bomb_is_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = image_file(tmp_path / "bomb.png", (100, 100), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses above 2x this
    check = check_media(path, out_dir=tmp_path / "out")
    assert check.path is None
    assert check.drop is not None
    assert check.drop.startswith("image too large to decode safely (decompression bomb check: ")


def test_decompression_bomb_warning_band_is_processed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = image_file(tmp_path / "large.png", (40, 40), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1600 px: warned about, not refused
    check = check_media(path, out_dir=tmp_path / "out")  # filterwarnings=error: none leaks
    assert (check.kind, check.drop) == ("photo", None)


def test_file_over_50_mb_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "long.mp4"
    with path.open("wb") as f:
        f.write(ftyp(b"isom", b"isom"))
        f.truncate(73 * 1024 * 1024 + 200 * 1024)  # sparse: no data written
    check = check_media(path, out_dir=tmp_path / "out")
    assert check.drop == "video over 50 MB (73.2 MB)"
    assert (check.path, check.kind, check.mime) == (None, None, "video/mp4")
    blank = tmp_path / "blank.bin"
    with blank.open("wb") as f:
        f.truncate(51 * 1024 * 1024)
    assert check_media(blank, out_dir=tmp_path).drop == "file over 50 MB (51.0 MB)"


def test_missing_and_empty_files_are_dropped(tmp_path: Path) -> None:
    missing = check_media(tmp_path / "nope.png", out_dir=tmp_path / "out")
    assert missing == check_media(tmp_path / "nope.png", out_dir=tmp_path)
    assert (missing.path, missing.kind, missing.drop) == (None, None, "file not found")
    (tmp_path / "empty.png").touch()
    assert check_media(tmp_path / "empty.png", out_dir=tmp_path).drop == "empty file (0 bytes)"


def test_unknown_contents_are_a_document(tmp_path: Path) -> None:
    path = tmp_path / "blob.dat"
    path.write_bytes(bytes(range(256)))
    check = check_media(path, out_dir=tmp_path / "out")
    assert (check.path, check.kind, check.mime, check.note) == (
        path,
        "document",
        None,
        "unknown type",
    )


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_zip_is_extracted_with_nested_folders_in_stable_order(tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "media.zip",
        {
            "b.png": b"2",
            "cats/z.jpg": b"3",
            "a.png": b"1",
            "cats/kittens/c.png": b"4",
            "__MACOSX/cats/._z.jpg": b"junk",
            "cats/.DS_Store": b"junk",
            "dogs/": b"",
        },
    )
    out = tmp_path / "x"
    files = list(iter_media_files(archive, extract_dir=out))
    assert [p.relative_to(out).as_posix() for p in files] == [
        "a.png",
        "b.png",
        "cats/kittens/c.png",
        "cats/z.jpg",
    ]
    assert [p.read_bytes() for p in files] == [b"1", b"2", b"4", b"3"]
    assert not (out / "__MACOSX").exists()
    assert list(iter_media_files(archive, extract_dir=out)) == files


@pytest.mark.parametrize("evil", ["../evil.png", "ok/../../evil.png", "/etc/evil.png", "C:/x.png"])
def test_zip_slip_member_is_refused(tmp_path: Path, evil: str) -> None:
    archive = write_zip(tmp_path / "media.zip", {"good.png": b"1", evil: b"2"})
    out = tmp_path / "deep" / "x"
    with pytest.raises(MediaError, match="refusing member"):
        iter_media_files(archive, extract_dir=out)
    assert not out.exists()  # checked before anything was written
    assert not (tmp_path / "deep" / "evil.png").exists()


def test_backslash_traversal_in_zip_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "media.zip", {"..\\evil.png": b"2"})
    with pytest.raises(MediaError, match="outside the folder"):
        iter_media_files(archive, extract_dir=tmp_path / "x")


def test_folder_iteration_skips_hidden_files(tmp_path: Path) -> None:
    root = tmp_path / "media"
    for rel in ("b.jpg", "a/z.png", "a/.hidden.png", ".git/config", "c.mp3", "a/Thumbs.db"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    files = list(iter_media_files(root, extract_dir=tmp_path / "unused"))
    assert [p.relative_to(root).as_posix() for p in files] == ["a/z.png", "b.jpg", "c.mp3"]
    assert not (tmp_path / "unused").exists()


def test_bad_sources_raise(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not found"):
        iter_media_files(tmp_path / "missing", extract_dir=tmp_path / "x")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(MediaError, match="not a valid zip file"):
        iter_media_files(tmp_path / "broken.zip", extract_dir=tmp_path / "x")
    (tmp_path / "data.csv").write_text("id,image\n")
    with pytest.raises(MediaError, match=r"give a folder or a \.zip"):
        iter_media_files(tmp_path / "data.csv", extract_dir=tmp_path / "x")


def test_damaged_zip_member_raises(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "media.zip", {"a.txt": b"hello world" * 100})
    data = bytearray(archive.read_bytes())
    at = data.find(b"hello world")
    data[at : at + 5] = b"HELLO"  # stored uncompressed: the CRC no longer matches
    archive.write_bytes(bytes(data))
    with pytest.raises(MediaError, match="damaged zip"):
        iter_media_files(archive, extract_dir=tmp_path / "x")


def test_highly_compressed_big_member_is_refused_before_extracting(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok.png", b"1")
        zf.writestr("big.png", bytes(11 * 1024 * 1024))  # zeros: ~1000 times smaller zipped
    out = tmp_path / "x"
    with pytest.raises(MediaError, match=r"'big\.png' would unpack to 11\.0 MB .* zip bomb"):
        iter_media_files(archive, extract_dir=out)
    assert not out.exists()


def test_small_members_may_compress_well(tmp_path: Path) -> None:
    archive = tmp_path / "media.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("blank.bmp", bytes(1024 * 1024))
    files = list(iter_media_files(archive, extract_dir=tmp_path / "x"))
    assert [f.stat().st_size for f in files] == [1024 * 1024]


def test_too_many_members_are_refused(tmp_path: Path) -> None:
    members = {f"{i:03}.png": b"x" for i in range(11)}
    limits = ZipLimits(max_members=10)
    out = tmp_path / "x"
    with pytest.raises(MediaError, match="has 11 entries, more than the 10 allowed"):
        iter_media_files(write_zip(tmp_path / "m.zip", members), extract_dir=out, limits=limits)
    assert not out.exists()
    del members["010.png"]
    archive = write_zip(tmp_path / "n.zip", members)
    assert len(list(iter_media_files(archive, extract_dir=out, limits=limits))) == 10


def test_total_unpacked_size_is_capped(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "m.zip", {"a.png": b"a" * 600, "b.png": b"b" * 600})
    out = tmp_path / "x"
    too_big = r"would unpack to 1,200 bytes, more than the 1,000 bytes allowed .* split it"
    with pytest.raises(MediaError, match=too_big):
        iter_media_files(archive, extract_dir=out, limits=ZipLimits(max_total_bytes=1000))
    assert not out.exists()
    assert len(list(iter_media_files(archive, extract_dir=out, limits=ZipLimits(1200)))) == 2


def test_member_larger_than_declared_leaves_nothing_behind(tmp_path: Path) -> None:
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.png", b"1")
        zf.writestr("b.png", b"x" * 100_000)
    data = bytearray(archive.read_bytes())
    entry = data.rfind(b"PK\x01\x02")  # the central directory entry of b.png
    assert struct.unpack("<I", data[entry + 24 : entry + 28]) == (100_000,)
    data[entry + 24 : entry + 28] = struct.pack("<I", 1000)  # declare 1,000 bytes
    archive.write_bytes(bytes(data))
    out = tmp_path / "x"
    with pytest.raises(MediaError, match="damaged zip"):  # zipfile stops at 1,000: bad CRC
        iter_media_files(archive, extract_dir=out)
    assert not (out / "b.png").exists()
    assert not (out / "a.png").exists()  # nor the member unpacked before it


class _LyingZip:
    """Stands in for a zip reader that would hand out more than a member declares."""

    def open(self, info: zipfile.ZipInfo) -> io.BytesIO:
        return io.BytesIO(b"x" * (info.file_size + 1))


def test_unpacking_stops_past_the_declared_size(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("a.png")
    info.file_size = 3 * 1024 * 1024
    target = tmp_path / "a.png"
    with pytest.raises(MediaError, match="more than the 3,145,728 bytes it declares"):
        mediafiles._unpack(_LyingZip(), info, target, tmp_path / "m.zip")  # type: ignore[arg-type]
    assert not target.exists()
