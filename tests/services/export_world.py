"""A small project with everything an export must carry: gold, a reviewer's decision, an
undo, a suspended worker, a problem report and labels under two guide versions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from services.checks import check_project
from storage.models import LabelStatus, Project, Role, SampleIn
from storage.quality import QualityStore
from storage.repository import Repository
from tests.conftest import add_worker, make_spec

RED, GREEN, BLUE = 0, 1, 2
NEW_GUIDE = {"en": "Pick the colour that covers most of it.", "ko": "가장 넓은 색을 골라요."}
REVIEWER = 90
SUSPENDED = 3


@dataclass
class World:
    repo: Repository
    project: Project
    path: Path


async def answer(
    repo: Repository, user: int, project: Project, idx: int, now: float, gold: str = "no"
) -> str:
    card = await repo.next_card(user, project.id, now=now, gold=gold)
    assert card is not None
    outcome = await repo.record_label(card.assignment_id, user, idx, now=now + 1.5)
    assert outcome.status is LabelStatus.RECORDED
    return card.sample.ext_id


async def run_check(repo: Repository, project: Project) -> None:
    settings = Settings(db_path=repo.path, check_in_process_labels=1_000_000)
    await check_project(repo, QualityStore(repo), settings, project.id)


async def build_world(repo: Repository, slug: str = "colours", n_plain: int = 6) -> World:
    """2 gold + `n_plain` plain samples, overlap 3; workers 1, 2 and 4 mostly agree, worker 3
    is wrong on gold (the check suspends them); one label is undone and given again; the
    guide moves to version 2 halfway; a reviewer decides one sample; one card is reported."""
    spec = make_spec(
        slug=slug,
        name=f"Colours {slug}",
        overlap=3,
        license="cc-by-4.0",
        description="Which colour is each sample? A test project.",
        quality={
            "gold_rate": 0.2,
            "dynamic_overlap": False,
            "rules": {"min_gold": 2, "min_gold_accuracy": 0.7, "min_seconds": 0.0},
        },
    )
    project = await repo.create_project(spec)
    samples = [SampleIn(ext_id=f"g{i}", text=f"gold {i}", truth="red") for i in range(2)]
    samples += [
        SampleIn(ext_id=f"s{i}", text=f"plain {i}", meta={"source": f"src{i % 2}"})
        for i in range(n_plain)
    ]
    async with repo.import_session(project.id, "test.csv") as session:
        assert await session.add(samples) == [None] * len(samples)
    for user in (1, 2, SUSPENDED, 4):
        await add_worker(repo, user, project)
    await repo.upsert_worker(REVIEWER, "Rita", "rita", "en")
    await repo.redeem_invite(await repo.create_invite(project.id, Role.REVIEWER), REVIEWER)
    now = time.time() - 1000
    for user in (1, 2):
        for _ in range(2):
            assert (await answer(repo, user, project, RED, now, gold="only")).startswith("g")
    for _ in range(2):
        assert (await answer(repo, SUSPENDED, project, GREEN, now, gold="only")).startswith("g")
    # Plain samples under guide version 1: workers 1 and 2 say red, worker 3 blue; worker 2
    # takes a label back (its sample still wants labels) and gives another.
    for _ in range(2):
        await answer(repo, 1, project, RED, now + 10)
    await answer(repo, 2, project, RED, now + 12)
    undone = await repo.undo_last(2, project.id, now=now + 20)
    assert undone.card is not None
    assert (await repo.record_label(undone.card.assignment_id, 2, GREEN, now=now + 23)).status is (
        LabelStatus.RECORDED
    )
    await answer(repo, 2, project, RED, now + 24)
    for _ in range(2):
        await answer(repo, SUSPENDED, project, BLUE, now + 25)
    # A new guide: version 2 (`labelgram project update`).
    await repo.update_project(spec.model_copy(update={"guide": NEW_GUIDE}), now=now + 28)
    for user, idx in ((4, GREEN), (1, GREEN), (4, RED), (4, GREEN), (1, BLUE), (2, GREEN)):
        await answer(repo, user, project, idx, now + 30)
    card = await repo.next_card(4, project.id, now=now + 40)
    assert card is not None
    await repo.close_assignment(card.assignment_id, 4, "reported", "unclear", now=now + 41)
    await run_check(repo, project)
    suspended = await repo.one(
        "SELECT suspended_at FROM memberships WHERE worker_id = ? AND project_id = ?",
        (SUSPENDED, project.id),
    )
    assert suspended is not None
    assert suspended[0] is not None
    # A reviewer decides the first plain sample.
    row = await repo.one(
        "SELECT id FROM samples WHERE project_id = ? AND ext_id = 's0'", (project.id,)
    )
    assert row is not None
    await repo.write("UPDATE samples SET status = 'review' WHERE id = ?", (row[0],))
    quality = QualityStore(repo)
    assert await quality.decide_review(int(row[0]), REVIEWER, BLUE) == ("decided", project.id)
    await run_check(repo, project)
    return World(repo, project, repo.path)
