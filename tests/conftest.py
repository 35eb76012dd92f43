from __future__ import annotations

import os

# Opt in to python-telegram-bot's timedelta retry_after now: without it every 429 emits a
# deprecation warning, which filterwarnings=error turns into a failure.
os.environ.setdefault("PTB_TIMEDELTA", "1")

# Let the processes the tests start write bytecode (to the gitignored __pycache__/) even where
# PYTHONDONTWRITEBYTECODE is set: the xdist workers and ~40 more (bots killed and restarted,
# check children, CLI runs) would each compile the project again: on 2 cores ~40 s of CPU.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.project import ProjectSpec
from storage.models import Project, SampleIn
from storage.repository import Repository


def make_spec(**overrides: object) -> ProjectSpec:
    raw: dict[str, object] = {
        "name": "Colours",
        "slug": "colours",
        "question": {"en": "Which colour?", "ko": "무슨 색인가요?"},
        "guide": {"en": "Pick the main colour.", "ko": "주된 색을 고르세요."},
        "overlap": 2,
        "assignment_timeout": 60,
        # The tests written for a card per message; the edit-in-place flow has its own
        # (tests/e2e/test_edit_flow.py).
        "card_flow": "new",
        # Taps as fast as a test makes them; the min-read guard has its own tests.
        "min_read": 0,
        "options": [
            {"id": "red", "text": {"en": "Red", "ko": "빨강"}},
            {"id": "green", "text": {"en": "Green", "ko": "초록"}},
            {"id": "blue", "text": {"en": "Blue", "ko": "파랑"}},
        ],
    }
    raw.update(overrides)
    return ProjectSpec.model_validate(raw)


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[Repository]:
    async with Repository(tmp_path / "test.db") as r:
        yield r


async def add_project(repo: Repository, n_samples: int = 5, **overrides: object) -> Project:
    project = await repo.create_project(make_spec(**overrides))
    await repo.import_samples(
        project.id,
        [SampleIn(ext_id=f"s{i}", text=f"sample {i}", truth="red") for i in range(n_samples)],
    )
    return project


async def add_worker(repo: Repository, user_id: int, project: Project) -> None:
    await repo.upsert_worker(user_id, f"W{user_id}", None, "en")
    from storage.models import Role

    code = await repo.create_invite(project.id, Role.WORKER)
    await repo.redeem_invite(code, user_id)
