from __future__ import annotations

from pathlib import Path

import pytest

from intake.columns import (
    Columns,
    IntakeError,
    IntakeStats,
    media_kind,
    read_samples,
    resolve_columns,
)


def test_csv_with_autodetected_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "id,Text,gold\n1,hello,red\n2,,blue\n3,  world  ,\n1,dup,red\n", encoding="utf-8-sig"
    )
    stats = IntakeStats()
    rows = list(read_samples(path, stats=stats))
    assert [(r.ext_id, r.text, r.truth) for r in rows] == [
        ("1", "hello", "red"),
        ("3", "world", None),
    ]
    assert (stats.rows, stats.kept, stats.empty, stats.duplicate_ids) == (4, 2, 1, 1)
    assert stats.examples == ["line 3: empty", "line 5: id '1' already in this file"]


@pytest.mark.parametrize("name", ["label", "answer", "truth", "Label"])
def test_only_a_gold_column_is_taken_as_gold_unasked(name: str) -> None:
    assert resolve_columns(["text", name], Columns()).truth is None
    assert resolve_columns(["text", name], Columns(truth=name)).truth == name
    assert resolve_columns(["text", "Gold"], Columns()).truth == "Gold"


def test_jsonl_media_paths_and_content_ids(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"image": "img/a.png"}\n\n{"image": "https://x.org/b.mp4?s=1"}\n')
    rows = list(read_samples(path))
    assert rows[0].kind == "photo"
    assert rows[0].media == str(tmp_path / "img" / "a.png")
    assert rows[1].kind == "video"
    assert rows[1].media is not None
    assert rows[1].media.startswith("https://")
    assert rows[0].ext_id.startswith("h")
    assert rows[0].ext_id != rows[1].ext_id
    assert [r.ext_id for r in read_samples(path)] == [r.ext_id for r in rows]  # stable


def test_errors_say_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(IntakeError, match=r"no text or media column.*the file has: a, b"):
        list(read_samples(path))
    with pytest.raises(IntakeError, match="no text column 'body'; the file has: a, b"):
        list(read_samples(path, Columns(text="body")))
    bad = tmp_path / "d.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": broken}\n')
    with pytest.raises(IntakeError, match="line 2: not valid JSON"):
        list(read_samples(bad))
    cp949 = tmp_path / "k.csv"
    cp949.write_bytes("text\n안녕하세요\n".encode("cp949"))
    with pytest.raises(IntakeError, match="not UTF-8"):
        list(read_samples(cp949))
    with pytest.raises(IntakeError, match=r"use a \.csv, \.tsv or \.jsonl"):
        list(read_samples(tmp_path / "d.xlsx"))


def test_media_kind_by_extension() -> None:
    assert media_kind("a.JPG") == "photo"
    assert media_kind("a.ogg") == "voice"
    assert media_kind("a.mp3") == "audio"
    assert media_kind("a.pdf") == "document"
