from __future__ import annotations

import struct
import unicodedata
import zipfile
import zlib
from pathlib import Path

from intake.cleaning import CleaningOptions
from intake.columns import Columns
from intake.pipeline import Item, PipelineOptions, Report, run

OPTS = PipelineOptions(truths=frozenset({"pos", "neg"}))


def png(path: Path, size: int = 4) -> Path:
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
    path.write_bytes(body + chunk(b"IEND", b""))
    return path


def items(path: Path, options: PipelineOptions = OPTS) -> tuple[list[Item], Report]:
    report = Report(source=path.name)
    return list(run(path, options, report)), report


def test_cp949_csv_is_detected_and_read(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_bytes("text,gold\n정말 좋아요,pos\n별로예요,neg\n".encode("cp949"))
    got, report = items(path)
    assert [i.text for i in got] == ["정말 좋아요", "별로예요"]
    assert report.encoding == "cp949"


def test_utf8_bom_csv(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes("\ufefftext,gold\nhello,pos\n".encode())
    got, report = items(path)
    assert [(i.text, i.truth) for i in got] == [("hello", "pos")]
    assert report.encoding == "utf-8-sig"


def test_every_rule_is_counted_with_row_numbers(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "가나다 좋아요")
    path = tmp_path / "d.csv"
    path.write_text(
        "text,gold\n"
        f"{nfd},pos\n"  # 2: fixed (NFC)
        "   ,pos\n"  # 3: empty
        "a  b\u200b c,neg\n"  # 4: fixed (whitespace, invisible)
        "가나다 좋아요,pos\n"  # 5: duplicate of row 2 after cleaning
        "fine text,happy\n" + "x" * 5000 + ",pos\n"  # 6: gold not an option  # 7: too long
    )
    got, report = items(path)
    assert [i.number for i in got] == [2, 4]
    assert report.rows == 6
    assert report.kept == 2
    assert report.rows_fixed == 2
    assert report.dropped["empty"].examples == ["row 3: empty or only whitespace"]
    assert report.dropped["duplicate"].examples == ["row 5: same content as an earlier row"]
    assert (
        "row 6: gold label 'happy' is not an option (neg, pos)"
        in report.dropped["bad_gold"].examples
    )
    assert report.dropped["too_long"].count == 1
    assert report.fixed["nfc"].count == 1


def test_rules_switched_off(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text\nsame\nsame\n")
    options = PipelineOptions(cleaning=CleaningOptions(drop_duplicates=False))
    got, _ = items(path, options)
    assert len(got) == 2


def test_jsonl_broken_line_is_dropped_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "one"}\n{"text": oops}\n{"text": "three"}\n')
    got, report = items(path)
    assert [i.text for i in got] == ["one", "three"]
    assert report.dropped["unreadable"].examples[0].startswith("row 2:")


def test_near_duplicates_are_flagged_not_dropped_by_default(tmp_path: Path) -> None:
    base = "The delivery arrived two days late and the box was badly damaged on one side"
    path = tmp_path / "d.csv"
    path.write_text(f"text\n{base}.\n{base}!\nSomething else entirely, about cats.\n")
    got, report = items(path)
    assert len(got) == 3
    assert report.flagged["near_duplicate"].examples == [
        "row 3: nearly the same text as an earlier row"
    ]


def test_media_folder_checks_contents(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    png(media / "good.png")
    png(media / "sub" / "nested.png")
    truncated = png(tmp_path / "t.png", size=64)
    (media / "broken.png").write_bytes(truncated.read_bytes()[:60])
    (media / "fake.jpg").write_text("this is not a picture at all")
    options = PipelineOptions(media_out=tmp_path / "store")
    got, report = items(media, options)
    assert sorted(i.ext_id for i in got) == ["good.png", "sub/nested.png"]
    assert all(i.kind == "photo" for i in got)
    reasons = " ".join(report.dropped["media"].examples)
    assert "corrupt image" in reasons
    assert "text" in reasons


def test_zip_with_nested_folder(tmp_path: Path) -> None:
    image = png(tmp_path / "a.png")
    archive = tmp_path / "pics.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(image, "top/inner/a.png")
        z.writestr("top/readme.txt", "hello")
    options = PipelineOptions(media_out=tmp_path / "store")
    got, _ = items(archive, options)
    photos = [i for i in got if i.kind == "photo"]
    assert [i.ext_id for i in photos] == ["top/inner/a.png"]
    assert photos[0].media is not None
    assert Path(photos[0].media).is_file()
    assert (tmp_path / "store") in Path(photos[0].media).parents


def test_ids_are_stable_across_runs(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text\nalpha\nbeta\n")
    first, _ = items(path)
    second, _ = items(path)
    assert [i.ext_id for i in first] == [i.ext_id for i in second]
    assert len({i.ext_id for i in first}) == 2


def test_missing_media_value_is_dropped(tmp_path: Path) -> None:
    png(tmp_path / "p.png")
    path = tmp_path / "d.csv"
    path.write_text("image,label\np.png,pos\n,pos\nmissing.png,neg\n")
    got, report = items(path, PipelineOptions(columns=Columns(media="image", truth="label")))
    assert [i.number for i in got] == [2]
    assert report.dropped["missing_column"].examples == [
        "row 3: no value in the media column 'image'"
    ]
    assert "not found" in report.dropped["media"].examples[0]
