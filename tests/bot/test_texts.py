from __future__ import annotations

import pytest

from bot.texts import COMMANDS, LANGUAGES, TEXTS, placeholders, t


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_every_text_has_every_language_with_the_same_placeholders(key: str) -> None:
    texts = TEXTS[key]
    assert set(texts) == set(LANGUAGES)
    assert all(texts.values())
    assert placeholders(texts["en"]) == placeholders(texts["ko"])


def test_commands_have_descriptions() -> None:
    for command in COMMANDS:
        assert t("ko", f"cmd_{command}")


def test_unknown_language_falls_back_to_english() -> None:
    assert t("de", "skipped") == "Skipped"
