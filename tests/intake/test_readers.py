from __future__ import annotations

import codecs
import gc
import json
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake import jsondata, lines, plaintext
from intake.readers import SUPPORTED, Row, SourceError, detect_encoding, open_source


def read(path: Path, **kwargs: Any) -> tuple[list[str], list[Row]]:
    source, rows = open_source(path, **kwargs)
    return source.columns, list(rows)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- encodings -------------------------------------------------------------------------------


def test_utf8_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "id,text\n1,héllo\n2,세계\n".encode())
    source, rows = open_source(path)
    assert (source.format, source.encoding, source.delimiter) == ("csv", "utf-8", ",")
    assert source.columns == ["id", "text"]
    assert list(rows) == [
        Row(2, {"id": "1", "text": "héllo"}),
        Row(3, {"id": "2", "text": "세계"}),
    ]


def test_ascii_is_utf8(tmp_path: Path) -> None:
    assert detect_encoding(write(tmp_path / "a.txt", b"plain\n")) == "utf-8"
    assert detect_encoding(write(tmp_path / "e.txt", b"")) == "utf-8"


def test_utf8_bom_csv_strips_bom_from_header(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", codecs.BOM_UTF8 + "text,label\n좋아요,pos\n".encode())
    source, rows = open_source(path)
    assert source.encoding == "utf-8-sig"
    assert source.columns == ["text", "label"]
    assert list(rows) == [Row(2, {"text": "좋아요", "label": "pos"})]


def test_utf16_le_tsv_as_excel_unicode_text(tmp_path: Path) -> None:
    text = 'text\tlabel\r\n안녕하세요\tgreeting\r\n"two\r\nlines"\tx\r\n'
    path = write(tmp_path / "a.tsv", codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    source, rows = open_source(path)
    assert (source.encoding, source.delimiter, source.columns) == (
        "utf-16",
        "\t",
        ["text", "label"],
    )
    assert list(rows) == [
        Row(2, {"text": "안녕하세요", "label": "greeting"}),
        Row(3, {"text": "two\r\nlines", "label": "x"}),
    ]


def test_utf16_be_bom(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", codecs.BOM_UTF16_BE + "하나\n둘\n".encode("utf-16-be"))
    source, rows = open_source(path)
    assert source.encoding == "utf-16"
    assert [r.values for r in rows] == [{"text": "하나"}, {"text": "둘"}]


def test_cp949_csv_with_korean(tmp_path: Path) -> None:
    # "똠" exists in CP949 but not in EUC-KR.
    text = "id,text\n1,한국어 문장입니다\n2,똠방각하\n"
    path = write(tmp_path / "k.csv", text.encode("cp949"))
    source, rows = open_source(path)
    assert source.encoding == "cp949"
    assert [r.values for r in rows] == [
        {"id": "1", "text": "한국어 문장입니다"},
        {"id": "2", "text": "똠방각하"},
    ]


def test_euc_kr_file_reads_as_cp949(tmp_path: Path) -> None:
    path = write(tmp_path / "k.txt", "가나다\n라마바\n".encode("euc-kr"))
    source, rows = open_source(path)
    assert source.encoding == "cp949"
    assert [r.values for r in rows] == [{"text": "가나다"}, {"text": "라마바"}]


def test_detection_reads_the_whole_file_not_a_sample(tmp_path: Path) -> None:
    # Pure ASCII for many chunks, then Korean in CP949: a sample-based guess would say UTF-8.
    data = b"text\n" + b"ascii line\n" * 100 + "마지막\n".encode("cp949")
    assert detect_encoding(write(tmp_path / "k.txt", data), sample_bytes=16) == "cp949"


def test_invalid_bytes_refused_with_absolute_offset(tmp_path: Path) -> None:
    prefix = b"id,text\n" + b"1,fine\n" * 10  # 78 bytes: several 16-byte chunks
    path = write(tmp_path / "bad.csv", prefix + b"2,\xff\xff\n")
    with pytest.raises(SourceError, match=r"bad\.csv.*CP949/EUC-KR.*byte offset 80\b.*UTF-8"):
        detect_encoding(path, sample_bytes=16)
    with pytest.raises(SourceError, match=r"byte offset 80\b"):
        open_source(path)


def test_invalid_offset_counts_a_sequence_split_across_chunks(tmp_path: Path) -> None:
    # "\xe2\x82" starts a 3-byte sequence at the end of the first 16-byte chunk; "(" breaks it.
    data = b"a" * 14 + b"\xe2\x82(" + b"\xff\xff"
    path = write(tmp_path / "bad.txt", data)
    with pytest.raises(SourceError, match=r"byte offset 14\b"):
        detect_encoding(path, sample_bytes=16)
    # A sequence cut short by the end of the file is found by the final decode.
    truncated = write(tmp_path / "cut.txt", b"a" * 20 + b"\xe2\x82")
    with pytest.raises(SourceError, match=r"byte offset 20\b"):
        detect_encoding(truncated, sample_bytes=16)


def test_nul_bytes_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "u16.csv", "text\nabc\n".encode("utf-16-le"))  # no BOM
    with pytest.raises(SourceError, match=r"u16\.csv.*NUL byte at byte offset 1\b.*UTF-16"):
        open_source(path)


def test_bom_file_with_bad_bytes_later(tmp_path: Path) -> None:
    path = write(tmp_path / "b.csv", codecs.BOM_UTF8 + b"text\nok\n\xc7\xd1\n")
    with pytest.raises(SourceError, match=r"UTF-8-SIG byte-order mark.*byte offset 11\b"):
        detect_encoding(path, sample_bytes=4)


# --- CSV / TSV -------------------------------------------------------------------------------


@pytest.mark.parametrize(("delimiter", "suffix"), [(";", ".csv"), ("|", ".csv"), ("\t", ".csv")])
def test_delimiter_sniffed(tmp_path: Path, delimiter: str, suffix: str) -> None:
    lines = ["id", "text", "label"], ["1", "a, b", "x"], ["2", "c, d", "y"], ["3", "e", "z"]
    path = tmp_path / f"d{suffix}"
    path.write_text("".join(delimiter.join(line) + "\n" for line in lines), encoding="utf-8")
    source, rows = open_source(path)
    assert source.delimiter == delimiter
    assert source.columns == ["id", "text", "label"]
    assert next(rows).values == {"id": "1", "text": "a, b", "label": "x"}


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_one_column_file_is_not_split(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"one{suffix}"
    path.write_text(
        'text\nhello, world\nfoo, bar; baz|q\tr\n"quoted, ""two""\nlines"\n', encoding="utf-8"
    )
    source, rows = open_source(path)
    assert (source.delimiter, source.columns) == (None, ["text"])
    assert list(rows) == [
        Row(2, {"text": "hello, world"}),
        Row(3, {"text": "foo, bar; baz|q\tr"}),
        Row(4, {"text": 'quoted, "two"\nlines'}),
    ]
    _, rows = open_source(path, header=False, column_names=["text"])
    assert next(rows) == Row(1, {"text": "text"})
    rows.close()


def test_sniffed_delimiter_must_be_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,text\n1;a;b\n2;c;d\n3;e;f\n", encoding="utf-8")
    source, rows = open_source(path)
    assert source.delimiter == ","
    assert next(rows) == Row(2, {"id": "1;a;b", "text": None})
    rows.close()


def test_given_delimiter_wins(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("a;b\n1;2\n", encoding="utf-8")
    source, rows = open_source(path, delimiter=",")
    assert source.columns == ["a;b"]
    assert [r.values for r in rows] == [{"a;b": "1;2"}]


def test_quoted_multiline_fields_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(b'id,text\n1,"first\nsecond\nthird"\n\n2,plain\n3,"a ""q"" b"\n')
    _, rows = read(path)
    assert rows == [
        Row(2, {"id": "1", "text": "first\nsecond\nthird"}),
        Row(6, {"id": "2", "text": "plain"}),
        Row(7, {"id": "3", "text": 'a "q" b'}),
    ]


def test_too_many_and_too_few_fields(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("id,text,label\n1,a,x\n2,b,y,extra\n3,c\n", encoding="utf-8")
    _, rows = read(path)
    assert rows == [
        Row(2, {"id": "1", "text": "a", "label": "x"}),
        Row(3, None, "4 fields, header has 3"),
        Row(4, {"id": "3", "text": "c", "label": None}),
    ]


def test_header_false_needs_names(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("1,hello\n2,world\n", encoding="utf-8")
    columns, rows = read(path, header=False, column_names=["id", "text"])
    assert columns == ["id", "text"]
    assert rows == [Row(1, {"id": "1", "text": "hello"}), Row(2, {"id": "2", "text": "world"})]
    with pytest.raises(SourceError, match=r"n\.csv.*column names must be given"):
        open_source(path, header=False)


def test_column_names_rename_a_header(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    assert read(path, column_names=["x", "y"]) == (["x", "y"], [Row(2, {"x": "1", "y": "2"})])
    with pytest.raises(SourceError, match="3 column names given but the header row has 2"):
        open_source(path, column_names=["x", "y", "z"])


@pytest.mark.parametrize("header", ["id,text,text\n", "id,,text\n", "id, text ,text\n"])
def test_bad_header_refused(tmp_path: Path, header: str) -> None:
    path = tmp_path / "h.csv"
    path.write_text(header + "1,2,3\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"h\.csv: the header row \['id', .*unique name"):
        open_source(path)


def test_empty_csv_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="empty; it needs a header row"):
        open_source(write(tmp_path / "e.csv", b"\n\n"))


def test_unclosed_quote_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('text\n"never closed\n' + "more text\n" * 20_000, encoding="utf-8")
    _, rows = open_source(path)
    with pytest.raises(SourceError, match=r"q\.csv, line 2: malformed CSV"):
        list(rows)


def test_a_file_ending_inside_a_quoted_field_is_refused_with_its_line(tmp_path: Path) -> None:
    # The file: cut short inside a quote, it used to import a garbage last row.
    path = write(
        tmp_path / "cut.csv", b'text,label\nfine,pos\n"this quoted field never ends,\nneg'
    )
    _, rows = open_source(path)
    assert next(rows) == Row(2, {"text": "fine", "label": "pos"})
    with pytest.raises(SourceError, match=r"cut\.csv, line 3: a quoted field .* never closed"):
        next(rows)
    with pytest.raises(SourceError) as info:
        list(open_source(path)[1])
    assert (info.value.code, info.value.params) == (
        "unclosed_quote",
        {"file": "cut.csv", "line": 3},
    )


@pytest.mark.parametrize(
    "data",
    [
        b'text,label\nfine,pos\n"closed at the end",neg',  # no final line break
        b'text,label\n"two\nlines",neg\n',
        b'text,label\n"two\nlines",neg',
        b'text,label\n"a ""quoted"" word",neg',
        b'text,label\nend,"quoted last"',
        b'text\tlabel\nsloppy "quote,neg\n',  # a quote inside an unquoted field is text
    ],
)
def test_a_complete_last_record_is_not_an_unclosed_quote(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / ("ok.tsv" if b"\t" in data else "ok.csv"), data)
    _, rows = read(path)
    assert rows[-1].values is not None


def test_an_unclosed_quote_in_the_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"h\.csv, line 1: a quoted field"):
        open_source(write(tmp_path / "h.csv", b'text,"label\nfine,pos\n'))


def test_a_long_record_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines, "MAX_RECORD_CHARS", 100)
    path = write(tmp_path / "r.csv", b'text\nok\n"' + b"a line\n" * 30 + b'"\nlast\n')
    _, rows = open_source(path)
    assert next(rows) == Row(2, {"text": "ok"})
    with pytest.raises(SourceError, match=r"r\.csv, line 3: one record is longer than 100"):
        next(rows)


def test_a_csv_line_is_never_read_past_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lines, "MAX_LINE_CHARS", 1000)
    path = write(tmp_path / "l.csv", b"text,label\n" + b"a," * 100_000 + b"\nok,pos\n")
    _, rows = open_source(path)
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match=r"l\.csv, line 2: longer than 1,000 characters"):
            list(rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000  # the 200,000-character line was not held


# --- JSON Lines and JSON ---------------------------------------------------------------------


def test_jsonl_broken_line_is_an_error_row(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"id": 1, "text": "a", "meta": {"k": [1, 2]}}\n'
        "\n"
        '{"id": 2, "text": oops}\n'
        "[1, 2]\n"
        '{"text": "b", "ok": true, "score": 0.5, "gone": null}\n',
        encoding="utf-8",
    )
    source, rows = open_source(path)
    assert source.format == "jsonl"
    assert source.columns == ["id", "text", "meta", "ok", "score", "gone"]
    assert list(rows) == [
        Row(
            1,
            {
                "id": "1",
                "text": "a",
                "meta": '{"k":[1,2]}',
                "ok": None,
                "score": None,
                "gone": None,
            },
        ),
        Row(3, None, "not valid JSON: Expecting value"),
        Row(4, None, "not a JSON object (found an array)"),
        Row(
            5,
            {"id": None, "text": "b", "meta": None, "ok": "true", "score": "0.5", "gone": None},
        ),
    ]


def test_ndjson_columns_from_first_records_only(tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"t{i}"}) for i in range(1000)] + ['{"text": "x", "late": "y"}']
    path = tmp_path / "d.ndjson"
    path.write_text("\n".join(lines), encoding="utf-8")
    source, rows = open_source(path)
    assert source.columns == ["text"]
    assert list(rows)[-1] == Row(1001, {"text": "x", "late": "y"})


@pytest.mark.parametrize("chunk", [3, 1000, 64 * 1024])
def test_json_array_streams_elements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    # Small chunks cut every element, string, number and literal somewhere.
    monkeypatch.setattr(jsondata, "_JSON_CHUNK_CHARS", chunk)
    items: list[object] = [{"id": i, "text": "x" * (i % 97), "n": 10**12 + i} for i in range(3000)]
    items[1] = "not an object"
    items[2] = 12345678901234567890
    path = tmp_path / "a.json"
    path.write_text(json.dumps(items, indent=1, ensure_ascii=False), encoding="utf-8")
    source, rows = open_source(path)
    assert (source.format, source.columns) == ("json", ["id", "text", "n"])
    got = list(rows)
    assert len(got) == 3000
    assert got[0] == Row(1, {"id": "0", "text": "", "n": str(10**12)})
    assert got[1] == Row(2, None, "not a JSON object (found a string)")
    assert got[2] == Row(3, None, "not a JSON object (found a number)")
    assert all(
        r.values == {"id": str(i), "text": "x" * (i % 97), "n": str(10**12 + i)}
        for i, r in enumerate(got)
        if i > 2
    )
    assert [r.number for r in got] == list(range(1, 3001))


def test_json_element_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsondata, "_JSON_CHUNK_CHARS", 100)
    monkeypatch.setattr(jsondata, "MAX_ELEMENT_CHARS", 1000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps([{"text": "y" * 5000}]), encoding="utf-8")
    with pytest.raises(SourceError, match="element 1 is longer than 1,000 characters"):
        open_source(path)


def test_json_long_string_element(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    path.write_text(json.dumps([{"text": "y" * 300_000}, {"text": "z"}]), encoding="utf-8")
    _, rows = read(path)
    assert rows == [Row(1, {"text": "y" * 300_000}), Row(2, {"text": "z"})]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "one"}', "holds one JSON object, not an array"),
        ("garbage", "not a JSON array of objects"),
        ("", "is empty"),
    ],
)
def test_json_not_an_array_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "o.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError, match=message):
        open_source(path)


def test_json_broken_element_stops_the_read(tmp_path: Path) -> None:
    items = ",\n".join(json.dumps({"text": f"t{i}"}) for i in range(1500))
    path = tmp_path / "b.json"
    path.write_text(f'[{items},\n{{"text": oops}}]', encoding="utf-8")
    _, rows = open_source(path)  # the column scan stops before the break
    got: list[Row] = []
    with pytest.raises(SourceError, match=r"b\.json, line 1501: element 1501 is not valid JSON"):
        got.extend(rows)
    assert len(got) == 1500
    path.write_text("[{}, {}", encoding="utf-8")
    with pytest.raises(SourceError, match="not closed"):
        open_source(path)
    path.write_text("[{}] x", encoding="utf-8")
    with pytest.raises(SourceError, match="unexpected 'x' after the end"):
        open_source(path)


def test_empty_json_array(tmp_path: Path) -> None:
    assert read(write(tmp_path / "e.json", b" [ ] \n")) == ([], [])


# --- TXT and XLSX ----------------------------------------------------------------------------


def test_txt_lines_and_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "t.txt", b"first\r\n\r\n   \nlast, with comma")
    source, rows = open_source(path)
    assert (source.format, source.columns, source.delimiter) == ("txt", ["text"], None)
    assert list(rows) == [
        Row(1, {"text": "first"}),
        Row(2, {"text": None}),
        Row(3, {"text": None}),
        Row(4, {"text": "last, with comma"}),
    ]


def test_txt_from_excel_unicode_text_is_read_as_tsv(tmp_path: Path) -> None:
    text = 'id\ttext\tlabel\r\n1\t안녕하세요\tgreeting\r\n2\t"two\r\nlines"\tx\r\n3\t\t\r\n'
    path = write(tmp_path / "export.txt", codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    source, rows = open_source(path)
    assert (source.format, source.encoding, source.delimiter, source.columns) == (
        "tsv (from .txt)",
        "utf-16",
        "\t",
        ["id", "text", "label"],
    )
    assert list(rows) == [
        Row(2, {"id": "1", "text": "안녕하세요", "label": "greeting"}),
        Row(3, {"id": "2", "text": "two\r\nlines", "label": "x"}),
        Row(5, {"id": "3", "text": "", "label": ""}),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "a tab\there\nno tab\nanother line\n",  # only the first line has one
        "no tab\nb\tc\nd\te\n",  # the first line has none
        "one\ttab\ntwo\ttabs\there\n",  # different counts
        "text\ttext\nx\ty\n",  # not a usable header
        "\ttab first\nx\ty\n",
        "only\tone line\n",
    ],
)
def test_txt_with_occasional_tabs_stays_plain_text(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "t.txt", text.encode())
    source, rows = open_source(path)
    assert (source.format, source.columns) == ("txt", ["text"])
    assert [r.values for r in rows] == [{"text": line} for line in text.splitlines()]


def test_txt_table_sniffs_only_the_first_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plaintext, "TXT_SNIFF_RECORDS", 3)
    path = write(tmp_path / "t.txt", b"a\tb\n1\t2\n\n3\t4\n5\t6\t7\n")
    source, rows = open_source(path)
    assert source.format == "tsv (from .txt)"
    assert list(rows) == [
        Row(2, {"a": "1", "b": "2"}),
        Row(4, {"a": "3", "b": "4"}),
        Row(5, None, "3 fields, header has 2"),
    ]


def test_txt_table_with_column_names(tmp_path: Path) -> None:
    path = write(tmp_path / "t.txt", b"a\tb\n1\t2\n")
    source, rows = open_source(path, column_names=["x", "y"], header=False)
    assert (source.format, source.columns) == ("tsv (from .txt)", ["x", "y"])
    assert [r.values for r in rows] == [{"x": "a", "y": "b"}, {"x": "1", "y": "2"}]
    source, rows = open_source(path, column_names=["line"])  # one name: one column
    assert (source.format, [r.values for r in rows]) == (
        "txt",
        [{"line": "a\tb"}, {"line": "1\t2"}],
    )
    source, rows = open_source(path, header=False)  # no header and no names: nothing to call it
    assert source.format == "txt"


def test_an_overlong_line_refuses_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lines, "MAX_LINE_CHARS", 10)
    path = write(tmp_path / "t.txt", b"short\nexactly10!\n" + b"x" * 35 + b"\nend")
    _, rows = open_source(path)
    assert next(rows) == Row(1, {"text": "short"})
    assert next(rows) == Row(2, {"text": "exactly10!"})
    with pytest.raises(SourceError, match=r"t\.txt, line 3: longer than 10 characters") as info:
        next(rows)
    assert (info.value.code, info.value.params["line"]) == ("line_long", 3)
    jsonl = write(tmp_path / "t.jsonl", b'{"a": 1}\n{"a": "0123456789"}\n')
    with pytest.raises(SourceError, match=r"t\.jsonl, line 2: longer than 10"):
        open_source(jsonl)  # refused while the columns are found, before any row


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(
            # No tabs: lines with the same number of tabs are a table (Excel's Unicode Text).
            st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00\t"),
            max_size=30,
        ),
        max_size=8,
    )
)
def test_txt_round_trip(lines: list[str]) -> None:
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = "x" + lines[0]  # a leading U+FEFF is read as a byte-order mark
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.txt"
        path.write_bytes("".join(line + "\n" for line in lines).encode())
        _, rows = read(path)
    assert rows == [
        Row(i, {"text": line if line.strip() else None}) for i, line in enumerate(lines, start=1)
    ]


def test_xlsx(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    import datetime as dt

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["id", "text", "score"])
    sheet.append([1, "안녕", 2.5])
    sheet.append([])
    sheet.append([3.0, None, dt.date(2024, 5, 1)])
    sheet.append([4, "x", True, "extra"])
    path = tmp_path / "s.xlsx"
    workbook.save(path)
    source, rows = open_source(path)
    assert (source.format, source.encoding, source.columns) == (
        "xlsx",
        None,
        ["id", "text", "score"],
    )
    assert list(rows) == [
        Row(2, {"id": "1", "text": "안녕", "score": "2.5"}),
        Row(4, {"id": "3", "text": None, "score": "2024-05-01T00:00:00"}),
        Row(5, None, "4 fields, header has 3"),
    ]


def test_unreadable_xlsx(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.xlsx", b"not a zip file")
    with pytest.raises(SourceError, match=r"bad\.xlsx: is not a readable Excel workbook"):
        open_source(path)


# --- refusals and resources ------------------------------------------------------------------


def test_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"x\.docx: unsupported file type '\.docx'.*\.xlsx"):
        open_source(write(tmp_path / "x.docx", b""))
    assert ".ndjson" in SUPPORTED


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"gone\.csv: cannot read the data file \(No such file"):
        open_source(tmp_path / "gone.csv")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.csv", b"text\n" + b"row\n" * 10),
        ("a.jsonl", b'{"a": 1}\n' * 10),
        ("a.json", b"[" + b"{},\n" * 9 + b"{}]"),
        ("a.txt", b"line\n" * 10),
    ],
)
def test_abandoned_iterators_release_files(tmp_path: Path, name: str, data: bytes) -> None:
    path = write(tmp_path / name, data)
    _, unstarted = open_source(path)
    _, closed = open_source(path)
    next(closed)
    closed.close()
    _, dropped = open_source(path)
    next(dropped)
    del unstarted, closed, dropped
    gc.collect()  # a leaked handle would raise ResourceWarning under filterwarnings=error


def test_memory_stays_flat_on_a_large_csv(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    line = "{},{}\n"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("id,text\n")
        for i in range(20_000):
            handle.write(line.format(i, "문장 " * 200 + "end"))
    assert path.stat().st_size > 20_000_000
    tracemalloc.start()
    try:
        source, rows = open_source(path)
        count = sum(1 for _ in rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert source.encoding == "utf-8"
    assert count == 20_000
    assert peak < 4_000_000  # the file is 20 MB; about 1.3 MB is used
