from __future__ import annotations

import codecs
from pathlib import Path

import pytest

import cli.aggregate
from cli.main import main

# t1: a a b, t2: b b, t3: a b (a tie; mv takes the class the crowd gives most: b, 4 of 8), t4: c
LABELS = """worker,task,label
w1,t1,a
w2,t1,a
w3,t1,b
w1,t2,b
w2,t2,b
w1,t3,a
w2,t3,b
w3,t4,c
"""
MV_OUT = """task,label,confidence,n_labels,tie
t1,a,0.6667,3,0
t2,b,1.0000,2,0
t3,b,0.5000,2,1
t4,c,1.0000,1,0
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["aggregate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_majority_vote_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(write(tmp_path / "l.csv", LABELS)), "--method", "mv")
    assert code == 0
    assert out == MV_OUT
    assert err == "8 labels by 3 workers on 4 tasks, 3 classes; method mv\n"


def test_default_method_is_auto_and_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = write(tmp_path / "l.csv", LABELS)
    code, out, err = run(capsys, str(labels), "-o", str(tmp_path / "out.csv"))
    assert (code, out) == (0, "")
    assert "method auto:" in err
    assert err.splitlines()[1].startswith("auto: hds (too few labels, 8, to compare methods)")
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "task,label,confidence,n_labels,tie"
    assert [line.split(",")[0] for line in lines[1:]] == ["t1", "t2", "t3", "t4"]
    assert [line.split(",")[3] for line in lines[1:]] == ["3", "2", "2", "1"]
    assert all(len(line.split(",")[2]) == 6 for line in lines[1:])  # 4 decimals
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("method", ["mv", "wawa", "ds", "ocds", "hds", "mace", "glad"])
def test_every_method_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str
) -> None:
    code, out, err = run(capsys, str(write(tmp_path / "l.csv", LABELS)), "--method", method)
    assert code == 0
    assert f"method {method}\n" in err
    assert len(out.splitlines()) == 5


def test_unknown_method_is_refused_by_argparse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["aggregate", str(write(tmp_path / "l.csv", LABELS)), "--method", "vote"])
    assert exc.value.code == 2
    assert "invalid choice: 'vote'" in capsys.readouterr().err


def test_extra_columns_any_order_tsv_and_bom(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [line.split(",") for line in LABELS.splitlines()[1:]]
    text = "Label\tcomment\tTask\tseconds\tWorker\n" + "".join(
        f"{y}\tsome, text\t{t}\t1.5\t{w}\n" for w, t, y in rows
    )
    path = tmp_path / "l.tsv"
    path.write_bytes(codecs.BOM_UTF8 + text.encode())
    code, out, _ = run(capsys, str(path), "--method", "mv")
    assert (code, out) == (0, MV_OUT)
    semicolons = write(tmp_path / "l.csv", LABELS.replace(",", ";"))
    assert run(capsys, str(semicolons), "--method", "mv")[:2] == (0, MV_OUT)


def test_quoted_values_and_blank_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = 'worker,task,label\n"w, 1","task\n1",yes\n\n w2 ,"task\n1", yes\n'
    code, out, _ = run(capsys, str(write(tmp_path / "l.csv", text)), "--method", "mv")
    assert code == 0
    assert out == 'task,label,confidence,n_labels,tie\n"task\n1",yes,1.0000,2,0\n'


def test_gold_accuracy_without_using_gold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = write(tmp_path / "l.csv", LABELS)
    gold = write(tmp_path / "g.csv", "task,label,note\nt1,a,x\nt3,b,y\nt9,a,z\nt1,a,again\n")
    code, out, err = run(capsys, str(labels), "--method", "mv", "--gold", str(gold))
    assert code == 0
    assert out == MV_OUT  # t3 stays a 0.5 tie: gold was only compared, never given
    # ... and so t3's b (the crowd's favourite) is scored against gold's b: 2 of 2 now
    assert err.splitlines()[-1] == (
        "accuracy on 2 gold tasks: 100.00% (1 gold tasks without labels)"
    )
    only_unlabelled = write(tmp_path / "g2.csv", "task,label\nt9,a\n")
    code, _, err = run(capsys, str(labels), "--gold", str(only_unlabelled))
    assert code == 0
    assert "no gold task has labels" in err


def expect_refusal(capsys: pytest.CaptureFixture[str], args: list[str], *needles: str) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("labelgram: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


def test_missing_column_lists_the_columns_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "l.csv", "annotator,task,label,extra\nw1,t1,a,x\n")
    expect_refusal(
        capsys,
        [str(path)],
        "l.csv, line 1",
        "needs columns worker, task, label",
        "'annotator', 'task', 'label', 'extra'",
    )


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("worker,task,label\nw1,t1,a\n,t2,b\n", ("l.csv, line 3: empty worker value",)),
        ("worker,task,label\nw1,t1,a\n\nw2,t1,  \n", ("l.csv, line 4: empty label value",)),
        ("worker,task,label\nw1,t1\n", ("l.csv, line 2: empty label value",)),
        ('worker,task,label\nw1,"t\n1",a\nw2,,a\n', ("l.csv, line 4: empty task value",)),
        ("worker,task,label\nw1,t1,a,b\n", ("l.csv, line 2: 4 fields but the header has 3",)),
        ("worker,task,label\n", ("l.csv: has a header but no labels",)),
        ("", ("l.csv: line 1 is empty", "header row")),
    ],
)
def test_bad_rows_give_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needles: tuple[str, ...]
) -> None:
    expect_refusal(capsys, [str(write(tmp_path / "l.csv", text))], *needles)


def test_non_utf8_file_gives_the_byte_offset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"worker,task,label\nw1,t1,caf\xe9\n")
    expect_refusal(capsys, [str(path)], "not UTF-8", "byte offset 27", "line 2", "CSV UTF-8")
    path.write_bytes(codecs.BOM_UTF16_LE + "worker,task,label\n".encode("utf-16-le"))
    expect_refusal(capsys, [str(path)], "is UTF-16 text", "byte offset 0")


def test_byte_offset_is_absolute_across_read_chunks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.aggregate, "_CHECK_CHUNK", 5)
    path = tmp_path / "l.csv"
    good = "worker,task,label\nwé,t1,a\nw2,t1,é\n".encode()
    path.write_bytes(good + b"w3,t1,\xff\n")
    expect_refusal(capsys, [str(path)], f"byte offset {len(good) + 6}", "line 4")
    path.write_bytes(good + b"w3,t1,\xc3")  # cut inside a character at the very end
    expect_refusal(capsys, [str(path)], f"byte offset {len(good) + 6}", "line 4")
    path.write_bytes(good)
    assert run(capsys, str(path))[0] == 0


def test_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect_refusal(capsys, [str(tmp_path / "nope.csv")], "nope.csv: not found")
    labels = write(tmp_path / "l.csv", LABELS)
    expect_refusal(capsys, [str(labels), "--gold", str(tmp_path / "g.csv")], "g.csv: not found")
    expect_refusal(capsys, [str(tmp_path)], "is a folder")


def test_bad_gold_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = write(tmp_path / "l.csv", LABELS)
    gold = write(tmp_path / "g.csv", "task,answer\nt1,a\n")
    expect_refusal(capsys, [str(labels), "--gold", str(gold)], "g.csv, line 1", "'answer'")
    gold = write(tmp_path / "g.csv", "task,label\nt1,a\nt2,b\nt1,b\n")
    expect_refusal(
        capsys, [str(labels), "--gold", str(gold)], "g.csv, line 4", "'b' here but 'a' on line 2"
    )


def test_unwritable_output_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = write(tmp_path / "l.csv", LABELS)
    out = tmp_path / "no" / "such" / "out.csv"
    expect_refusal(capsys, [str(labels), "-o", str(out)], "cannot write the output")
    assert not out.parent.exists()


def test_auto_says_on_one_line_which_method_it_chose_and_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fixture = Path(__file__).parents[1] / "quality" / "fixtures" / "snow_rte_labels.csv"
    code, out, err = run(capsys, str(fixture))
    assert code == 0
    first, reason = err.splitlines()[:2]
    chosen = first.rsplit("method auto:", 1)[1]
    assert reason.startswith((f"auto chose {chosen} (T=", f"auto kept {chosen} (T="))
    assert "held-out labels, 5 folds)" in reason
    rows = out.splitlines()
    assert rows[0] == "task,label,confidence,n_labels,tie"
    assert {row.rsplit(",", 1)[1] for row in rows[1:]} <= {"0", "1"}
    again = run(capsys, str(fixture))
    assert again[1:] == (out, err)  # deterministic
