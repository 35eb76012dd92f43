"""A /reports card always fits Telegram's limits and always shows the reports."""

from __future__ import annotations

import pytest

from bot.cards import CAPTION_LIMIT, TEXT_LIMIT
from bot.report_cards import card_text, snippet, worker_label
from config.project import telegram_length
from storage.models import Sample
from storage.problem_reports import ReportedSample, ReportLine


def reported(text: str, n: int, note: str | None) -> ReportedSample:
    sample = Sample(
        id=1,
        project_id=1,
        ext_id="s1",
        kind="text",
        text=text,
        media=None,
        file_id=None,
        truth=None,
        target=3,
        n_labels=0,
        n_open=0,
    )
    lines = [ReportLine(i, 1000 + i, f"W{i}", "broken", note, 0.0) for i in range(n)]
    return ReportedSample(sample, "held", lines)


@pytest.mark.parametrize("limit", [TEXT_LIMIT, CAPTION_LIMIT])
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_a_long_sample_and_many_notes_fit(limit: int, lang: str) -> None:
    card = card_text(
        reported("😀 word " * 2000, 12, "n" * 900), lang, with_sample=True, limit=limit
    )
    assert telegram_length(card) <= limit
    assert card.startswith("😀 word")
    assert "s1" in card  # the title is never cut off


def test_a_short_card_shows_everything() -> None:
    card = card_text(reported("a cat", 2, "blurry"), "en", with_sample=True)
    assert card.startswith("a cat\n\n—\n🚩 Sample “s1”: 2 reports")
    assert "Reasons: Broken / won't open (2)" in card
    assert "Reported by: W0 (1000), W1 (1001)" in card
    assert "📝 W0 (1000): blurry" in card


def test_names_and_snippets() -> None:
    assert worker_label("en", "Mina", 1003) == "Mina (1003)"
    assert worker_label("ko", "", 1003) == "작업자(1003)"
    assert snippet("a  b\nc", "text", "en") == "“a b c”"
    assert snippet("x" * 100, "text", "en") == "“" + "x" * 60 + "…”"
    assert snippet(None, "photo", "en") == "a photo file"
