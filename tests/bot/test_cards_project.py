"""A card names its project under the question, and still fits Telegram's limits with the
widest question and the longest name."""

from __future__ import annotations

import pytest

from bot.cards import CAPTION_LIMIT, PROJECT_NAME_ON_CARD, TEXT_LIMIT, _fit, _question
from bot.texts import LANGUAGES
from config.project import QUESTION_MAX, telegram_length
from storage.models import Card, Project, Sample

QUESTION = "😀" * (QUESTION_MAX // 2)


def card(name: str, question: str = "Which colour?") -> Card:
    project = Project(
        id=1,
        slug="p",
        name=name,
        question={"en": question, "ko": question},
        guide={"en": "g"},
        guide_version=1,
        overlap=1,
        assignment_timeout=60,
        created_at=0.0,
    )
    sample = Sample(
        id=1,
        project_id=1,
        ext_id="s",
        kind="text",
        text="s" * 5000,
        media=None,
        file_id=None,
        truth=None,
        target=1,
        n_labels=0,
        n_open=0,
    )
    return Card(assignment_id=1, project=project, sample=sample, options=(), expires_at=0.0)


def test_the_card_names_its_project_under_the_question() -> None:
    tail = _question(card("Mini sentiment"), "ko")
    assert tail == "❓ Which colour?\n📁 Mini sentiment"
    text = _fit("a review", tail, TEXT_LIMIT)
    assert text == "a review\n\n❓ Which colour?\n📁 Mini sentiment"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_long_name_is_cut_and_the_widest_card_fits(lang: str) -> None:
    long = "😀" * 200  # 400 code units
    tail = _question(card(long, QUESTION), lang)
    shown = tail.split("📁 ", 1)[1]
    assert telegram_length(shown) <= PROJECT_NAME_ON_CARD
    assert shown.endswith("…")
    caption = _fit("s" * 5000, tail, CAPTION_LIMIT)
    assert telegram_length(caption) <= CAPTION_LIMIT
    assert caption.endswith(tail)  # the question and the name are never cut
    assert caption.count("s") >= 400  # the sample keeps its room
    assert _question(card("N" * PROJECT_NAME_ON_CARD), lang).endswith("N" * PROJECT_NAME_ON_CARD)
