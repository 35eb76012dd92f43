"""Generated sentences in the reader's language: rule reasons read back from their stored
English, confused pairs by the options' button texts."""

from __future__ import annotations

import re

import pytest

from bot.reasons import option_names, pair_text, pairs_text, reason_text
from config.project import RulesSpec
from quality.agreement import ConfusedPair
from quality.workers import RULES, Finding, Reason, parse_reason
from storage.gold import gold_rule_breach
from storage.models import Option

HANGUL = re.compile("[\uac00-\ud7a3]")

FINDINGS = [
    Finding(0, "gold_accuracy", "suspend", 0.0, 0.6, 4),
    Finding(1, "too_fast", "flag", 0.62, 0.5, 50),
    Finding(2, "same_option_run", "flag", 17.0, 15.0, 17),
    Finding(3, "low_agreement", "flag", 0.41, -0.05, 30),
]


def test_every_rule_has_a_finding_here() -> None:
    assert sorted(f.rule for f in FINDINGS) == sorted(RULES)


@pytest.mark.parametrize("finding", FINDINGS, ids=lambda f: f.rule)
def test_a_reason_is_read_back_with_its_figures(finding: Finding) -> None:
    found = parse_reason(finding.reason())
    assert found == Reason(
        finding.rule,
        round(finding.value, 2) if finding.rule != "same_option_run" else finding.value,
        finding.threshold,
        finding.evidence,
    )


@pytest.mark.parametrize("finding", FINDINGS, ids=lambda f: f.rule)
def test_a_reason_reads_in_both_languages(finding: Finding) -> None:
    english = finding.reason()
    assert reason_text("en", english) == english  # what the log keeps, word for word
    korean = reason_text("ko", english)
    assert HANGUL.search(korean)
    assert not re.search(r"[a-z]{3,}", korean)  # no English words left
    assert str(finding.evidence) in korean or finding.rule == "same_option_run"


def test_the_gold_rule_of_the_labeling_path_reads_the_same() -> None:
    reason = gold_rule_breach(RulesSpec(min_gold=4, min_gold_accuracy=0.6), 4, 0)
    assert reason is not None
    assert parse_reason(reason) == Reason("gold_accuracy", 0.0, 0.6, 4)
    assert reason_text("ko", reason) == "확인용 문제 4개 중 정답률 0%(기준 60%)"


def test_a_reason_the_bot_did_not_write_is_shown_as_it_is() -> None:
    assert parse_reason("asked by the coordinator") is None
    assert reason_text("ko", "asked by the coordinator") == "asked by the coordinator"
    assert parse_reason("") is None


OPTIONS = (
    Option(id=1, project_id=1, idx=0, key="pos", texts={"en": "😊 Positive", "ko": "😊 긍정"}),
    Option(id=2, project_id=1, idx=1, key="neu", texts={"en": "😐 Neutral", "ko": "😐 중립"}),
)


def test_confused_pairs_use_the_button_texts_never_the_ids() -> None:
    pair = ConfusedPair(0, 1, 2 / 3, 3, 2)
    ko = pairs_text("ko", [pair], OPTIONS)
    assert ko == "• 😊 긍정 ↔ 😐 중립: 의견이 갈린 샘플 3개 중 2개(67%)에서 함께 나왔어요\n"
    en = pair_text("en", pair, option_names(OPTIONS, "en"))
    assert en.startswith("😊 Positive ↔ 😐 Neutral: given side by side on 67%")
    assert "pos" not in en
    assert "neu" not in ko
    unnamed = pair_text("ko", ConfusedPair(0, 5, 0.5, 2, 1), option_names(OPTIONS, "ko"))
    assert "6번 선택지" in unnamed
