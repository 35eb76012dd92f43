"""What a valid project file makes the bot send fits Telegram's limits, in every language."""

from __future__ import annotations

from typing import Any

import pytest

from bot.callbacks import MAX_BYTES, LabelTap, ReviewTap
from bot.cards import CAPTION_LIMIT, TEXT_LIMIT, _fit
from bot.texts import LANGUAGES, t
from config.project import (
    ANSWER_LIMIT,
    CALLBACK_DATA_LIMIT,
    CARD_DECORATION,
    GUIDE_DECORATION,
    MAX_OPTIONS,
    OPTION_TEXT_MAX,
    QUESTION_MAX,
    ProjectSpec,
    telegram_length,
    telegram_limits,
)
from handlers.labeling import guide_text
from storage.models import Project

# The largest texts a project file may have: 2-unit emoji count double, as Telegram counts.
QUESTION = "😀" * (QUESTION_MAX // 2)
OPTION = "😀" * (OPTION_TEXT_MAX // 2)
NAME = "N" * 100


def largest_spec() -> ProjectSpec:
    guide = "g" * (TEXT_LIMIT - GUIDE_DECORATION - 100 - QUESTION_MAX)
    return ProjectSpec.model_validate(
        {
            "name": NAME,
            "question": QUESTION,
            "guide": guide,
            "options": [{"id": f"o{i}", "text": OPTION} for i in range(MAX_OPTIONS)],
        }
    )


def test_the_largest_valid_project_passes_and_one_more_character_does_not() -> None:
    spec = largest_spec()
    assert telegram_limits(spec) == []
    option = spec.options[0].model_copy(update={"text": {"en": OPTION + "!"}})
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"question": {"en": QUESTION + "?"}}, ["question.en"]),
        ({"options": [option, *spec.options[1:]]}, ["options[0].text.en"]),
        ({"guide": {**spec.guide, "ko": spec.guide["en"] + "!"}}, ["guide.ko"]),
        ({"name": NAME + "!"}, ["guide.en", "guide.ko"]),  # the name is in it too
    ]
    for update, fields in cases:
        problems = telegram_limits(spec.model_copy(update=update))
        assert [line.split(":")[0] for line in problems] == fields


@pytest.mark.parametrize("lang", LANGUAGES)
def test_texts_fit_the_room_the_project_file_leaves_them(lang: str) -> None:
    # the card: the sample's text, a blank line, the question with its mark (bot.cards._fit)
    assert telegram_length(t(lang, "question_mark", question="")) + 2 <= CARD_DECORATION
    empty_guide = t(lang, "guide", project="", question="", guide="")
    assert telegram_length(empty_guide) <= GUIDE_DECORATION
    for key in ("saved", "already_saved", "review_saved"):
        assert telegram_length(t(lang, key, option=OPTION)) <= ANSWER_LIMIT


@pytest.mark.parametrize("lang", LANGUAGES)
def test_guide_and_cards_of_the_largest_project_are_sent_uncut(lang: str) -> None:
    spec = largest_spec()
    project = Project(
        id=1,
        slug="big",
        name=spec.name,
        question=spec.question,
        guide=spec.guide,
        guide_version=1,
        overlap=3,
        assignment_timeout=600,
        created_at=0.0,
    )
    text = guide_text(project, lang)
    assert text.endswith(spec.guide["en"])  # not cut
    assert telegram_length(text) <= TEXT_LIMIT
    question = t(lang, "question_mark", question=QUESTION)
    # with the widest question the caption keeps this much text (counted as Telegram does)
    caption = _fit("s" * 5000, question, CAPTION_LIMIT)
    assert telegram_length(caption) <= CAPTION_LIMIT
    assert caption.endswith(question)
    assert caption.count("s") >= CAPTION_LIMIT - QUESTION_MAX - CARD_DECORATION - 1
    assert _fit("s" * 5000, question, TEXT_LIMIT).count("s") > 3000


def test_the_buttons_of_the_largest_card_fit_in_callback_data() -> None:
    assert MAX_BYTES == CALLBACK_DATA_LIMIT
    biggest_id = 10**18 - 1  # the codec's largest id
    for tap in (LabelTap(biggest_id, MAX_OPTIONS - 1), ReviewTap(biggest_id, MAX_OPTIONS - 1)):
        assert len(tap.pack().encode()) <= CALLBACK_DATA_LIMIT


@pytest.mark.parametrize("limit", [CAPTION_LIMIT, TEXT_LIMIT])
def test_a_card_of_emoji_fits_as_telegram_counts(limit: int) -> None:
    """Telegram counts UTF-16 code units: 3,000 emoji are 6,000 of them."""
    card = _fit("😀" * 3000, "❓ Which colour?", limit)
    assert telegram_length(card) <= limit
    assert card.endswith("…\n\n❓ Which colour?")
    assert card.startswith("😀" * ((limit - telegram_length("❓ Which colour?") - 3) // 2))
