"""Texts of the worker roster (/workers), work reports, invites.

Kept beside `bot.texts` (which merges them into TEXTS); the same rules hold: every text in
English and Korean, the Korean written as a Korean product team writes it (해요체, see
../shared/KOREAN.md), the same {placeholders} in both.
"""

from __future__ import annotations


def person(first_name: str | None, username: str | None, user_id: int) -> str:
    """A worker as coordinators see them: "Mina (1003)", "@mina (1003)", or "1003" only for
    someone the bot knows nothing of (never a bare id where a name is known)."""
    name = (first_name or "").strip() or (f"@{username}" if username else "")
    return f"{name} ({user_id})" if name else f"({user_id})"


ROSTER_TEXTS: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------------ /workers
    "workers_pick": {
        "en": "Which project? /workers <project>\nProjects: {projects}",
        "ko": "어느 프로젝트인가요? /workers <프로젝트>\n프로젝트: {projects}",
    },
    "workers_none": {
        "en": "“{project}” has no workers yet. Make an invite link: /invite {slug}",
        "ko": "“{project}” 프로젝트에는 아직 작업자가 없습니다. 초대 링크 만들기: /invite {slug}",
    },
    "workers_header": {
        "en": "👥 Workers of “{project}” — {first}-{last} of {total}",
        "ko": "👥 “{project}” 작업자 — 전체 {total}명 중 {first}-{last}",
    },
    "workers_line": {
        "en": "{n}. {who}{username} · {status}\n"
        "    labels {labels} (today {today}) · gold {gold} · agreement {agreement} · "
        "median {median}",
        "ko": "{n}. {who}{username} · {status}\n"
        "    라벨 {labels}개 (오늘 {today}개) · 확인용 정답률 {gold} · 합의 일치율 {agreement} · "
        "답변 시간 중앙값 {median}",
    },
    "workers_hint": {
        "en": "Tap a name for the worker's card (Suspend, Reinstate, Remove).",
        "ko": "이름을 누르면 작업자 카드(중지, 중지 해제, 내보내기)가 열립니다.",
    },
    "status_unreachable": {"en": "🚫 unreachable", "ko": "🚫 연락 안 됨"},
    "status_suspended": {"en": "⛔ suspended", "ko": "⛔ 중지됨"},
    "status_exam": {"en": "📝 in exam", "ko": "📝 테스트 중"},
    "status_flagged": {"en": "⚠️ flagged", "ko": "⚠️ 주의 필요"},
    "status_active": {"en": "✅ active", "ko": "✅ 활동 중"},
    "figure_none": {"en": "-", "ko": "-"},
    "figure_pct": {"en": "{pct}% of {n}", "ko": "{n}개 중 {pct}%"},
    "figure_seconds": {"en": "{s} s", "ko": "{s}초"},
    "worker_card": {
        "en": "👤 {who}{username}\nProject: “{project}” · {role}\nStatus: {status}{reason}\n"
        "Labels: {labels} (today {today})\nGold accuracy: {gold}\n"
        "Agreement with the consensus: {agreement}\nMedian answer time: {median}\n\n{flags}",
        "ko": "👤 {who}{username}\n프로젝트: “{project}” · {role}\n상태: {status}{reason}\n"
        "라벨: {labels}개 (오늘 {today}개)\n확인용 문제 정답률: {gold}\n"
        "합의 일치율: {agreement}\n답변 시간 중앙값: {median}\n\n{flags}",
    },
    "card_reason": {"en": " — {reason}", "ko": " — {reason}"},
    "why_coordinator": {"en": "a coordinator's decision", "ko": "코디네이터의 결정"},
    "card_exam_failed": {"en": "did not pass the test", "ko": "테스트 불합격"},
    "card_flags": {"en": "Recent flags:\n{lines}", "ko": "최근 주의 알림:\n{lines}"},
    "card_flag_line": {"en": "• {date} {reason}{cleared}", "ko": "• {date} {reason}{cleared}"},
    "card_flag_cleared": {"en": " (cleared)", "ko": " (해소됨)"},
    "card_no_flags": {"en": "No flags.", "ko": "주의 알림이 없습니다."},
    "btn_suspend": {"en": "⛔ Suspend", "ko": "⛔ 중지"},
    "btn_reinstate": {"en": "✅ Reinstate", "ko": "✅ 중지 해제"},
    "btn_remove": {"en": "🗑 Remove", "ko": "🗑 내보내기"},
    "btn_remove_yes": {"en": "🗑 Yes, remove", "ko": "🗑 네, 내보낼게요"},
    "btn_back": {"en": "◀ Back to the list", "ko": "◀ 목록으로"},
    "btn_prev": {"en": "◀ Previous", "ko": "◀ 이전"},
    "btn_next": {"en": "Next ▶", "ko": "다음 ▶"},
    "btn_work_report": {"en": "📄 Work report (CSV)", "ko": "📄 작업 보고서 (CSV)"},
    "roster_remove_confirm": {
        "en": "Remove {who} from “{project}”? Their open card goes back to the pool and "
        "their labels stay. Invite links made before now will not let them back in.",
        "ko": "{who}님을 “{project}” 프로젝트에서 내보낼까요? 작업 중인 카드는 다시 배정되고, "
        "지금까지의 라벨은 그대로 남습니다. 지금까지 만든 초대 링크로는 다시 들어올 수 없습니다.",
    },
    "roster_suspended": {
        "en": "⛔ {who} is suspended in “{project}”.",
        "ko": "⛔ {who}님의 “{project}” 작업을 중지했습니다.",
    },
    "roster_reinstated": {
        "en": "✅ {who} can label in “{project}” again.",
        "ko": "✅ {who}님의 “{project}” 작업 중지를 해제했습니다.",
    },
    "roster_removed": {
        "en": "🗑 {who} was removed from “{project}”.",
        "ko": "🗑 {who}님을 “{project}” 프로젝트에서 내보냈습니다.",
    },
    "roster_unchanged": {
        "en": "Nothing changed: {who} is already {status}.",
        "ko": "바뀐 것이 없습니다. {who}님은 이미 {status} 상태입니다.",
    },
    "roster_gone": {
        "en": "{who} is no longer a worker of “{project}”.",
        "ko": "{who}님은 더 이상 “{project}” 프로젝트의 작업자가 아닙니다.",
    },
    "worker_suspended_by_coordinator": {
        "en": "⛔ A coordinator paused your work in “{project}”. Ask them if you have questions.",
        "ko": "⛔ 코디네이터가 “{project}” 작업을 잠시 멈췄어요. 궁금한 점은 코디네이터에게 "
        "문의해 주세요.",
    },
    "worker_removed": {
        "en": "A coordinator removed you from “{project}”. Your labels so far are kept. "
        "Thank you for your work!",
        "ko": "코디네이터가 “{project}” 프로젝트에서 회원님을 내보냈어요. 지금까지 한 라벨은 "
        "그대로 남아요. 그동안 수고 많으셨어요!",
    },
    # ------------------------------------------------------------------ the work report
    "workreport_usage": {
        "en": "Usage: /workreport <project> [FROM] [TO] — dates as YYYY-MM-DD, in the "
        "project's time zone; TO is included. Without dates: this month so far.\n"
        "Projects: {projects}",
        "ko": "사용법: /workreport <프로젝트> [시작일] [종료일] — 날짜는 YYYY-MM-DD 형식이며 "
        "프로젝트 시간대 기준이고, 종료일까지 포함됩니다. 날짜가 없으면 이번 달 1일부터 "
        "오늘까지입니다.\n프로젝트: {projects}",
    },
    "workreport_bad_period": {
        "en": "“{period}” is not a period: give the dates as YYYY-MM-DD, the first not after "
        "the last.",
        "ko": "“{period}” 기간을 읽을 수 없습니다. 날짜는 YYYY-MM-DD 형식으로, 시작일이 "
        "종료일보다 늦지 않게 적어 주세요.",
    },
    "workreport_caption": {
        "en": "📄 Work report of “{project}”, {since} - {until} ({timezone}): {workers} "
        "workers, {labels} labels, {kept} kept after the quality rules.{amount}\n"
        "It names people (for paying them): keep it private.",
        "ko": "📄 “{project}” 작업 보고서, {since} - {until} ({timezone}): 작업자 "
        "{workers}명, 라벨 {labels}개, 품질 기준 통과 {kept}개.{amount}\n"
        "지급용으로 작업자 이름이 들어 있으니 외부에 공유하지 마세요.",
    },
    "workreport_amount": {
        "en": " To pay: {amount} {currency} ({rate} per kept label).",
        "ko": " 지급액: {amount} {currency} (통과한 라벨 1개당 {rate}).",
    },
    # ------------------------------------------------------------------ names in notices
    "coord_suspended_who": {
        "en": "⛔ {who} was suspended in “{project}”: {reason}. Their labels are left out "
        "of the consensus. To reinstate: /workers {slug}",
        "ko": "⛔ {who}님의 “{project}” 작업이 중지되었습니다. 사유: {reason}. 이 작업자의 "
        "라벨은 합의에서 제외됩니다. 중지를 해제하려면: /workers {slug}",
    },
    "coord_flagged_who": {
        "en": "⚠️ {who} in “{project}”: {reason}. Their card: /workers {slug}",
        "ko": "⚠️ “{project}” 작업자 {who}님: {reason}. 작업자 카드: /workers {slug}",
    },
    "check_worker_suspended": {"en": "⛔ {who}: {reason}\n", "ko": "⛔ {who}: {reason}\n"},
    "check_worker_flagged": {"en": "⚠️ {who}: {reason}\n", "ko": "⚠️ {who}: {reason}\n"},
    "check_pick": {
        "en": "Which project? /check <project>\nProjects: {projects}",
        "ko": "어느 프로젝트인가요? /check <프로젝트>\n프로젝트: {projects}",
    },
    "review_pick": {
        "en": "Which project? /review <project>\nProjects: {projects}",
        "ko": "어느 프로젝트인가요? /review <프로젝트>\n프로젝트: {projects}",
    },
    "review_unknown": {
        "en": "You do not review “{project}”. Projects you can review: {projects}",
        "ko": "“{project}” 프로젝트는 검수할 수 있는 목록에 없습니다. 검수할 수 있는 "
        "프로젝트: {projects}",
    },
    "review_who": {
        "en": "\n\nWho chose what:\n{lines}",
        "ko": "\n\n누가 무엇을 골랐는지:\n{lines}",
    },
    "review_who_line": {"en": "• {option}: {workers}", "ko": "• {option}: {workers}"},
    "reinstate_help": {
        "en": "Usage: /reinstate @username [project] or /reinstate USER_ID [project]. "
        "Easier: open the worker's card in /workers and tap Reinstate.",
        "ko": "사용법: /reinstate @사용자이름 [프로젝트] 또는 /reinstate 사용자ID [프로젝트]. "
        "/workers에서 작업자 카드를 열고 「중지 해제」를 눌러도 됩니다.",
    },
    "reinstate_not_member": {
        "en": "No worker “{handle}” in the projects you manage. /workers lists them.",
        "ko": "관리 중인 프로젝트에 “{handle}” 작업자가 없습니다. /workers에서 확인해 주세요.",
    },
    "reinstate_which": {
        "en": "{who} is in several of your projects; name one: /reinstate {handle} <project>\n"
        "Projects: {projects}",
        "ko": "{who}님은 여러 프로젝트에 있습니다. 프로젝트를 지정해 주세요: "
        "/reinstate {handle} <프로젝트>\n프로젝트: {projects}",
    },
    "reinstate_nothing": {
        "en": "Nothing to lift: {who} is neither suspended nor failed the test in “{project}”.",
        "ko": "해제할 것이 없습니다. {who}님은 “{project}”에서 중지되거나 테스트에 "
        "불합격한 상태가 아닙니다.",
    },
    "reinstate_done_who": {
        "en": "✅ Reinstated {who} in “{project}”.",
        "ko": "✅ {who}님의 “{project}” 작업 중지를 해제했습니다.",
    },
    # ------------------------------------------------------------------ invites
    "invite_usage_limits": {
        "en": "Usage: /invite <project> [worker|reviewer|coordinator] [DAYS] [USES]\n"
        "DAYS: how long the link works (0: no end); USES: how many people may join with it "
        "(0: any number). Defaults: worker links 30 days, any number; reviewer and "
        "coordinator links 7 days, one person.\nProjects: {projects}",
        "ko": "사용법: /invite <프로젝트> [worker|reviewer|coordinator] [일수] [인원]\n"
        "일수: 링크 유효 기간(0: 무기한), 인원: 이 링크로 참여할 수 있는 사람 수(0: 제한 없음). "
        "기본값: 작업자 링크는 30일·제한 없음, 검수자와 코디네이터 링크는 7일·1명입니다.\n"
        "프로젝트: {projects}",
    },
    "invite_made_limits": {
        "en": "Invite link for {role} of “{project}” — {expiry}, {uses}. Share it "
        "privately:\n{link}\n/invites lists your links and revokes them.",
        "ko": "“{project}” {role} 초대 링크예요 — {expiry}, {uses}. 필요한 사람에게만 "
        "공유해 주세요:\n{link}\n/invites에서 링크를 확인하고 취소할 수 있습니다.",
    },
    "invite_until": {"en": "valid until {date} UTC", "ko": "{date}(UTC)까지 유효"},
    "invite_forever": {"en": "no end date", "ko": "기한 없음"},
    "invite_uses_max": {"en": "{used} of {max} uses", "ko": "{max}명 중 {used}명 사용"},
    "invite_uses_any": {
        "en": "used {used} times, no limit",
        "ko": "{used}명 사용, 인원 제한 없음",
    },
    "invites_header": {
        "en": "🔗 Invite links that still work:",
        "ko": "🔗 사용할 수 있는 초대 링크:",
    },
    "invites_line": {
        "en": "{n}. {role} · “{project}” · {uses} · {expiry}\n    …{tail}",
        "ko": "{n}. {role} · “{project}” · {uses} · {expiry}\n    …{tail}",
    },
    "invites_none": {
        "en": "No invite link works right now. Make one: /invite <project>",
        "ko": "지금 사용할 수 있는 초대 링크가 없습니다. 새로 만들기: /invite <프로젝트>",
    },
    "btn_revoke": {"en": "✖ Revoke {n}", "ko": "✖ {n}번 취소"},
    "invite_revoked": {
        "en": "Link {n} revoked: it no longer lets anyone in.",
        "ko": "{n}번 링크를 취소했습니다. 이제 이 링크로는 참여할 수 없습니다.",
    },
    "invite_gone": {
        "en": "That link was already revoked.",
        "ko": "이미 취소된 링크입니다.",
    },
    "invite_refused_revoked": {
        "en": "This invite link was revoked. Ask your coordinator for a new one.",
        "ko": "취소된 초대 링크예요. 코디네이터에게 새 링크를 요청해 주세요.",
    },
    "invite_refused_expired": {
        "en": "This invite link has expired. Ask your coordinator for a new one.",
        "ko": "기한이 지난 초대 링크예요. 코디네이터에게 새 링크를 요청해 주세요.",
    },
    "invite_refused_used_up": {
        "en": "This invite link has been used as often as it may be. Ask your coordinator "
        "for a new one.",
        "ko": "이 초대 링크는 정해진 인원이 모두 사용했어요. 코디네이터에게 새 링크를 "
        "요청해 주세요.",
    },
    "invite_refused_removed": {
        "en": "You were removed from this project, so this link does not let you back in. "
        "Ask your coordinator if you think this is a mistake.",
        "ko": "이 프로젝트에서 나가게 되어 이 링크로는 다시 참여할 수 없어요. 잘못된 것 같다면 "
        "코디네이터에게 문의해 주세요.",
    },
}
