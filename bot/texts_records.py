"""Texts of the records features: leaving, being forgotten, exports, the audit log.

Kept beside `bot.texts` (which merges them into TEXTS) so neither file grows past what one
can read; the same rules hold: every text in English and Korean, the Korean written as a
Korean product team writes it (해요체), the same {placeholders} in both.
"""

from __future__ import annotations

RECORD_TEXTS: dict[str, dict[str, str]] = {
    "leave_confirm": {
        "en": "Leave “{project}”?\nYour labels so far stay with the project (exports show them "
        "under a pseudonym, never your name). To erase your name and Telegram id from "
        "Labelgram too, send /forget.",
        "ko": "“{project}” 프로젝트에서 나갈까요?\n지금까지 작업한 라벨은 프로젝트에 "
        "남아요(내보낸 파일에는 이름 대신 가명으로 나와요). 이름과 텔레그램 ID까지 "
        "Labelgram에서 지우려면 /forget 을 보내 주세요.",
    },
    "leave_yes": {"en": "Leave", "ko": "나가기"},
    "cancel": {"en": "Cancel", "ko": "취소"},
    "leave_suspended": {
        "en": "Your work in “{project}” is paused (by a coordinator or the quality rules), so "
        "you can't leave it now: ask a coordinator. To erase your name and Telegram id from "
        "Labelgram, send /forget.",
        "ko": "“{project}” 프로젝트 작업이 중지된 상태라 지금은 나갈 수 없어요. 코디네이터에게 "
        "문의해 주세요. Labelgram에서 이름과 텔레그램 ID를 지우려면 /forget 을 보내 주세요.",
    },
    "left": {
        "en": "You left “{project}”. Your labels stay with it. To join a project again, open "
        "a new invite link.",
        "ko": "“{project}” 프로젝트에서 나왔어요. 작업한 라벨은 그대로 남아요. 다시 참여하려면 "
        "새 초대 링크를 열어 주세요.",
    },
    "leave_cancelled": {
        "en": "Nothing changed: you are still in the project.",
        "ko": "바뀐 건 없어요. 프로젝트에 계속 참여하고 있어요.",
    },
    "not_member": {
        "en": "You are not in “{project}”.",
        "ko": "“{project}” 프로젝트에 참여하고 있지 않아요.",
    },
    "no_membership": {
        "en": "You are not in any project. Open an invite link to join one.",
        "ko": "참여 중인 프로젝트가 없어요. 초대 링크를 열어 참여해 주세요.",
    },
    "forget_confirm": {
        "en": "Forget me: your Telegram id, name and username are erased from Labelgram, in "
        "every project. Your labels stay as anonymous labels (or are deleted where a project "
        "asks for that). This cannot be undone.",
        "ko": "내 정보를 지울까요? 모든 프로젝트에서 내 텔레그램 ID, 이름, 사용자명이 "
        "Labelgram에서 지워져요. 작업한 라벨은 익명으로 남아요(프로젝트 설정에 따라 "
        "삭제될 수도 있어요). 지운 뒤에는 되돌릴 수 없어요.",
    },
    "forget_yes": {"en": "Erase me", "ko": "지워 주세요"},
    "forgotten": {
        "en": "Done: Labelgram no longer knows who you are. {kept} labels stay anonymous, "
        "{deleted} were deleted. If you send /start again, you start as a new worker.",
        "ko": "다 지웠어요. 이제 Labelgram에는 내 정보가 남아 있지 않아요. 라벨 {kept}개는 "
        "익명으로 남았고 {deleted}개는 삭제됐어요. 다시 /start 를 보내면 새 작업자로 "
        "시작해요.",
    },
    "forget_cancelled": {"en": "Nothing was erased.", "ko": "아무것도 지우지 않았어요."},
    "export_usage": {
        "en": "Usage: /export [project] [format]\nFormats: {formats}\nProjects: {projects}",
        "ko": "사용법: /export [프로젝트] [형식]\n형식: {formats}\n프로젝트: {projects}",
    },
    "export_started": {
        "en": "Exporting “{project}” as {format}… Labeling goes on meanwhile.",
        "ko": "“{project}” 프로젝트를 {format} 형식으로 내보내고 있어요… "
        "그동안 라벨링은 계속돼요.",
    },
    "export_done": {
        "en": "“{project}” as {format}: {done} of {total} samples done, {labels} labels, with "
        "the dataset card (README.md). Workers appear under pseudonyms.",
        "ko": "“{project}” 프로젝트를 {format} 형식으로 내보냈어요. 샘플 {total}개 중 {done}개 "
        "완료, 라벨 {labels}개이고 데이터셋 카드(README.md)도 들어 있어요. 작업자는 "
        "가명으로 표시돼요.",
    },
    "export_parts": {
        "en": "The export is {size} MB, more than Telegram lets a bot send at once, so it comes "
        "in {parts} parts. Put them in one folder and join them before unzipping:\n"
        "cat {name}.zip.* > {name}.zip",
        "ko": "내보낸 파일이 {size}MB라서 한 번에 보낼 수 없어 {parts}개로 나눠 보내요. 한 "
        "폴더에 모두 받은 뒤 합쳐서 압축을 풀어 주세요:\ncat {name}.zip.* > {name}.zip",
    },
    "export_failed": {
        "en": "The export failed: {reason}",
        "ko": "내보내기에 실패했어요. 자세한 내용(영문): {reason}",
    },
    "audit_usage": {
        "en": "Usage: /audit [project] [kind]\nA kind or its family, e.g. label, "
        "worker.suspended, exam.\nProjects: {projects}",
        "ko": "사용법: /audit [프로젝트] [종류]\n종류는 label, worker.suspended, exam 처럼 "
        "적어 주세요.\n프로젝트: {projects}",
    },
    "audit_header": {
        "en": "Last {n} events in “{project}”, newest first:",
        "ko": "“{project}” 프로젝트의 최근 이벤트 {n}건이에요(최신순):",
    },
    "audit_empty": {
        "en": "No events in “{project}” match.",
        "ko": "“{project}” 프로젝트에는 조건에 맞는 이벤트가 없어요.",
    },
    "cmd_leave": {"en": "Leave a project", "ko": "프로젝트에서 나가기"},
    "cmd_forget": {"en": "Erase me from Labelgram", "ko": "Labelgram에서 내 정보 지우기"},
}
