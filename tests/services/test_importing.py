from __future__ import annotations

import ast
import os
import time
from pathlib import Path

import pytest

from bot.reports import refusal_text, report_text
from bot.texts import LANGUAGES, TEXTS, placeholders, t
from handlers.intake import STALE_UPLOAD_SECONDS, UPLOAD_PREFIX, sweep_uploads
from intake.columns import Columns, IntakeError, resolve_columns
from intake.readers import SourceError, open_source
from services.importing import import_file
from storage.repository import Repository
from tests.conftest import make_spec


async def test_reimport_adds_nothing_and_reports_why(repo: Repository, tmp_path: Path) -> None:
    project = await repo.create_project(make_spec())
    path = tmp_path / "d.csv"
    path.write_text("text,gold\nsky,blue\ngrass,green\n")
    first = await import_file(repo, project.id, path)
    assert (first.rows, first.kept) == (2, 2)
    again = await import_file(repo, project.id, path)
    assert again.kept == 0
    assert again.n_dropped == 2
    assert len(await repo.truths(project.id)) == 2  # the samples are there once
    stored = await repo.imports(project.id)
    assert [r.added for r in stored] == [0, 2]
    assert stored[1].report["kept"] == 2


async def test_same_content_under_a_new_file_is_already_in_project(
    repo: Repository, tmp_path: Path
) -> None:
    project = await repo.create_project(make_spec())
    a, b = tmp_path / "a.csv", tmp_path / "b.jsonl"
    a.write_text("text\nsky\n")
    b.write_text('{"text": "  sky "}\n{"text": "sea"}\n')
    await import_file(repo, project.id, a)
    report = await import_file(repo, project.id, b)
    assert report.kept == 1
    assert report.dropped["already_in_project"].examples == [
        "row 1: same content as a sample already in the project"
    ]


async def test_dry_run_reports_the_same_and_writes_nothing(
    repo: Repository, tmp_path: Path
) -> None:
    project = await repo.create_project(make_spec())
    path = tmp_path / "d.csv"
    path.write_text("text\none\ntwo\n\n")
    dry = await import_file(repo, project.id, path, dry_run=True)
    assert (dry.kept, dry.dry_run) == (2, True)
    assert (await repo.project_status(project.id)).samples == 0
    assert await repo.imports(project.id) == []
    real = await import_file(repo, project.id, path)
    assert real.to_dict()["kept"] == dry.to_dict()["kept"]


async def test_failure_halfway_leaves_the_project_as_it_was(
    repo: Repository, tmp_path: Path
) -> None:
    project = await repo.create_project(make_spec())
    path = tmp_path / "d.json"
    good = ",".join(f'{{"text": "item {i}"}}' for i in range(2500))
    path.write_text(f"[{good}, this is not json")  # breaks after more than two batches
    with pytest.raises(SourceError):
        await import_file(repo, project.id, path)
    assert (await repo.project_status(project.id)).samples == 0
    assert await repo.imports(project.id) == []


async def test_a_row_dropped_by_the_database_is_not_also_flagged(
    repo: Repository, tmp_path: Path
) -> None:
    project = await repo.create_project(make_spec())
    text = "The delivery arrived two days late and the box was badly damaged on one side"
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(f"text\n{text}.\n")
    second.write_text(f"text\n{text}!\n{text}.\n")  # row 3 is near row 2 and in the project
    await import_file(repo, project.id, first)
    report = await import_file(repo, project.id, second)
    assert report.dropped["already_in_project"].count == 1
    assert "near_duplicate" not in report.flagged
    assert report.kept == 1


# --- what becomes a control task, and saying so (issue 12 item 9) ---------------------------


@pytest.mark.parametrize("column", ["label", "answer", "truth"])
async def test_an_answer_column_not_named_gold_is_work_and_said_so(
    repo: Repository, tmp_path: Path, column: str
) -> None:
    project = await repo.create_project(make_spec())  # default gold rate: 10% of cards
    path = tmp_path / "d.csv"
    path.write_text(f"text,{column}\nsky,blue\ngrass,green\nfire,red\nsea,blue\n")
    report = await import_file(repo, project.id, path)
    assert (report.kept, report.work, report.control, report.no_work) == (4, 4, 0, False)
    assert report.columns == {"text": "text"}
    assert report.unused_answers == [column]
    assert await repo.truths(project.id) == {}
    assert (await repo.sample_counts(project.id)).work == 4
    summary = report.summary()
    assert "columns: text='text', gold=(none)" in summary
    assert f"column '{column}' is not taken as gold" in summary
    assert f"--gold-col {column}" in summary
    assert "added: 4 to label, 0 control tasks" in summary


async def test_a_gold_column_makes_control_tasks_and_a_project_without_work_is_told(
    repo: Repository, tmp_path: Path
) -> None:
    project = await repo.create_project(make_spec())
    gold = tmp_path / "g.csv"
    gold.write_text("text,gold\nsky,blue\ngrass,green\nfire,red\nsea,blue\n")
    dry = await import_file(repo, project.id, gold, dry_run=True)
    assert (dry.work, dry.control, dry.no_work) == (0, 4, True)
    assert "would add: 0 to label, 4 control tasks" in dry.summary()
    report = await import_file(repo, project.id, gold)
    assert (report.work, report.control, report.no_work) == (0, 4, True)
    assert report.columns == {"text": "text", "gold": "gold"}
    assert "warning: the project has control tasks but nothing to label" in report.summary()
    assert report.to_dict()["control"] == 4
    work = tmp_path / "w.csv"
    work.write_text("text\nstone\n")
    more = await import_file(repo, project.id, work)
    assert (more.work, more.control, more.no_work) == (1, 0, False)
    again = tmp_path / "g2.csv"
    again.write_text("text,gold\nleaf,green\n")
    last = await import_file(repo, project.id, again)  # control only, but work is there
    assert (last.work, last.control, last.no_work) == (0, 1, False)
    assert "warning" not in last.summary()


@pytest.mark.parametrize("column", ["gold", "truth"])
async def test_without_a_gold_rate_answers_are_work(
    repo: Repository, tmp_path: Path, column: str
) -> None:
    # No control tasks can come of it, so a "truth" column (the demo's) is read as well.
    project = await repo.create_project(make_spec(quality={"gold_rate": 0}))
    path = tmp_path / "d.csv"
    path.write_text(f"text,{column}\nsky,blue\ngrass,green\n")
    report = await import_file(repo, project.id, path)
    assert (report.work, report.control, report.no_work) == (2, 0, False)
    assert report.columns["gold"] == column
    assert len(await repo.truths(project.id)) == 2  # the answers are kept all the same


async def test_the_report_a_bot_user_gets_is_in_their_language(
    repo: Repository, tmp_path: Path
) -> None:
    project = await repo.create_project(make_spec())
    path = tmp_path / "d.csv"
    path.write_text("text,answer,gold\nsky,blue,blue\n,red,red\nsky,blue,blue\n")
    report = await import_file(repo, project.id, path)
    ko = report_text(report, "ko")
    assert ko.startswith("d.csv (csv, utf-8): 3행 읽음, 1개 유지")
    assert "열 매핑: 텍스트=“text”, 정답(gold)=“gold”" in ko
    assert "“answer” 열은 정답으로 쓰지 않았어요" in ko
    assert "gold=answer" in ko
    assert "추가했어요: 라벨링할 샘플 0개, 확인용 문제 1개" in ko
    assert "라벨링할 샘플이 없어서" in ko
    assert "제외 — 빈 텍스트: 1개 (3행)" in ko
    assert "제외 — 앞 행과 같음: 1개 (4행)" in ko
    for english in ("rows read", "kept", "dropped", "columns", "control", "same content"):
        assert english not in ko
    en = report_text(report, "en")
    assert "Columns: text=“text”, gold=“gold”" in en
    assert "Added: 0 samples to label, 1 control tasks." in en
    assert "Dropped — empty: 1\n    row 3: empty or only whitespace" in en


def test_a_refusal_is_told_in_the_users_language(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_bytes(b'text\n"never closed\n')
    with pytest.raises(SourceError) as info:
        list(open_source(path)[1])
    assert refusal_text("ko", info.value).startswith("“cut.csv” 파일의 2번째 줄에서 시작한")
    assert refusal_text("en", info.value).startswith("cut.csv, line 2: a quoted field")
    plain = SourceError("x.csv: the file is empty; it needs a header row")
    assert refusal_text("en", plain) == str(plain)  # no code: the engine's own words,
    said = refusal_text("ko", plain)  # introduced in Korean
    assert said.startswith("파일을 읽지 못했어요.")
    assert said.endswith(str(plain))


def test_a_missing_column_is_told_in_the_users_language() -> None:
    with pytest.raises(IntakeError) as info:
        resolve_columns(["review", "answer"], Columns(text="reveiw"))
    said = refusal_text("ko", info.value)
    expected = "캡션에 적힌 텍스트 열(“reveiw”)이 파일에 없어요. 파일에 있는 열: review, answer"
    assert said == expected
    assert "no text column 'reveiw'" not in said
    assert refusal_text("en", info.value).startswith("the caption names the text column")
    with pytest.raises(IntakeError) as info:
        resolve_columns(["a", "b"], Columns())
    assert "text=열 또는 media=열" in refusal_text("ko", info.value)


_RAISERS = {"SourceError", "MediaError", "IntakeError", "ArchiveRefused", "refuse"}
_IMPLIED = {"refuse": {"file", "member"}}  # intake.archive._Part.refuse adds these


def _refusals() -> list[tuple[str, str, set[str]]]:
    """(where, code, params given) of every coded refusal in the engine's source."""
    found = []
    for source in sorted((Path(__file__).parents[2] / "intake").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in _RAISERS or len(node.args) < 2:
                continue
            code = node.args[1]
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                params = {k.arg for k in node.keywords if k.arg} | _IMPLIED.get(name, set())
                found.append((f"{source.name}:{node.lineno}", code.value, params))
    return found


def test_every_refusal_code_has_texts_in_both_languages() -> None:
    refusals = _refusals()
    assert len(refusals) >= 15
    for where, code, params in refusals:
        key = f"refused_{code}"
        assert key in TEXTS, where
        for lang in LANGUAGES:
            assert placeholders(TEXTS[key][lang]) <= params, (where, lang)
            t(lang, key, **dict.fromkeys(params, "1"))


def test_upload_folders_left_by_a_killed_bot_are_swept(tmp_path: Path) -> None:
    now = time.time()
    stale = tmp_path / f"{UPLOAD_PREFIX}old"
    fresh = tmp_path / f"{UPLOAD_PREFIX}new"
    other = tmp_path / "someone-else"
    for folder in (stale, fresh, other):
        folder.mkdir()
        (folder / "data.xlsx").write_bytes(b"x")
    old = now - STALE_UPLOAD_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    assert sweep_uploads(now, tmp_path) == 1
    assert not stale.exists()
    assert fresh.exists()  # may be an import under way
    assert other.exists()  # not ours
