"""A folder export replaces an earlier export whole, refuses a folder of anything else, and
leaves the earlier one as it was when it fails; services run no SQL of their own."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

import services.export
from services.export import ExportOptions, export_project
from storage.export import ExportError, ExportSnapshot
from storage.repository import Repository
from tests.services.export_world import World, build_world


@pytest.fixture
async def world(repo: Repository) -> World:
    return await build_world(repo)


def export(world: World, fmt: str, out: Path, **options: Any) -> list[Path]:
    return export_project(world.path, world.project.slug, fmt, out, ExportOptions(**options)).files


def listing(folder: Path) -> list[str]:
    """The names in `folder`, but the test database's own files."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("test.db"))


async def test_a_new_export_replaces_an_earlier_one_whole(world: World, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(world, "jsonl", out, worker_ids=True)
    assert listing(out) == ["README.md", "data.jsonl"]
    files = export(world, "csv", out)
    assert files == [out / "data.csv", out / "README.md"]
    # The ids of the first export went with it: the card promises pseudonyms for all there is.
    assert listing(out) == ["README.md", "data.csv"]
    assert "pseudonyms: a keyed hash" in (out / "README.md").read_text(encoding="utf-8")
    assert listing(tmp_path) == ["out"]


async def test_the_default_folder_is_replaced_too(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    export_project(world.path, "colours", "label-studio", None)
    folder = tmp_path / "colours-export"
    assert listing(folder) == ["README.md", "label_config.xml", "tasks.json"]
    export_project(world.path, "colours", "labels", None)
    assert listing(folder) == ["README.md", "known.csv", "labels.csv"]


@pytest.mark.parametrize(
    ("files", "shown"),
    [
        ({"notes.txt": "mine"}, "notes.txt"),
        # Only export names, but no card of ours: someone's own data, not an export.
        ({"data.csv": "a,b\n"}, "data.csv"),
        ({"data.csv": "a,b\n", "README.md": "# My data\n"}, "README.md, data.csv"),
    ],
)
async def test_a_folder_of_anything_else_is_refused_and_kept(
    world: World, tmp_path: Path, files: dict[str, str], shown: str
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    with pytest.raises(ExportError, match="not an earlier Labelgram export") as refused:
        export(world, "csv", out)
    assert f"(it holds {shown})" in str(refused.value)
    assert {p.name: p.read_text() for p in out.iterdir()} == files
    assert listing(tmp_path) == ["mine"]


async def test_an_empty_folder_is_used(world: World, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    export(world, "csv", out)
    assert listing(out) == ["README.md", "data.csv"]


async def test_a_failed_export_leaves_the_earlier_one_as_it_was(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    export(world, "jsonl", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*_: object) -> str:
        raise RuntimeError("the card failed")

    monkeypatch.setattr(services.export, "render_card", broken)
    with pytest.raises(RuntimeError):
        export(world, "csv", out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert listing(tmp_path) == ["out"], "no leftovers"


async def test_a_data_file_needs_its_folder(world: World, tmp_path: Path) -> None:
    with pytest.raises(ExportError) as missing:
        export(world, "jsonl", tmp_path / "nodir" / "a.jsonl")
    assert str(missing.value) == (
        f"cannot write {tmp_path / 'nodir' / 'a.jsonl'}: no such folder; create it or choose"
        " another path"
    )
    assert not (tmp_path / "nodir").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="file is a file, not a folder; choose another path"):
        export(world, "jsonl", tmp_path / "file" / "a.jsonl")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ExportError, match="it is a folder; choose another file name"):
        export(world, "csv", tmp_path / "dir.csv")


async def test_the_current_folder_is_never_replaced(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export(world, "csv", tmp_path / "out")
    monkeypatch.chdir(tmp_path / "out")
    with pytest.raises(ExportError, match="is the current folder or holds it"):
        export(world, "csv", Path("."))
    assert listing(tmp_path / "out") == ["README.md", "data.csv"]


# ---------------------------------------------------------------- SQL lives in storage/

_SQL = re.compile(r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.S)
SERVICES = sorted((Path(services.export.__file__).parent).glob("*.py"))


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_services_run_no_sql_of_their_own(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [
        f"{path.name}:{node.lineno}: {node.value[:60]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _SQL.search(node.value)
    ]
    assert found == [], "SQL belongs in storage/"


async def test_the_snapshot_names_the_kinds_of_samples(world: World) -> None:
    with ExportSnapshot(world.path, world.project.slug) as snap:
        assert snap.sample_kinds() == ["text"]
