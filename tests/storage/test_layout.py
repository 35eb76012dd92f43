"""The storage package's layout rules: a light read path for the check's child process, and
no module reaching into another's private names."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from config.project import ProjectSpec
from storage.snapshot import exam_size_of
from tests.conftest import make_spec

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "storage"
PRODUCT = ["app.py", "main.py", "bot", "cli", "config", "handlers", "intake", "quality"]
PRODUCT += ["sandbox", "services", "storage", "bench"]
HEAVY = ("aiosqlite", "pydantic", "config", "storage.repository", "storage.db", "telegram")


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


@pytest.mark.parametrize("module", ["storage.snapshot", "services.check_runner"])
def test_the_check_child_imports_no_heavy_storage(module: str) -> None:
    loaded = _loaded_after(f"import {module}")
    heavy = sorted(m for m in loaded if m.startswith(HEAVY))
    assert heavy == [], f"importing {module} loads {heavy[:10]}"


def _python_files(names: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in names:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def test_nothing_imports_a_private_name_of_storage() -> None:
    found = []
    for path in _python_files(PRODUCT):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("storage"):
                found += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert found == []


def test_storage_modules_touch_only_their_own_private_names() -> None:
    found = []
    for path in sorted(STORAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")):
                continue
            if node.attr.startswith("__") or (
                isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            ):
                continue
            found.append(f"{path.name}:{node.lineno}: .{node.attr}")
    assert found == []


@pytest.mark.parametrize("quality", [None, {}, {"exam_size": 4}, {"exam_size": 0}])
def test_snapshot_reads_the_exam_size_the_spec_would_give(quality: dict[str, int] | None) -> None:
    stored = json.loads(make_spec().model_dump_json())
    if quality is None:
        del stored["quality"]  # a spec stored before the quality engine
    else:
        stored["quality"] = quality
    text = json.dumps(stored)
    assert exam_size_of(text) == ProjectSpec.model_validate_json(text).quality.exam_size
