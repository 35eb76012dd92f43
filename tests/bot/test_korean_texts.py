"""The Korean catalogue follows ../shared/KOREAN.md: no particle fallbacks after a variable,
검수자 (not 검토자), no honorific on a number, the worker's texts in friendly 해요체."""

from __future__ import annotations

import re

import pytest

from bot.texts import TEXTS

FALLBACKS = re.compile(r"\((?:으|이|을|를|가|은|는|과|와)\)")
NUMBER_HONORIFIC = re.compile(r"\{(?:user_id|id|count|n)\}님")
# What a worker reads (the labeling loop, joining, leaving, exams, suspensions, menus, hints):
# friendly 해요체, never the announcement style.
WORKER_KEYS = (
    "welcome",
    "joined",
    "welcome_back",
    "invite_invalid",
    "no_project",
    "expired",
    "closed",
    "invalid_button",
    "too_fast",
    "exam_intro",
    "exam_intro_all",
    "exam_passed",
    "exam_retry",
    "exam_failed",
    "exam_blocked",
    "suspended",
    "reinstated",
    "all_done",
    "more_work",
    "sample_broken",
    "undo_done",
    "undo_nothing",
    "undo_too_late",
    "error",
    "leave_confirm",
    "left",
    "forget_confirm",
    "forgotten",
    "help_worker",
    "help_reviewer",
    "hint_newcomer",
    "hint_worker",
    "unknown_command",
    "projects_list",
    "projects_switched",
    "bot_description",
)


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_no_particle_fallback_and_no_honorific_on_a_number(key: str) -> None:
    korean = TEXTS[key]["ko"]
    assert not FALLBACKS.search(korean), korean
    assert not NUMBER_HONORIFIC.search(korean), korean
    assert "검토자" not in korean


@pytest.mark.parametrize("key", WORKER_KEYS)
def test_what_a_worker_reads_is_friendly_haeyo(key: str) -> None:
    korean = TEXTS[key]["ko"]
    assert "습니다" not in korean, korean
    assert re.search(r"[요]", korean), korean  # 해요체 endings


def test_the_reviewer_is_a_geomsuja() -> None:
    assert TEXTS["role_reviewer"]["ko"] == "검수자"
    assert "검수자로 참여했어요" in TEXTS["joined"]["ko"].format(project="P", role="검수자")
