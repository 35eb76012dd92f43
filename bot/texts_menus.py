"""Texts of menus per role, /help and /start per role, hints, the bot's description.

Kept beside `bot.texts` (which merges them into TEXTS); the same rules hold: every text in
English and Korean, the Korean written as a Korean product team writes it (해요체, see
../shared/KOREAN.md), the same {placeholders} in both.
"""

from __future__ import annotations

MENU_TEXTS: dict[str, dict[str, str]] = {
    # The bot's profile: "What can this bot do?" (description, up to 512 characters) and the
    # profile page's line (short description, up to 120).
    "bot_description": {
        "en": "Labelgram turns data labeling into quick taps: read a sample, tap the answer, "
        "get the next one. Coordinators invite their crowd, import data, watch quality and "
        "export the results, all from this chat.\n\nGot an invite link from a coordinator? "
        "Open it to join. Then tap Start.",
        "ko": "Labelgram에서는 버튼 한 번으로 데이터 라벨링을 할 수 있어요. 샘플을 읽고 답을 "
        "누르면 다음 샘플이 바로 나와요. 코디네이터는 이 채팅에서 작업자를 초대하고, 데이터를 "
        "올리고, 품질을 확인하고, 결과를 내보낼 수 있어요.\n\n코디네이터에게 초대 링크를 "
        "받았다면 링크를 열어 참여해 주세요. 그다음 시작을 누르면 돼요.",
    },
    "bot_short_description": {
        "en": "Data labeling in quick taps, for crowds and their coordinators.",
        "ko": "버튼 한 번으로 하는 데이터 라벨링. 작업자와 코디네이터를 위한 봇이에요.",
    },
    # Command menu entries (setMyCommands; up to 256 characters each). Those of the worker's
    # loop (start, guide, undo, me, lang, help, leave, forget) are in bot.texts and
    # bot.texts_records.
    "cmd_projects": {"en": "Your projects; switch between them", "ko": "내 프로젝트 보기·전환"},
    "cmd_review": {"en": "Decide disputed samples", "ko": "의견이 갈린 샘플 검수하기"},
    "cmd_status": {"en": "Progress of your projects", "ko": "프로젝트 진행 상황"},
    "cmd_check": {"en": "Run the quality check now", "ko": "지금 품질 점검하기"},
    "cmd_invite": {"en": "Make an invite link", "ko": "초대 링크 만들기"},
    "cmd_invites": {"en": "List and revoke invite links", "ko": "초대 링크 목록·취소"},
    "cmd_reinstate": {"en": "Let a paused worker label again", "ko": "중지된 작업자 다시 허용"},
    "cmd_export": {
        "en": "Export labels and the dataset card",
        "ko": "라벨과 데이터셋 카드 내보내기",
    },
    "cmd_audit": {"en": "The project's audit log", "ko": "프로젝트 감사 기록 보기"},
    "cmd_reports": {"en": "Problem reports from workers", "ko": "작업자 문제 신고함"},
    "cmd_workers": {"en": "The worker roster", "ko": "작업자 명단"},
    "cmd_broadcast": {"en": "Message your workers", "ko": "작업자에게 공지 보내기"},
    "cmd_broadcasts": {
        "en": "Recent broadcasts and their progress",
        "ko": "최근 공지와 발송 현황",
    },
    "cmd_digest": {"en": "The daily digest, now", "ko": "일일 요약 지금 받기"},
    "cmd_pause": {"en": "Pause a project", "ko": "프로젝트 일시 중지"},
    "cmd_resume": {"en": "Resume a paused project", "ko": "중지한 프로젝트 다시 시작"},
    "cmd_close": {"en": "Close a project (read-only)", "ko": "프로젝트 종료(읽기 전용)"},
    # /help per role: a head line, then the role's menu as "/command — what it does".
    "help_worker": {
        "en": "Label samples with the buttons on each card. Your commands:",
        "ko": "카드의 버튼을 눌러 샘플에 라벨을 달아 주세요. 쓸 수 있는 명령어예요:",
    },
    "help_reviewer": {
        "en": "You label and, as a reviewer, decide the samples the crowd disagreed on. "
        "Your commands:",
        "ko": "라벨링도 하고, 검수자로서 작업자들의 의견이 갈린 샘플을 결정해 주세요. "
        "쓸 수 있는 명령어예요:",
    },
    "help_coordinator": {
        "en": "You run your projects from this chat. To import data, send a file (CSV, TSV, "
        "JSON Lines, xlsx, txt or zip); its caption can map columns and name the project, "
        "e.g. project=SLUG text=review gold=answer. Your commands:",
        "ko": "이 채팅에서 프로젝트를 운영하실 수 있어요. 데이터를 올리려면 파일(CSV, TSV, JSON "
        "Lines, xlsx, txt, zip)을 보내 주세요. 캡션으로 열과 프로젝트를 지정할 수 있어요. "
        "예: project=SLUG text=review gold=answer. 쓸 수 있는 명령어예요:",
    },
    "help_admin": {
        "en": "As an admin you manage every project without joining it. To import data, send "
        "a file; name its project in the caption (project=SLUG text=COLUMN …). Projects: "
        "{projects}. Your commands:",
        "ko": "관리자는 프로젝트에 참여하지 않아도 모든 프로젝트를 관리할 수 있어요. 데이터를 "
        "올리려면 파일을 보내면서 캡션에 프로젝트를 적어 주세요(project=SLUG text=열 …). "
        "프로젝트: {projects}. 쓸 수 있는 명령어예요:",
    },
    "help_line": {"en": "/{command} — {about}", "ko": "/{command} — {about}"},
    # /start per role.
    "start_admin": {
        "en": "Hi {name}! You are an admin of this Labelgram bot. Create a project with "
        "`labelgram project create FILE`, then invite coordinators and workers with /invite. "
        "/help lists your commands.",
        "ko": "안녕하세요, {name}님! 이 Labelgram 봇의 관리자예요. `labelgram project create "
        "FILE`로 프로젝트를 만든 뒤 /invite 로 코디네이터와 작업자를 초대해 주세요. 명령어는 "
        "/help 에서 볼 수 있어요.",
    },
    "start_admin_projects": {
        "en": "Hi {name}! You manage {count} projects as an admin: {projects}. /status shows "
        "their progress, /help lists your commands.",
        "ko": "안녕하세요, {name}님! 관리자로서 프로젝트 {count}개를 관리하고 있어요: "
        "{projects}. 진행 상황은 /status, 명령어는 /help 에서 볼 수 있어요.",
    },
    "start_coordinator": {
        "en": "You coordinate “{project}”. /status shows its progress, /check its quality; "
        "send a file to import data. /help lists your commands.",
        "ko": "“{project}” 프로젝트의 코디네이터예요. 진행 상황은 /status, 품질은 /check 로 "
        "확인하고, 데이터는 파일을 보내서 올려 주세요. 명령어는 /help 에서 볼 수 있어요.",
    },
    "start_reviewer": {
        "en": "You review “{project}”: /review shows the samples the crowd disagreed on.",
        "ko": "“{project}” 프로젝트의 검수자예요. 의견이 갈린 샘플은 /review 에서 결정해 주세요.",
    },
    # Hints for what the bot does not understand.
    "unknown_command": {
        "en": "I don't know /{command}. /help lists what you can do here.",
        "ko": "/{command} 명령어는 없어요. /help 에서 쓸 수 있는 명령어를 확인해 주세요.",
    },
    "hint_newcomer": {
        "en": "To start labeling, open the invite link your coordinator sent you.",
        "ko": "라벨링을 시작하려면 코디네이터에게 받은 초대 링크를 열어 주세요.",
    },
    "hint_worker": {
        "en": "Answer with the buttons on the card. Lost it? /start brings it back; /help "
        "lists your commands.",
        "ko": "카드에 있는 버튼으로 답해 주세요. 카드가 안 보이면 /start 를 보내 주세요. "
        "명령어는 /help 에서 볼 수 있어요.",
    },
    "hint_coordinator": {
        "en": "I only understand commands and files. To import data, send a file; /help "
        "lists your commands.",
        "ko": "명령어와 파일만 알아들을 수 있어요. 데이터를 올리려면 파일을 보내 주세요. "
        "명령어는 /help 에서 볼 수 있어요.",
    },
    # /projects: the user's projects, one button each.
    "projects_list": {
        "en": "Your projects (✓ the one you label in now). Tap one to switch:",
        "ko": "참여 중인 프로젝트예요(✓ 지금 작업 중인 프로젝트). 바꾸려면 눌러 주세요:",
    },
    "projects_none_admin": {
        "en": "You are in no project yourself. As an admin you manage them all: {projects}",
        "ko": "직접 참여한 프로젝트는 없어요. 관리자로서 모든 프로젝트를 관리해요: {projects}",
    },
    "projects_switched": {
        "en": "Now in “{project}”.",
        "ko": "이제 “{project}” 프로젝트에서 작업해요.",
    },
    "project_button": {"en": "{mark}{project} · {role}", "ko": "{mark}{project} · {role}"},
    "role_short_worker": {"en": "worker", "ko": "작업자"},
    "role_short_reviewer": {"en": "reviewer", "ko": "검수자"},
    "role_short_coordinator": {"en": "coordinator", "ko": "코디네이터"},
    # A card's head line: its project's name (the worker may be in several).
    "card_project": {"en": "📁 {project}", "ko": "📁 {project}"},
}
