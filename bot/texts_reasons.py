"""Texts of generated sentences: worker-rule reasons, confused option pairs, import
refusals without a table of their own, and the upload's project choice.

Kept beside `bot.texts` (which merges them into TEXTS); the same rules hold: every text in
English and Korean (해요체, ../shared/KOREAN.md), the same {placeholders} in both. The values
come from structured data (`quality.workers.Reason`, `quality.agreement.ConfusedPair`,
`intake` error codes), rendered by `bot.reasons`.
"""

from __future__ import annotations

REASON_TEXTS: dict[str, dict[str, str]] = {
    # The English is `Finding.reason()`'s own wording (what the database and the log keep).
    "why_gold_accuracy": {
        "en": "gold accuracy {value} after {evidence} gold answers (< {threshold})",
        "ko": "확인용 문제 {evidence}개 중 정답률 {value}(기준 {threshold})",
    },
    "why_too_fast": {
        "en": "{value} of the last {evidence} answers were too fast (>= {threshold})",
        "ko": "최근 답변 {evidence}개 중 너무 빠른 답변 비율 {value}(기준 {threshold})",
    },
    "why_same_option_run": {
        "en": "the same option {value} times in a row (>= {threshold})",
        "ko": "같은 답을 {value}번 연속으로 고름(기준 {threshold}번)",
    },
    "why_low_agreement": {
        "en": "agrees with the consensus on {value} of {evidence} answers (< {threshold}, well "
        "below the crowd)",
        "ko": "답변 {evidence}개 중 합의 결과와 일치한 비율 {value}, 다른 작업자보다 크게 낮음"
        "(기준 {threshold})",
    },
    "why_other": {
        "en": "{reason}",
        "ko": "{reason}",
    },
    "confused_pair": {
        "en": "{a} ↔ {b}: given side by side on {share} of the disputed samples ({count} of "
        "{disputed})",
        "ko": "{a} ↔ {b}: 의견이 갈린 샘플 {disputed}개 중 {count}개({share})에서 함께 나왔어요",
    },
    "option_unnamed": {"en": "option {index}", "ko": "{index}번 선택지"},
    "refused_other": {
        "en": "{reason}",
        "ko": "파일을 읽지 못했어요. 자세한 내용(영문): {reason}",
    },
    "refused_no_column": {
        "en": "the caption names the {what} column “{column}”, but the file has no such "
        "column. Its columns: {found}",
        "ko": "캡션에 적힌 {what} 열(“{column}”)이 파일에 없어요. 파일에 있는 열: {found}",
    },
    "refused_no_content_column": {
        "en": "no text or media column found. Name one in the caption, e.g. text=COLUMN or "
        "media=COLUMN. The file's columns: {found}",
        "ko": "텍스트 열이나 미디어 열을 찾지 못했어요. 캡션에 text=열 또는 media=열처럼 "
        "적어 주세요. 파일에 있는 열: {found}",
    },
    "refused_no_meta_column": {
        "en": "the caption asks for meta columns the file does not have: {missing}. Its "
        "columns: {found}",
        "ko": "캡션에 적힌 메타 열이 파일에 없어요: {missing}. 파일에 있는 열: {found}",
    },
    "column_text": {"en": "text", "ko": "텍스트"},
    "column_media": {"en": "media", "ko": "미디어"},
    "column_id": {"en": "id", "ko": "ID"},
    "column_truth": {"en": "gold", "ko": "정답(gold)"},
    "column_none": {"en": "none", "ko": "없음"},
    "import_which_project": {
        "en": "Which project is this file for? Name it in the caption: project=SLUG (with "
        "any column settings after it). Projects: {projects}",
        "ko": "어느 프로젝트에 가져올까요? 캡션에 project=프로젝트 처럼 적어 주세요(열 설정은 "
        "그 뒤에 적으면 돼요). 프로젝트: {projects}",
    },
    "import_unknown_project": {
        "en": "You cannot import into “{project}”: it is not a project you manage. Projects: "
        "{projects}",
        "ko": "“{project}” 프로젝트에는 가져올 수 없어요. 관리하는 프로젝트가 아니에요. "
        "프로젝트: {projects}",
    },
    "import_into": {
        "en": "Importing into “{project}”…",
        "ko": "“{project}” 프로젝트로 가져오는 중이에요…",
    },
}
