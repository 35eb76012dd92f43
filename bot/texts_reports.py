"""Texts of the problem-report inbox (/reports) and project life (/pause, /resume, /close).

Kept beside `bot.texts` (which merges them into TEXTS); the same rules hold: every text in
English and Korean, the Korean written as a Korean product team writes it (해요체, see
../shared/KOREAN.md), the same {placeholders} in both.
"""

from __future__ import annotations

REPORT_TEXTS: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------ the worker's report
    "report_filed": {
        "en": "🚩 Reported, thanks! To add a note, just send it as a message now.",
        "ko": "🚩 신고했어요. 고마워요! 메모를 남기려면 지금 메시지로 보내 주세요.",
    },
    "note_saved": {
        "en": "📝 Your note is added to the report. Thanks!",
        "ko": "📝 신고에 메모를 남겼어요. 고마워요!",
    },
    "outcome_fixed": {
        "en": "✅ The sample you reported in “{project}” ({snippet}) was corrected. Thanks for "
        "telling us!",
        "ko": "✅ “{project}” 프로젝트에서 신고해 주신 샘플({snippet})을 고쳤어요. 알려 줘서 "
        "고마워요!",
    },
    "outcome_excluded": {
        "en": "🗑 The sample you reported in “{project}” ({snippet}) was taken out of the data. "
        "Thanks for telling us!",
        "ko": "🗑 “{project}” 프로젝트에서 신고해 주신 샘플({snippet})을 데이터에서 뺐어요. "
        "알려 줘서 고마워요!",
    },
    "outcome_dismissed": {
        "en": "👍 The sample you reported in “{project}” ({snippet}) was checked and stays as "
        "it is. Thanks for looking closely!",
        "ko": "👍 “{project}” 프로젝트에서 신고해 주신 샘플({snippet})을 확인해 봤는데, 그대로 "
        "두기로 했어요. 꼼꼼히 봐 줘서 고마워요!",
    },
    "snippet_media": {"en": "a {kind} file", "ko": "{kind} 파일"},
    # ------------------------------------------------------------ project life, for workers
    "project_paused": {
        "en": "⏸ “{project}” is paused for now. You'll get a message when it goes on.",
        "ko": "⏸ “{project}” 프로젝트가 잠시 멈췄어요. 다시 시작하면 알려 드릴게요.",
    },
    "project_resumed": {
        "en": "▶ “{project}” is going again. Tap the button to carry on.",
        "ko": "▶ “{project}” 프로젝트가 다시 시작됐어요. 아래 버튼을 눌러 이어서 해 주세요.",
    },
    "project_closed": {
        "en": "🏁 “{project}” is closed: no more labels are taken. Thanks for your work!",
        "ko": "🏁 “{project}” 프로젝트가 끝났어요. 이제 라벨은 더 받지 않아요. 그동안 참여해 "
        "주셔서 고마워요!",
    },
    "mark_paused": {"en": "⏸ Paused", "ko": "⏸ 일시 중지됨"},
    "mark_closed": {"en": "🏁 Closed", "ko": "🏁 종료됨"},
    # ------------------------------------------------------------ /reports, for coordinators
    "reports_usage": {
        "en": "Usage: /reports [project]\nYour projects: {projects}",
        "ko": "사용법: /reports [프로젝트]\n관리 중인 프로젝트: {projects}",
    },
    "reports_none": {
        "en": "No open problem reports in “{project}”.",
        "ko": "“{project}” 프로젝트에는 처리할 문제 신고가 없습니다.",
    },
    "reports_header": {
        "en": "🚩 “{project}”: {samples} reported samples ({reports} reports), oldest first.",
        "ko": "🚩 “{project}” 프로젝트: 신고된 샘플 {samples}개 (신고 {reports}건). 오래된 것부터 "
        "보여 드립니다.",
    },
    "reports_more": {
        "en": "…and {n} more. Decide these, then send /reports again.",
        "ko": "…외에 {n}개가 더 있습니다. 위의 샘플을 처리한 뒤 /reports 를 다시 보내 주세요.",
    },
    "card_title": {
        "en": "🚩 Sample “{ext_id}”: {count} reports",
        "ko": "🚩 샘플 “{ext_id}”: 신고 {count}건",
    },
    "card_held": {
        "en": "⏸ Held out of the pool until you decide.",
        "ko": "⏸ 결정하실 때까지 작업 대상에서 빠져 있습니다.",
    },
    "card_reasons": {"en": "Reasons: {reasons}", "ko": "사유: {reasons}"},
    "reason_count": {"en": "{reason} ({n})", "ko": "{reason} {n}건"},
    "card_reporters": {"en": "Reported by: {names}", "ko": "신고한 작업자: {names}"},
    "card_notes": {"en": "Notes:", "ko": "메모:"},
    "worker_name": {"en": "{name} ({id})", "ko": "{name}({id})"},
    "no_name": {"en": "worker", "ko": "작업자"},
    "btn_fix": {"en": "✏️ Fix text", "ko": "✏️ 텍스트 수정"},
    "btn_exclude": {"en": "🗑 Exclude", "ko": "🗑 제외"},
    "btn_dismiss": {"en": "👍 Dismiss", "ko": "👍 문제 없음"},
    "btn_edit_guide": {"en": "📖 Guide", "ko": "📖 가이드 수정"},
    "btn_keep_labels": {"en": "Fix, keep its labels", "ko": "수정하고 라벨 유지"},
    "btn_clear_labels": {"en": "Fix, clear its labels", "ko": "수정하고 라벨 지우기"},
    "btn_cancel_reply": {"en": "Cancel", "ko": "취소"},
    "fix_choose": {
        "en": "Fix the text of sample “{ext_id}”. Its {labels} labels so far answered the old "
        "text: keep them, or clear them so that it is labeled again?",
        "ko": "샘플 “{ext_id}”의 텍스트를 고칩니다. 지금까지의 라벨 {labels}개는 이전 텍스트에 "
        "단 것입니다. 그대로 둘까요, 지우고 다시 라벨을 받을까요?",
    },
    "fix_ask": {
        "en": "Send the corrected text of sample “{ext_id}” as your next message.",
        "ko": "샘플 “{ext_id}”의 고친 텍스트를 다음 메시지로 보내 주세요.",
    },
    "fix_done_kept": {
        "en": "✅ Sample “{ext_id}” corrected; its labels so far are kept. Reporters told: {n}.",
        "ko": "✅ 샘플 “{ext_id}”의 텍스트를 고쳤습니다. 지금까지의 라벨은 그대로 둡니다. "
        "신고자 {n}명에게 알렸습니다.",
    },
    "fix_done_cleared": {
        "en": "✅ Sample “{ext_id}” corrected; {cleared} labels cleared, it is labeled again. "
        "Reporters told: {n}.",
        "ko": "✅ 샘플 “{ext_id}”의 텍스트를 고쳤습니다. 라벨 {cleared}개를 지웠고, 다시 라벨을 "
        "받습니다. 신고자 {n}명에게 알렸습니다.",
    },
    "fix_empty": {
        "en": "The text is empty. Send the corrected text, or tap Cancel.",
        "ko": "텍스트가 비어 있습니다. 고친 텍스트를 보내시거나 “취소”를 눌러 주세요.",
    },
    "fix_too_long": {
        "en": "That text is {length} characters; a card holds at most {limit}. Send a shorter "
        "one, or tap Cancel.",
        "ko": "텍스트가 {length}자입니다. 카드에는 최대 {limit}자까지 들어갑니다. 더 짧게 "
        "보내시거나 “취소”를 눌러 주세요.",
    },
    "excluded_done": {
        "en": "🗑 Sample “{ext_id}” excluded: out of the pool, and marked excluded in exports "
        "({reason}). Reporters told: {n}.",
        "ko": "🗑 샘플 “{ext_id}” 제외 완료: 작업 대상에서 빠지고, 내보내기 파일에는 제외됨으로 "
        "표시됩니다({reason}). 신고자 {n}명에게 알렸습니다.",
    },
    "dismissed_done": {
        "en": "👍 Reports on sample “{ext_id}” dismissed: it is back in the pool. Reporters "
        "told: {n}.",
        "ko": "👍 샘플 “{ext_id}”에 대한 신고를 종료했습니다. 다시 작업 대상에 들어갑니다. "
        "신고자 {n}명에게 알렸습니다.",
    },
    "decided_already": {
        "en": "This sample has no open reports any more: it was decided already.",
        "ko": "이 샘플에는 처리할 신고가 더 없습니다. 이미 결정되었습니다.",
    },
    "guide_ask": {
        "en": "Send the new guide of “{project}” ({language}) as your next message. It becomes "
        "guide version {version}; each label records the version it was made under.",
        "ko": "“{project}” 프로젝트의 새 가이드({language})를 다음 메시지로 보내 주세요. 새 "
        "가이드는 새 버전(버전 {version})에 저장되고, 라벨마다 어느 버전에서 작업했는지 "
        "기록됩니다.",
    },
    "guide_done": {
        "en": "📖 The guide of “{project}” ({language}) is now version {version}. Put it in the "
        "project file too: a later `labelgram project update` with the old file would bring "
        "the old guide back.",
        "ko": "📖 “{project}” 프로젝트의 가이드({language})를 새 버전으로 바꿨습니다"
        "(버전 {version}). "
        "프로젝트 파일에도 반영해 주세요. 이전 파일로 `labelgram project update`를 하면 "
        "예전 가이드로 돌아갑니다.",
    },
    "guide_too_long": {
        "en": "That guide is {length} characters; the guide is one message with the project's "
        "name and question, which leaves {limit} for it. Send a shorter one (link to a longer "
        "document if needed), or tap Cancel.",
        "ko": "가이드가 {length}자예요. 가이드는 프로젝트 이름, 질문과 함께 메시지 하나로 "
        "보내져서 {limit}자까지 쓸 수 있어요. 더 짧게 보내 주시거나(긴 문서는 링크로) "
        "“취소”를 눌러 주세요.",
    },
    "guide_failed": {
        "en": "The guide could not be changed: the project is no longer there or its file "
        "changed meanwhile. Check it with /status and try again.",
        "ko": "가이드를 바꾸지 못했어요. 그사이 프로젝트가 없어졌거나 프로젝트 파일이 "
        "바뀌었어요. /status 로 확인한 뒤 다시 시도해 주세요.",
    },
    "guide_unchanged": {
        "en": "The guide is the same as before: nothing changed.",
        "ko": "이전 가이드와 같아서 바뀐 것이 없습니다.",
    },
    "reply_not_open": {
        "en": "That question is no longer open: nothing changed.",
        "ko": "이미 끝난 질문이에요. 바뀐 것은 없습니다.",
    },
    "reply_cancelled": {
        "en": "Cancelled: nothing changed.",
        "ko": "취소했습니다. 바뀐 것은 없습니다.",
    },
    "lang_en": {"en": "English", "ko": "영어"},
    "lang_ko": {"en": "Korean", "ko": "한국어"},
    "reports_read_only": {
        "en": "🏁 “{project}” is closed: its reports are not decided any more and its guide "
        "does not change. /resume reopens it.",
        "ko": "🏁 “{project}” 프로젝트는 종료되어 문제 신고를 처리하거나 가이드를 바꿀 수 "
        "없습니다. /resume 으로 다시 열 수 있습니다.",
    },
    "reports_notice": {
        "en": "🚩 {n} new problem reports in “{project}” — /reports",
        "ko": "🚩 “{project}” 프로젝트에 새 문제 신고가 {n}건 있습니다. /reports",
    },
    # ------------------------------------------------------------ project life, coordinators
    "life_usage": {
        "en": "Usage: /{command} [project]\nYour projects: {projects}",
        "ko": "사용법: /{command} [프로젝트]\n관리 중인 프로젝트: {projects}",
    },
    "paused_done": {
        "en": "⏸ “{project}” paused: no cards go out. Workers told: {n}. /resume goes on.",
        "ko": "⏸ “{project}” 프로젝트를 일시 중지했습니다. 카드가 나가지 않습니다. "
        "작업자 {n}명에게 알렸습니다. /resume 으로 다시 시작할 수 있습니다.",
    },
    "resumed_done": {
        "en": "▶ “{project}” is running again. Workers told: {n}.",
        "ko": "▶ “{project}” 프로젝트를 다시 시작했습니다. 작업자 {n}명에게 알렸습니다.",
    },
    "closed_done": {
        "en": "🏁 “{project}” closed: read-only, no more labels; /export still works. Workers "
        "told: {n}. /resume reopens it.",
        "ko": "🏁 “{project}” 프로젝트를 종료했습니다. 이제 읽기 전용이라 라벨을 받지 않고, "
        "/export 는 그대로 쓸 수 있습니다. 작업자 {n}명에게 알렸습니다. /resume 으로 다시 열 수 "
        "있습니다.",
    },
    "life_same": {
        "en": "“{project}” is {state} already: nothing changed.",
        "ko": "“{project}” 프로젝트는 이미 {state} 상태라 바뀐 것이 없습니다.",
    },
    "life_archived": {
        "en": "“{project}” is archived: only the command line changes it (`labelgram project`).",
        "ko": "“{project}” 프로젝트는 보관되어 있어서 명령줄(`labelgram project`)에서만 바꿀 수 "
        "있습니다.",
    },
    "state_active": {"en": "running", "ko": "진행 중"},
    "state_paused": {"en": "paused", "ko": "일시 중지"},
    "state_closed": {"en": "closed", "ko": "종료"},
    "state_archived": {"en": "archived", "ko": "보관"},
}
