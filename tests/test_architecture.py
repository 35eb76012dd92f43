"""The rooms of the house and the one way imports flow between them (docs/ARCHITECTURE.md).

Read from the source, not imported: an arrow back up, a circle or a module that outgrew its
room fails here with the line that did it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# room -> the rooms it may import (besides itself). Wiring at the top, pure code at the bottom.
ALLOWED: dict[str, set[str]] = {
    "main": {"cli"},
    "cli": {"app", "bot", "services", "storage", "intake", "quality", "config", "sandbox"},
    "app": {"bot", "handlers", "services", "storage", "config"},
    "handlers": {"bot", "services", "storage", "intake", "quality", "config"},
    "bot": {"storage", "intake", "quality", "config"},
    "services": {"storage", "intake", "quality", "config"},
    # The sandbox is a Bot API server and a simulated crowd; its fault harness seeds a
    # database and starts the bot as a separate process (`labelgram run`), never in-process.
    "sandbox": {"storage", "config"},
    "storage": {"config", "intake"},  # intake.dedup's key set stages an import's keys
    "intake": {"config"},
    "quality": set(),
    "config": {"quality"},  # a project file names a consensus method the engine has
}
# Only these rooms talk to Telegram (the sandbox speaks the Bot API over HTTP, not through PTB).
TELEGRAM_ROOMS = {"app", "cli", "bot", "handlers"}
MAX_LINES = 600


def product_modules() -> dict[str, Path]:
    """Module name -> file, for every product module."""
    found = {"main": ROOT / "main.py", "app": ROOT / "app.py"}
    for room in ALLOWED:
        folder = ROOT / room
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import that runs when the module loads or a function runs;
    imports only for type checkers are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


MODULES = product_modules()


def room_of(module: str) -> str:
    return module.split(".")[0]


def local(module: str) -> str | None:
    """The product module an import names (a `from x import name` may name a module)."""
    while module:
        if module in MODULES:
            return module
        module = module.rpartition(".")[0]
    return None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_flow_one_way(module: str) -> None:
    room = room_of(module)
    wrong = []
    for line, name in imports_of(MODULES[module]):
        target = room_of(name)
        if target in ("telegram",) and room not in TELEGRAM_ROOMS:
            wrong.append(f"{MODULES[module].name}:{line} imports {name} (no Telegram here)")
        if local(name) is None or target == room:
            continue
        if target not in ALLOWED[room]:
            wrong.append(f"{MODULES[module].name}:{line} imports {name} ({room} -> {target})")
    assert wrong == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("handlers.")))
def test_feature_handlers_share_only_common(module: str) -> None:
    siblings = {
        local(name)
        for _, name in imports_of(MODULES[module])
        if room_of(name) == "handlers" and local(name) not in (None, "handlers")
    }
    assert siblings - {"handlers.common"} == set()


def test_no_circles_between_modules() -> None:
    graph = {
        m: {t for _, name in imports_of(p) if (t := local(name)) and t != m}
        for m, p in MODULES.items()
    }
    # A package's __init__ that re-exports is not an edge back: drop edges into packages.
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    graph = {m: {t for t in ts if t not in packages} for m, ts in graph.items()}
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert circles == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_outgrows_its_room(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[module]} has {lines} lines"


def test_a_violation_is_seen(tmp_path: Path) -> None:
    """The checker itself: an arrow back up is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("from handlers import labeling\nimport telegram\n", encoding="utf-8")
    assert [n for _, n in imports_of(bad)] == ["handlers", "handlers.labeling", "telegram"]
    assert room_of("handlers.labeling") not in ALLOWED["storage"]
