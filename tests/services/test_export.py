"""Exports: every format on a project with gold, a review, an undo, a suspended worker and two
guide versions; the round trip through `labelgram aggregate`; pseudonyms; a consistent
snapshot while labeling goes on."""

from __future__ import annotations

import asyncio
import csv
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from cli.main import main
from quality.check import CheckSettings
from quality.check import run_check as check_arrays
from services.check_runner import check_input
from services.export import ExportOptions, export_project
from storage.export import (
    CHECK_ARRAYS_SQL,
    CHECK_LABELS_SQL,
    KNOWN_SQL,
    SAMPLE_JSON_SQL,
    SAMPLE_ROW_SQL,
    ExportError,
    ExportSnapshot,
    UnknownProject,
    pseudonym,
)
from storage.repository import Repository
from storage.snapshot import read_labels
from tests.services.export_world import (
    BLUE,
    GREEN,
    REVIEWER,
    SUSPENDED,
    World,
    answer,
    build_world,
)


@pytest.fixture
async def world(repo: Repository) -> World:
    return await build_world(repo)


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def names(world: World) -> dict[int, str]:
    with ExportSnapshot(world.path, world.project.slug) as snap:
        return snap.worker_names()


def export(world: World, fmt: str, out: Path, **options: Any) -> list[Path]:
    return export_project(world.path, world.project.slug, fmt, out, ExportOptions(**options)).files


# ---------------------------------------------------------------- jsonl and the card


async def test_jsonl_carries_every_label_with_its_provenance(world: World, tmp_path: Path) -> None:
    files = export(world, "jsonl", tmp_path / "out")
    assert [f.name for f in files] == ["data.jsonl", "README.md"]
    samples = {s["id"]: s for s in jsonl(files[0])}
    assert list(samples) == ["g0", "g1", "s0", "s1", "s2", "s3", "s4", "s5"]
    who = names(world)

    gold = samples["g0"]
    assert (gold["status"], gold["answer"], gold["decided_by"]) == ("control", "red", "gold")
    suspended = [x for x in gold["labels"] if x["worker"] == who[SUSPENDED]]
    assert [(x["option"], x["worker_suspended"]) for x in suspended] == [("green", True)]

    reviewed = samples["s0"]
    assert (reviewed["answer"], reviewed["decided_by"], reviewed["status"]) == (
        "blue",
        "review",
        "done",
    )
    assert [(r["reviewer"], r["option"], r["option_text"]) for r in reviewed["reviews"]] == [
        (who[REVIEWER], "blue", "Blue")
    ]
    # The undone label is kept, marked; the one given instead follows it.
    mine = [(x["option"], x["retracted"]) for x in reviewed["labels"] if x["worker"] == who[2]]
    assert mine == [("red", True), ("green", False)]
    assert reviewed["meta"] == {"source": "src0"}
    assert gold["meta"] is None, "no meta columns were kept for it"

    decided = samples["s2"]
    assert (decided["decided_by"], decided["method"], decided["answer"]) == (
        "consensus",
        "auto:hds",
        "green",
    )
    assert 0.5 < decided["confidence"] <= 1.0
    label = decided["labels"][0]
    assert label["seconds"] == 1.5
    assert label["answered_at"] - label["shown_at"] == pytest.approx(1.5)
    assert label["answered_at"] > 1.7e9, "Unix seconds"
    versions = {x["guide_version"] for s in samples.values() for x in s["labels"]}
    assert versions == {1, 2}
    assert samples["s5"]["answer"] is None
    assert samples["s5"]["status"] == "needs_labels"
    reports = [r for s in samples.values() for r in s["reports"]]
    assert [(r["worker"], r["reason"]) for r in reports] == [(who[4], "unclear")]
    # Every label of the project is there once; n_labels counts the live ones.
    total = await world.repo.one(
        "SELECT COUNT(*) FROM labels WHERE project_id = ?", (world.project.id,)
    )
    assert total is not None
    assert sum(len(s["labels"]) for s in samples.values()) == total[0]
    for s in samples.values():
        assert s["n_labels"] == sum(not x["retracted"] for x in s["labels"])


def _typed(value: Any, feature: dict[str, Any]) -> bool:
    """Does a JSON value fit a `datasets` feature as the card declares it (None fits all)?"""
    if value is None:
        return True
    if "list" in feature:
        fields = {f["name"]: f for f in feature["list"]}
        return isinstance(value, list) and all(
            isinstance(v, dict)
            and set(v) == set(fields)
            and all(_typed(v[k], fields[k]) for k in v)
            for v in value
        )
    if "struct" in feature:
        fields = {f["name"]: f for f in feature["struct"]}
        return isinstance(value, dict) and set(value) <= set(fields)
    if feature.get("dtype") == "null":
        return False  # only None fits, and None returned above
    kinds: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "int64": int,
        "float64": (int, float),
        "bool": bool,
    }
    wanted = kinds[feature["dtype"]]
    return isinstance(value, wanted) and not (feature["dtype"] == "int64" and value is True)


async def test_the_card_describes_the_data_file_as_the_hub_reads_it(
    world: World, tmp_path: Path
) -> None:
    export(world, "jsonl", tmp_path / "out")
    text = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    _, header, body = text.split("---\n", 2)
    meta = yaml.safe_load(header)
    assert meta["license"] == "cc-by-4.0"
    assert meta["language"] == ["en", "ko"]
    assert meta["task_categories"] == ["text-classification"]
    assert meta["size_categories"] == ["n<1K"]
    (config,) = meta["configs"]
    assert config["data_files"] == [{"split": "train", "path": "data.jsonl"}]
    features = {f["name"]: f for f in meta["dataset_info"]["features"]}
    for sample in jsonl(tmp_path / "out" / "data.jsonl"):
        assert set(sample) == set(features), "every row has exactly the declared columns"
        for key, value in sample.items():
            assert _typed(value, features[key]), (sample["id"], key, value)
    assert "Which colour is each sample? A test project." in body
    assert "| `red` | Red / 빨강 | 4 | 8 |" in body
    assert "| 1 | " in body
    assert " | 13 | " in body
    assert " | 6 | " in body
    assert "Version 1:\n\n> **en** Pick the main colour." in body, "the older guide's text"
    assert "Pick the colour that covers most of it." in body
    assert "Krippendorff's alpha (nominal): 0.333" in body
    assert "Fleiss' kappa: 0.156" in body
    assert "suspended workers: 1; their 4 live labels" in body
    assert "reviewer decisions: 1" in body
    assert "- unclear: 1" in body
    assert "`test.csv`: 0 rows read, 8 added, 0 dropped" in body
    assert "pseudonyms" in body
    assert "Telegram user ids" not in body


# ---------------------------------------------------------------- csv


async def test_csv_is_one_flat_row_per_sample(world: World, tmp_path: Path) -> None:
    (data,) = export(world, "csv", tmp_path / "flat.csv")
    got = rows(data)
    assert [r["id"] for r in got] == ["g0", "g1", "s0", "s1", "s2", "s3", "s4", "s5"]
    first = got[2]
    assert {k: first[k] for k in ("text", "answer", "confidence", "n_labels", "status")} == {
        "text": "plain 0",
        "answer": "blue",
        "confidence": "1.0000",
        "n_labels": "3",
        "status": "done",
    }
    assert not (tmp_path / "README.md").exists(), "a single file gets no card"
    done = rows(export(world, "csv", tmp_path / "done.csv", status="done")[0])
    assert [r["id"] for r in done] == ["s0", "s1", "s2"]


# ---------------------------------------------------------------- labels and the round trip


async def test_labels_are_exactly_the_ones_the_check_aggregates(
    world: World, tmp_path: Path
) -> None:
    labels_file, known_file, _ = export(world, "labels", tmp_path / "out")
    got = sorted((r["worker"], r["task"], r["label"]) for r in rows(labels_file))
    data = read_labels(world.path, world.project.id)
    who = names(world)
    ext: dict[int, str] = dict(
        await world.repo.all(
            "SELECT id, ext_id FROM samples WHERE project_id = ?", (world.project.id,)
        )
    )
    keys = ["red", "green", "blue"]
    keep = ~data.suspended[data.worker]
    expected = sorted(
        (who[int(data.worker_ids[w])], ext[int(data.sample_ids[t])], keys[y])
        for t, w, y in zip(data.task[keep], data.worker[keep], data.label[keep], strict=True)
    )
    assert got == expected
    assert who[SUSPENDED] not in {w for w, _, _ in got}
    assert [tuple(r.values()) for r in rows(known_file)] == [
        ("g0", "red", "gold"),
        ("g1", "red", "gold"),
        ("s0", "blue", "review"),
    ]


@pytest.mark.parametrize("method", ["auto", "mv", "ds", "glad"])
async def test_aggregate_with_known_gives_the_checks_answers(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str
) -> None:
    labels_file, known_file, _ = export(world, "labels", tmp_path / "out")
    out = tmp_path / "consensus.csv"
    code = main(
        [
            "aggregate",
            str(labels_file),
            "--known",
            str(known_file),
            "--classes",
            "red,green,blue",
            "--method",
            method,
            "-o",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    cli = {r["task"]: (r["label"], float(r["confidence"])) for r in rows(out)}

    data = read_labels(world.path, world.project.id)
    result = check_arrays(check_input(data), CheckSettings(method=method, dynamic=False))
    ext: dict[int, str] = dict(
        await world.repo.all(
            "SELECT id, ext_id FROM samples WHERE project_id = ?", (world.project.id,)
        )
    )
    keys = ["red", "green", "blue"]
    bot = {}
    for sid, chosen, conf in zip(
        data.sample_ids.tolist(),
        result.consensus.label.tolist(),
        result.consensus.confidence.tolist(),
        strict=True,
    ):
        if chosen >= 0:
            bot[ext[sid]] = (keys[chosen], conf)
    assert {t: a for t, (a, _) in cli.items()} == {t: a for t, (a, _) in bot.items()}
    for task, (_, conf) in bot.items():
        assert cli[task][1] == pytest.approx(conf, abs=1e-4)
    # What the bot stored for the samples its check decides (not gold, not reviewed).
    stored = await world.repo.all(
        "SELECT s.ext_id, o.key FROM samples AS s JOIN options AS o ON o.id = s.consensus"
        " WHERE s.project_id = ? AND s.gold = 0",
        (world.project.id,),
    )
    if method == "auto":
        assert {t: bot[t][0] for t, _ in stored} == dict(stored)


# ---------------------------------------------------------------- label studio


def label_studio_accepts(tasks: Any, config_keys: set[str]) -> list[str]:
    """What Label Studio's importer would refuse in these tasks (empty: it accepts them).

    Follows label_studio/tasks/validation.py `TaskValidator.validate` (a task is a dict with
    a dict `data` holding every key the labeling config reads; `annotations` a list of dicts
    each with a list `result`; `meta` a dict) and label_studio/tasks/serializers.py
    `BaseTaskSerializerBulk._insert_valid_completed_by` (a `completed_by` must be the email
    or id of a member of the instance, or absent) and `add_annotations` (`lead_time` and
    `ground_truth` are popped as given; a missing `ground_truth` means True).
    """
    problems: list[str] = []
    if not isinstance(tasks, list) or not tasks:
        return ["the file must be a non-empty list of tasks"]
    for i, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            problems.append(f"task {i}: no dict 'data'")
            continue
        for key in config_keys:
            if key not in task["data"]:
                problems.append(f'task {i}: "{key}" key is expected in task data')
            elif not isinstance(task["data"][key], str | int | float):
                problems.append(f"task {i}: data[{key!r}] is not text")
        if not isinstance(task.get("meta", {}), dict | list):
            problems.append(f"task {i}: meta must be a dict")
        annotations = task.get("annotations", [])
        if not isinstance(annotations, list):
            problems.append(f"task {i}: annotations must be a list")
            continue
        for annotation in annotations:
            if not isinstance(annotation, dict) or not isinstance(annotation.get("result"), list):
                problems.append(f"task {i}: an annotation without a list 'result'")
            elif "completed_by" in annotation:
                problems.append(f"task {i}: completed_by names a user Label Studio may not have")
            elif "ground_truth" not in annotation:
                problems.append(f"task {i}: ground_truth missing (Label Studio reads True)")
            elif "lead_time" not in annotation:
                problems.append(f"task {i}: no lead_time")
            elif not isinstance(annotation["lead_time"], float | int | type(None)):
                problems.append(f"task {i}: lead_time is not a number")
    return problems


async def test_label_studio_tasks_pass_the_importers_checks(world: World, tmp_path: Path) -> None:
    data, config, _ = export(world, "label-studio", tmp_path / "ls")
    tasks = json.loads(data.read_text(encoding="utf-8"))
    xml = config.read_text(encoding="utf-8")
    keys = {part.split('"')[0] for part in xml.split('value="$')[1:]}
    assert keys == {"text"}
    assert label_studio_accepts(tasks, keys) == []
    # The checker itself refuses what the importer refuses.
    assert label_studio_accepts([{"data": {}}], keys) == [
        'task 0: "text" key is expected in task data'
    ]
    broken = json.loads(json.dumps(tasks[0]))
    broken["annotations"][0]["completed_by"] = 12345
    del broken["annotations"][1]["ground_truth"]
    assert len(label_studio_accepts([broken], keys)) == 2

    by_id = {t["data"]["id"]: t for t in tasks}
    choices = {
        o["value"]["choices"][0] for t in tasks for a in t["annotations"] for o in a["result"]
    }
    assert choices <= {"red", "green", "blue"}
    assert all(f'<Choice value="{c}"' in xml for c in ("red", "green", "blue"))
    for task in tasks:
        for annotation in task["annotations"]:
            (result,) = annotation["result"]
            assert (result["type"], result["from_name"], result["to_name"]) == (
                "choices",
                "label",
                "text",
            )
            assert annotation["ground_truth"] is (annotation["meta"]["kind"] == "gold")
    gold = by_id["g0"]["annotations"]
    assert [a["meta"]["kind"] for a in gold] == ["label", "label", "label", "gold"]
    assert [a["meta"]["worker_suspended"] for a in gold[:3]] == [False, False, True]
    reviewed = by_id["s0"]
    kinds = [a["meta"]["kind"] for a in reviewed["annotations"]]
    assert kinds == ["label", "label", "label", "review"], "the undone label is not one"
    review = reviewed["annotations"][-1]
    assert review["meta"]["reviewer"] == names(world)[REVIEWER]
    assert review["result"][0]["value"]["choices"] == ["blue"]
    assert all(a["lead_time"] == 1.5 for a in gold[:3])
    meta = reviewed["meta"]["labelgram"]
    assert meta["retracted_labels"] == 1
    # The importer keeps a task's meta but not an annotation's: the provenance is in both.
    assert [p["annotation"] for p in meta["annotations"]] == [
        a["id"] for a in reviewed["annotations"]
    ]
    ids = [a["id"] for t in tasks for a in t["annotations"]]
    assert ids == list(range(1, len(ids) + 1))


# ---------------------------------------------------------------- pseudonyms


async def test_pseudonyms_are_stable_per_project_and_differ_across_projects(
    repo: Repository, tmp_path: Path
) -> None:
    first = await build_world(repo, "first")
    second = await build_world(repo, "second")

    def workers(world: World, out: str, **options: Any) -> list[str]:
        labels_file = export(world, "labels", tmp_path / out, **options)[0]
        return sorted({r["worker"] for r in rows(labels_file)})

    a1, a2 = workers(first, "a1"), workers(first, "a2")
    b = workers(second, "b")
    assert a1 == a2
    assert len(a1) == 3
    assert all(w.startswith("w-") and len(w) == 14 for w in a1)
    assert set(a1).isdisjoint(b), "the same workers get other names in another project"
    ids = workers(first, "ids", worker_ids=True)
    assert ids == ["1", "2", "4"]
    card = export(first, "jsonl", tmp_path / "ids-card", worker_ids=True)[-1]
    assert "Telegram user ids" in card.read_text(encoding="utf-8")
    names_only = (tmp_path / "a1" / "labels.csv").read_text(encoding="utf-8")
    assert "W1" not in names_only
    assert pseudonym(b"k", 1) != pseudonym(b"other", 1)
    assert pseudonym(b"k", 1) == pseudonym(b"k", 1)


async def test_projects_made_before_exports_get_a_secret(tmp_path: Path) -> None:
    import sqlite3

    from storage.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:8], start=1):
        db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    db.execute(
        "INSERT INTO projects (slug, name, question, guide, overlap, assignment_timeout, spec,"
        " created_at) VALUES ('old', 'Old', '{}', '{}', 1, 60, '{}', 0)"
    )
    db.commit()
    db.close()
    with pytest.raises(ExportError, match="predates exports"):
        export_project(path, "old", "jsonl", tmp_path / "x.jsonl")
    async with Repository(path) as repo:
        secrets = await repo.all("SELECT project_id, length(secret) FROM export_secrets")
    assert secrets == [(1, 32)]


# ---------------------------------------------------------------- a snapshot while labeling


async def test_an_export_is_one_snapshot_while_labeling_goes_on(
    world: World, tmp_path: Path
) -> None:
    before = export(world, "jsonl", tmp_path / "before.jsonl")[0].read_text(encoding="utf-8")
    started, written = threading.Event(), threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 0:  # the snapshot is open: let the writes in, then read on
            started.set()
            assert written.wait(10)

    job = asyncio.create_task(
        asyncio.to_thread(
            export_project,
            world.path,
            world.project.slug,
            "jsonl",
            tmp_path / "during.jsonl",
            None,
            progress,
        )
    )
    assert await asyncio.to_thread(started.wait, 10)
    repo = world.repo
    await answer(repo, 2, world.project, BLUE, 0.0 + 10**10)
    await answer(repo, 2, world.project, GREEN, 0.0 + 10**10)
    assert (await repo.undo_last(2, world.project.id, now=10**10 + 5)).status.value == "undone"
    await repo.write("UPDATE projects SET guide_version = 3 WHERE id = ?", (world.project.id,))
    written.set()
    result = await job
    during = result.files[0].read_text(encoding="utf-8")
    assert during == before
    after = export(world, "jsonl", tmp_path / "after.jsonl")[0].read_text(encoding="utf-8")
    assert after != before
    assert (
        sum(len(s["labels"]) for s in jsonl(tmp_path / "after.jsonl"))
        == sum(len(s["labels"]) for s in jsonl(tmp_path / "before.jsonl")) + 2
    )


# ---------------------------------------------------------------- refusals and progress


async def test_unknown_project_format_or_status_is_refused(world: World, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(UnknownProject, match="no project 'nope'; projects: colours"):
        export_project(world.path, "nope", "jsonl", out / "a")
    with pytest.raises(ExportError, match="formats: jsonl, csv, labels, label-studio"):
        export_project(world.path, "colours", "xml", out / "b")
    with pytest.raises(ExportError, match="statuses: done, all"):
        export_project(world.path, "colours", "jsonl", out / "c", ExportOptions(status="x"))
    with pytest.raises(ExportError, match="give a folder"):
        export_project(world.path, "colours", "jsonl", out / "d.jsonl", ExportOptions(media=True))
    assert not out.exists(), "a refused export writes nothing"
    by_id = export_project(world.path, str(world.project.id), "csv", tmp_path / "e.csv")
    assert by_id.counts["samples"] == 8


async def test_progress_counts_up_to_the_samples_written(world: World, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    export_project(
        world.path,
        "colours",
        "jsonl",
        tmp_path / "p.jsonl",
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[0] == (0, 8)
    assert seen[-1] == (8, 8)
    assert np.all(np.diff([d for d, _ in seen]) >= 0)


async def test_the_streams_never_sort_in_a_temporary_btree(world: World) -> None:
    """Walked through an index in another order, SQLite would sort every row of the project
    before the first came out: memory growing with the project, not flat."""
    with ExportSnapshot(world.path, world.project.slug) as snap:
        for sql in (
            SAMPLE_JSON_SQL.replace("{done}", ""),
            SAMPLE_ROW_SQL.replace("{done}", ""),
            CHECK_LABELS_SQL,
            CHECK_ARRAYS_SQL,
            KNOWN_SQL,
        ):
            plan = [
                r[3]
                for r in snap.db.execute(f"EXPLAIN QUERY PLAN {sql}", {"p": 1, "method": None})
            ]
            assert not any("TEMP B-TREE" in step for step in plan), plan
        joined = " | ".join(
            r[3]
            for r in snap.db.execute(
                f"EXPLAIN QUERY PLAN {SAMPLE_JSON_SQL.replace('{done}', '')}",
                {"p": 1, "method": None},
            )
        )
        assert "SEARCH l USING INDEX labels_project_sample" in joined
        assert "SEARCH r USING INDEX reports_sample" in joined
        assert "SEARCH r USING INDEX reviews_sample" in joined


async def test_a_project_without_meta_columns_declares_meta_null(
    repo: Repository, tmp_path: Path
) -> None:
    from storage.models import SampleIn
    from tests.conftest import make_spec

    project = await repo.create_project(make_spec())
    await repo.import_samples(project.id, [SampleIn(ext_id="a", text="one")])
    export_project(repo.path, project.slug, "jsonl", tmp_path / "out")
    header = (tmp_path / "out" / "README.md").read_text(encoding="utf-8").split("---\n")[1]
    features = {f["name"]: f for f in yaml.safe_load(header)["dataset_info"]["features"]}
    (sample,) = jsonl(tmp_path / "out" / "data.jsonl")
    assert set(sample) == set(features)
    assert features["meta"] == {"name": "meta", "dtype": "null"}
    assert sample["meta"] is None
    assert features["reviews"]["list"][0]["name"] == "reviewer"


async def test_a_forgotten_workers_labels_keep_their_pseudonym(
    world: World, tmp_path: Path
) -> None:
    before = names(world)[4]
    first = jsonl(export(world, "jsonl", tmp_path / "before.jsonl")[0])
    theirs = [(s["id"], x["option"]) for s in first for x in s["labels"] if x["worker"] == before]
    assert theirs
    assert (await world.repo.forget_worker(4)).known
    after = jsonl(export(world, "jsonl", tmp_path / "after.jsonl")[0])
    assert [
        (s["id"], x["option"]) for s in after for x in s["labels"] if x["worker"] == before
    ] == (theirs)
    ids = jsonl(export(world, "jsonl", tmp_path / "ids.jsonl", worker_ids=True)[0])
    shown = {x["worker"] for s in ids for x in s["labels"]}
    assert before in shown, "no Telegram id is left to show for them"
    assert "4" not in shown
    assert {"1", "2"} <= shown
