"""Texts of broadcasts (/broadcast, /broadcasts) and the outbox's notices.

Kept beside `bot.texts` (which merges them into TEXTS); the same rules hold: every text in
English and Korean, the Korean written as a Korean product team writes it (해요체, see
../shared/KOREAN.md), the same {placeholders} in both.
"""

from __future__ import annotations

BROADCAST_TEXTS: dict[str, dict[str, str]] = {
    "bc_usage": {
        "en": "Usage: /broadcast <project>\nYour projects: {projects}",
        "ko": "사용법: /broadcast 프로젝트\n관리 중인 프로젝트: {projects}",
    },
    "bc_compose": {
        "en": "📣 Send me the message for “{project}”: text, a photo or a document, "
        "formatted as you like. Recipients get it exactly as you send it.",
        "ko": "📣 “{project}” 프로젝트에 보낼 메시지를 보내 주세요. 텍스트, 사진, 문서 모두 "
        "괜찮고 서식도 그대로 전달돼요.",
    },
    "bc_unsupported": {
        "en": "I can broadcast text, photos and documents (with their captions). "
        "Send one of those, or press Cancel.",
        "ko": "텍스트, 사진, 문서(설명 포함)만 보낼 수 있어요. 이 중 하나를 보내거나 "
        "“취소”를 눌러 주세요.",
    },
    "bc_audience": {
        "en": "Who should get it?",
        "ko": "누구에게 보낼까요?",
    },
    "bc_audience_chosen": {"en": "Audience: {audience}", "ko": "받는 사람: {audience}"},
    "bc_aud_all": {"en": "👥 All workers", "ko": "👥 모든 작업자"},
    "bc_aud_active": {"en": "🔥 Active in {days} d", "ko": "🔥 최근 {days}일 활동"},
    "bc_aud_idle": {"en": "💤 Idle for {days} d", "ko": "💤 {days}일 이상 쉼"},
    "bc_aud_reviewers": {"en": "🧐 Reviewers", "ko": "🧐 검수자"},
    "bc_aud_lang_en": {"en": "🇬🇧 English users", "ko": "🇬🇧 영어 사용자"},
    "bc_aud_lang_ko": {"en": "🇰🇷 Korean users", "ko": "🇰🇷 한국어 사용자"},
    "bc_desc_all": {"en": "all workers", "ko": "모든 작업자"},
    "bc_desc_active": {
        "en": "workers who labeled in the last {days} days",
        "ko": "최근 {days}일 동안 라벨링한 작업자",
    },
    "bc_desc_idle": {
        "en": "workers who have not labeled for {days} days",
        "ko": "{days}일 넘게 라벨링하지 않은 작업자",
    },
    "bc_desc_reviewers": {"en": "reviewers", "ko": "검수자"},
    "bc_desc_lang_en": {"en": "workers who use English", "ko": "영어를 쓰는 작업자"},
    "bc_desc_lang_ko": {"en": "workers who use Korean", "ko": "한국어를 쓰는 작업자"},
    "bc_preview": {
        "en": "📣 Preview above. It goes to {count} recipients in “{project}” ({audience}).\n"
        "Send it now?",
        "ko": "📣 위 메시지가 미리보기예요. “{project}” 프로젝트의 {audience} {count}명에게 "
        "보내집니다.\n지금 보낼까요?",
    },
    "bc_empty": {
        "en": "Nobody in “{project}” is among {audience} right now. Choose another audience.",
        "ko": "지금 “{project}” 프로젝트에는 {audience}에 해당하는 사람이 없어요. 다른 대상을 "
        "골라 주세요.",
    },
    "bc_send": {"en": "✅ Send to {count}", "ko": "✅ {count}명에게 보내기"},
    "bc_cancel": {"en": "✖ Cancel", "ko": "✖ 취소"},
    "bc_back": {"en": "↩ Audience", "ko": "↩ 대상 다시 고르기"},
    "bc_started": {
        "en": "📤 Sending to {count} recipients in “{project}”. You get a report when it is "
        "done; /broadcasts shows the progress and can stop it.",
        "ko": "📤 “{project}” 프로젝트의 {count}명에게 보내고 있어요. 다 보내면 결과를 "
        "알려 드릴게요. 진행 상황 확인과 중지는 /broadcasts에서 할 수 있어요.",
    },
    "bc_dropped": {
        "en": "Broadcast cancelled; nothing was sent.",
        "ko": "공지를 취소했어요. 아무에게도 보내지 않았어요.",
    },
    "bc_outdated": {
        "en": "This preview is out of date: the audience was changed since. Send from the "
        "newest preview.",
        "ko": "지난 미리보기예요. 그 뒤로 받는 사람을 바꿨으니 가장 최근 미리보기에서 "
        "보내 주세요.",
    },
    "bc_already": {
        "en": "This broadcast is already on its way: /broadcasts",
        "ko": "이 공지는 이미 보내는 중이에요: /broadcasts",
    },
    "bc_gone": {
        "en": "This draft is no longer open. Start again with /broadcast.",
        "ko": "이 초안은 더 이상 쓸 수 없어요. /broadcast로 다시 시작해 주세요.",
    },
    "bc_report": {
        "en": "📣 Broadcast #{id} to “{project}” {outcome} in {duration}.\n"
        "Sent: {sent} of {total}\nUnreachable (blocked the bot): {unreachable}\n"
        "Failed: {failed}{extra}",
        "ko": "📣 “{project}” 공지 #{id} {outcome} (걸린 시간 {duration})\n"
        "보냄: {total}명 중 {sent}명\n받을 수 없음(봇 차단): {unreachable}명\n"
        "실패: {failed}명{extra}",
    },
    "bc_outcome_done": {"en": "is done", "ko": "발송을 마쳤어요"},
    "bc_outcome_cancelled": {"en": "was stopped", "ko": "발송을 중지했어요"},
    "bc_extra_cancelled": {
        "en": "\nNot sent (stopped): {n}",
        "ko": "\n보내지 않음(중지): {n}명",
    },
    "bc_extra_twice": {
        "en": "\nPossibly received twice (in flight during a restart): {n}",
        "ko": "\n두 번 받았을 수 있음(재시작 때 보내던 중): {n}명",
    },
    "bc_list_header": {
        "en": "📣 Recent broadcasts:",
        "ko": "📣 최근 공지:",
    },
    "bc_list_line": {
        "en": "#{id} “{project}” · {audience} · {status}\n   sent {sent}/{total}, "
        "unreachable {unreachable}, failed {failed}, waiting {waiting}",
        "ko": "#{id} “{project}” · {audience} · {status}\n   보냄 {sent}/{total}명, "
        "받을 수 없음 {unreachable}명, 실패 {failed}명, 대기 {waiting}명",
    },
    "bc_list_empty": {
        "en": "No broadcasts yet. Send one with /broadcast.",
        "ko": "아직 보낸 공지가 없어요. /broadcast로 보내 보세요.",
    },
    "bc_status_sending": {"en": "sending", "ko": "보내는 중"},
    "bc_status_done": {"en": "done", "ko": "완료"},
    "bc_status_cancelled": {"en": "stopped", "ko": "중지됨"},
    "bc_stop": {"en": "⏹ Stop #{id}", "ko": "⏹ #{id} 중지"},
    "bc_stopped": {
        "en": "⏹ Broadcast #{id} stopped: {count} messages will not be sent.",
        "ko": "⏹ 공지 #{id} 발송을 중지했어요. {count}명에게는 보내지 않아요.",
    },
    "bc_not_running": {
        "en": "Broadcast #{id} is not running any more.",
        "ko": "공지 #{id} 발송은 이미 끝났어요.",
    },
    "guide_updated": {
        "en": "📘 The guide of “{project}” was updated. Please read it before you go on.",
        "ko": "📘 “{project}” 가이드가 바뀌었어요. 작업을 이어 가기 전에 한 번 읽어 주세요.",
    },
    "guide_button": {"en": "📖 Read the guide", "ko": "📖 가이드 보기"},
}
