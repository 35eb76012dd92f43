"""Ties in the bot's quality check: below max_overlap a tied sample asks for another label, at
max_overlap it goes to review, whatever confidence the stopping rule reports for it."""

from __future__ import annotations

import json
import time

import services.checks as checks
from storage.models import SampleIn
from storage.quality import QualityStore
from storage.repository import Repository
from tests.conftest import add_worker, make_spec
from tests.services.test_check_runner import answer, bot_data

RED, GREEN, BLUE = 0, 1, 2


async def states(repo: Repository, project_id: int) -> dict[str, tuple[str, int]]:
    rows = await repo.all(
        "SELECT ext_id, status, target FROM samples WHERE project_id = ?", (project_id,)
    )
    return {ext: (status, target) for ext, status, target in rows}


async def test_a_tie_asks_for_one_more_label_then_goes_to_review(repo: Repository) -> None:
    # target 0.3 and the posterior rule: a 1-1 tie (0.5) or a 1-1-1 tie (0.33) would count as
    # confident; the tie rule must still keep them from being done
    spec = make_spec(
        overlap=2,
        quality={
            "method": "mv",
            "max_overlap": 3,
            "stop_rule": "posterior",
            "target_confidence": 0.3,
            "gold_rate": 0.0,
        },
    )
    project = await repo.create_project(spec)
    async with repo.import_session(project.id, "test") as session:
        samples = [SampleIn(ext_id=f"s{i}", text=f"sample {i}") for i in range(2)]
        assert await session.add(samples) == [None, None]
    now = time.time()
    for user in (1, 2, 3):
        await add_worker(repo, user, project)
    first = await answer(repo, 1, project, RED, now)
    second = await answer(repo, 1, project, RED, now)
    assert {first, second} == {"s0", "s1"}
    # worker 2: green on s0 (a 1-1 tie), red on s1 (agreed)
    for _ in range(2):
        card = await repo.next_card(2, project.id, now=now, gold="no")
        assert card is not None
        choice = GREEN if card.sample.ext_id == "s0" else RED
        await repo.record_label(card.assignment_id, 2, choice, now=now + 1)
    data = bot_data(repo, in_process_labels=100)
    await checks.check_project(data.repo, data.quality, data.settings, project.id)
    got = await states(repo, project.id)
    assert got["s0"] == ("open", 3)  # one more label wanted
    assert got["s1"][0] == "done"
    # worker 3: blue on s0, a three-way tie at max_overlap: a reviewer decides
    assert await answer(repo, 3, project, BLUE, now) == "s0"
    await checks.check_project(data.repo, data.quality, data.settings, project.id)
    got = await states(repo, project.id)
    assert got["s0"] == ("review", 3)  # nothing more asked
    assert await QualityStore(repo).label_count(project.id, upto=10) == 5


async def test_the_check_records_the_confusion_the_digest_draws(repo: Repository) -> None:
    # The check's (consensus, given) matrix is what read_figures would count from the labels.
    spec = make_spec(overlap=3, quality={"method": "mv", "gold_rate": 0.0})
    project = await repo.create_project(spec)
    async with repo.import_session(project.id, "test") as session:
        await session.add([SampleIn(ext_id=f"s{i}", text=f"sample {i}") for i in range(2)])
    now = time.time()
    for user, choices in ((1, (RED, RED)), (2, (RED, BLUE)), (3, (GREEN, BLUE))):
        await add_worker(repo, user, project)
        for choice in choices:
            card = await repo.next_card(user, project.id, now=now, gold="no")
            assert card is not None
            await repo.record_label(card.assignment_id, user, choice, now=now + 1)
    data = bot_data(repo, in_process_labels=100)
    await checks.check_project(data.repo, data.quality, data.settings, project.id)
    (summary,) = await repo.all(
        "SELECT summary ->> '$.confusion' FROM quality_runs WHERE project_id = ?", (project.id,)
    )
    stored = json.loads(summary[0])
    counted = [[0] * 3 for _ in range(3)]
    rows = await repo.all(
        "SELECT o.idx, g.idx FROM labels AS l JOIN samples AS s ON s.id = l.sample_id"
        " JOIN options AS o ON o.id = s.consensus JOIN options AS g ON g.id = l.option_id"
        " WHERE l.project_id = ?",
        (project.id,),
    )
    for consensus, given in rows:
        counted[consensus][given] += 1
    assert stored == counted
    assert sum(map(sum, stored)) == 6
