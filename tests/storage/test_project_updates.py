"""`update_project`: a changed project file applied to an existing project, or refused."""

from __future__ import annotations

import pytest

from storage.backup import problems
from storage.errors import Conflict, NotFound
from storage.models import LabelStatus, Project, Role
from storage.quality import QualityStore
from storage.repository import Repository
from tests.conftest import add_project, add_worker, make_spec

OPTIONS = [
    {"id": "red", "text": {"en": "Red", "ko": "빨강"}},
    {"id": "green", "text": {"en": "Green", "ko": "초록"}},
    {"id": "blue", "text": {"en": "Blue", "ko": "파랑"}},
]


async def label_one(repo: Repository, project: Project, user: int, idx: int) -> int:
    card = await repo.next_card(user, project.id)
    assert card is not None
    outcome = await repo.record_label(card.assignment_id, user, idx)
    assert outcome.status is LabelStatus.RECORDED
    return card.sample.id


async def guide_version_of_labels(repo: Repository, user: int) -> list[int]:
    rows = await repo.all(
        "SELECT guide_version FROM labels WHERE worker_id = ? ORDER BY id", (user,)
    )
    return [int(r[0]) for r in rows]


async def test_a_new_guide_is_a_new_version_and_labels_keep_theirs(repo: Repository) -> None:
    project = await add_project(repo, 4)
    await add_worker(repo, 1, project)
    await label_one(repo, project, 1, 0)
    update = await repo.update_project(
        make_spec(
            guide={
                "en": "Pick the main colour; ignore the background.",
                "ko": "배경은 빼고 주된 색을 골라 주세요.",
            }
        )
    )
    assert update.changed == ["guide"]
    assert update.guide_version == 2
    assert update.project.guide_version == 2
    assert update.project.guide["en"].endswith("background.")
    await label_one(repo, project, 1, 0)
    assert await guide_version_of_labels(repo, 1) == [1, 2]
    versions = await repo.guide_versions(project.id)
    assert [(v, g["en"]) for v, g, _ in versions] == [
        (1, "Pick the main colour."),
        (2, "Pick the main colour; ignore the background."),
    ]
    (event,) = [e for e in await repo.events(project.id) if e["kind"] == "project.updated"]
    assert event["data"] == {"changed": ["guide"], "guide_version": 2}


async def test_texts_change_and_new_options_come_last_without_touching_open_cards(
    repo: Repository,
) -> None:
    project = await add_project(repo, 4)
    await add_worker(repo, 1, project)
    card = await repo.next_card(1, project.id)
    assert card is not None
    options = [*OPTIONS, {"id": "other", "text": {"en": "Other", "ko": "기타"}}]
    options[0] = {"id": "red", "text": {"en": "Red / crimson", "ko": "빨강"}}
    update = await repo.update_project(make_spec(options=options))
    assert update.changed == ["options"]
    assert update.options_added == ["other"]
    assert update.released == 0
    got = await repo.options(project.id)
    assert [(o.idx, o.key, o.texts["en"]) for o in got] == [
        (0, "red", "Red / crimson"),
        (1, "green", "Green"),
        (2, "blue", "Blue"),
        (3, "other", "Other"),
    ]
    # The card on screen keeps working: its buttons' numbers mean what they meant.
    outcome = await repo.record_label(card.assignment_id, 1, 2)
    assert outcome.status is LabelStatus.RECORDED
    assert outcome.option is not None
    assert outcome.option.key == "blue"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (OPTIONS[1:], "option id 'red' is in use (1 labels, 4 known answers)"),
        (
            [{"id": "crimson", "text": "Crimson"}, *OPTIONS[1:]],
            "option id 'red' (renamed to 'crimson'?) is in use",
        ),
    ],
)
async def test_removing_or_renaming_a_used_option_is_refused_and_nothing_changes(
    repo: Repository, options: list[object], message: str
) -> None:
    project = await add_project(repo, 4)
    await add_worker(repo, 1, project)
    await label_one(repo, project, 1, 0)  # red
    with pytest.raises(Conflict, match=r"^options: ") as refused:
        await repo.update_project(make_spec(options=options, guide={"en": "New", "ko": "새"}))
    assert message in str(refused.value)
    assert [o.key for o in await repo.options(project.id)] == ["red", "green", "blue"]
    assert (await repo.get_project(project.id)).guide_version == 1  # the guide too
    assert len(await repo.guide_versions(project.id)) == 1


async def test_an_unused_option_can_go_and_cards_on_screen_are_renewed(
    repo: Repository,
) -> None:
    project = await add_project(repo, 4)
    await add_worker(repo, 1, project)
    await label_one(repo, project, 1, 2)  # blue
    card = await repo.next_card(1, project.id)
    assert card is not None
    update = await repo.update_project(make_spec(options=[OPTIONS[0], OPTIONS[2]]))
    assert update.options_removed == ["green"]  # (every sample's known answer is red)
    assert update.released == 1
    assert [(o.idx, o.key) for o in await repo.options(project.id)] == [(0, "red"), (1, "blue")]
    # The old buttons' numbers now mean other options: the card is closed, a new one comes.
    stale = await repo.record_label(card.assignment_id, 1, 0)
    assert stale.status is LabelStatus.CLOSED
    fresh = await repo.next_card(1, project.id)
    assert fresh is not None
    assert [o.key for o in fresh.options] == ["red", "blue"]
    await repo.close()
    assert problems(repo.path) == []


async def test_a_new_overlap_applies_to_samples_not_decided_yet(repo: Repository) -> None:
    project = await add_project(repo, 3, overlap=2)
    await add_worker(repo, 1, project)
    sample_id = await label_one(repo, project, 1, 0)
    await repo.write("UPDATE samples SET status = 'done' WHERE id = ?", (sample_id,))
    update = await repo.update_project(make_spec(overlap=3))
    assert update.retargeted == 2
    rows = await repo.all(
        "SELECT id, target, need FROM samples WHERE project_id = ? ORDER BY id", (project.id,)
    )
    assert {r[0]: (r[1], r[2]) for r in rows} == {
        sample_id: (2, 1),  # decided: kept as it was
        **{r[0]: (3, 3) for r in rows if r[0] != sample_id},
    }
    await repo.close()
    assert problems(repo.path) == []


async def test_unknown_project_and_no_change(repo: Repository) -> None:
    await add_project(repo, 2)
    with pytest.raises(NotFound, match="no project with slug 'nope'"):
        await repo.update_project(make_spec(slug="nope"))
    same = await repo.update_project(make_spec())
    assert same.changed == []


async def test_a_running_bot_sees_an_update_made_elsewhere(repo: Repository) -> None:
    project = await add_project(repo, 2)
    assert (await repo.project_spec(project.id)).min_read == 0  # cached now
    assert await repo.refresh_projects() == []
    async with Repository(repo.path) as cli:
        await cli.update_project(make_spec(min_read=0.5, card_flow="edit"))
    assert (await repo.project_spec(project.id)).min_read == 0  # still the cached one
    assert await repo.refresh_projects() == [project.id]
    spec = await repo.project_spec(project.id)
    assert (spec.min_read, spec.card_flow) == (0.5, "edit")
    assert await repo.refresh_projects() == []


async def test_an_option_only_a_review_chose_is_in_use(repo: Repository) -> None:
    # The reviewer's answer stays in `reviews` after the report's fix cleared the sample's
    # labels and its decided answer: removing that option is refused, not a FOREIGN KEY error.
    project = await add_project(repo, 1)
    await add_worker(repo, 1, project)
    await add_worker(repo, 2, project)
    await repo.upsert_worker(9, "Cody", None, "en")
    code = await repo.create_invite(project.id, Role.COORDINATOR)
    await repo.redeem_invite(code, 9)
    sample = await label_one(repo, project, 1, 0)  # red
    card = await repo.next_card(2, project.id)
    assert card is not None
    await repo.close_assignment(card.assignment_id, 2, "reported", "typo")
    await repo.write("UPDATE samples SET status = 'review' WHERE id = ?", (sample,))
    assert await QualityStore(repo).decide_review(sample, 9, 2) == ("decided", project.id)
    decision = await repo.decide_reports(
        sample, "fixed", actor=9, new_text="fixed text", clear_labels=True
    )
    assert decision is not None
    assert decision.cleared == 1
    with pytest.raises(Conflict, match=r"option id 'blue' is in use \(1 reviews\)"):
        await repo.update_project(make_spec(options=OPTIONS[:2]))
    assert [o.key for o in await repo.options(project.id)] == ["red", "green", "blue"]
    await repo.close()
    assert problems(repo.path) == []
