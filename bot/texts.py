"""Every user-facing text, in English and Korean; handlers never hold literal texts."""

from __future__ import annotations

from string import Formatter

from bot.texts_broadcast import BROADCAST_TEXTS
from bot.texts_digest import DIGEST_TEXTS
from bot.texts_menus import MENU_TEXTS
from bot.texts_reasons import REASON_TEXTS
from bot.texts_records import RECORD_TEXTS
from bot.texts_reports import REPORT_TEXTS
from bot.texts_roster import ROSTER_TEXTS

LANGUAGES = ("en", "ko")

TEXTS: dict[str, dict[str, str]] = {
    "welcome": {
        "en": "Hi {name}! Labelgram turns data labeling into quick taps.\n"
        "To join a project, open the invite link your coordinator sent you.",
        "ko": "안녕하세요, {name}님! Labelgram에서는 버튼 한 번으로 데이터 라벨링을 할 수 "
        "있어요.\n참여하려면 코디네이터에게 받은 초대 링크를 열어 주세요.",
    },
    "joined": {
        "en": "You joined “{project}” as {role}.",
        "ko": "“{project}” 프로젝트에 {role}로 참여했어요.",
    },
    "welcome_back": {
        "en": "Welcome back to “{project}”.",
        "ko": "“{project}” 프로젝트에 다시 오신 걸 환영해요.",
    },
    "guide": {
        "en": "📖 Guide — {project}\n\nQuestion: {question}\n\n{guide}",
        "ko": "📖 가이드 — {project}\n\n질문: {question}\n\n{guide}",
    },
    "invite_invalid": {
        "en": "This invite link is not valid. Ask your coordinator for a new one.",
        "ko": "유효하지 않은 초대 링크예요. 코디네이터에게 새 링크를 요청해 주세요.",
    },
    "no_project": {
        "en": "You are not in a project yet. Open the invite link from your coordinator.",
        "ko": "아직 참여한 프로젝트가 없어요. 코디네이터에게 받은 초대 링크를 열어 주세요.",
    },
    "role_worker": {"en": "a worker", "ko": "작업자"},
    "role_coordinator": {"en": "a coordinator", "ko": "코디네이터"},
    "role_reviewer": {"en": "a reviewer", "ko": "검수자"},
    "btn_start": {"en": "▶ Start labeling", "ko": "▶ 라벨링 시작"},
    "btn_guide": {"en": "📖 Guide", "ko": "📖 가이드"},
    "btn_skip": {"en": "↷ Skip", "ko": "↷ 건너뛰기"},
    "btn_report": {"en": "⚠ Report problem", "ko": "⚠ 문제 신고"},
    "btn_back": {"en": "← Back", "ko": "← 뒤로"},
    "reason_broken": {"en": "Broken / won't open", "ko": "깨져 있거나 열리지 않아요"},
    "reason_unclear": {"en": "Unclear / ambiguous", "ko": "내용이 불분명하거나 애매해요"},
    "reason_other": {"en": "Other problem", "ko": "다른 문제가 있어요"},
    "question_mark": {"en": "❓ {question}", "ko": "❓ {question}"},
    "saved": {"en": "Saved: {option}", "ko": "저장했어요: {option}"},
    "already_saved": {"en": "Already saved: {option}", "ko": "이미 저장했어요: {option}"},
    "too_fast": {
        "en": "Too quick: read this sample first, then tap.",
        "ko": "너무 빨리 눌렀어요. 이 샘플을 읽고 나서 눌러 주세요.",
    },
    "expired": {
        "en": "This card expired, so it went to someone else. Here is a fresh one.",
        "ko": "시간이 지나서 이 카드는 다른 작업자에게 넘어갔어요. 새 카드를 보내 드릴게요.",
    },
    "closed": {
        "en": "This card is no longer active. Use the newest card.",
        "ko": "더 이상 유효하지 않은 카드예요. 가장 최근 카드를 사용해 주세요.",
    },
    "invalid_button": {
        "en": "That button is not valid. Use the newest card or send /start.",
        "ko": "유효하지 않은 버튼이에요. 가장 최근 카드를 사용하거나 /start 를 보내 주세요.",
    },
    "skipped": {"en": "Skipped", "ko": "건너뛰었어요"},
    "reported": {"en": "Thanks — reported.", "ko": "신고해 주셔서 고마워요."},
    "report_ask": {"en": "What is wrong with this sample?", "ko": "이 샘플에 어떤 문제가 있나요?"},
    "mark_chosen": {"en": "✓ {option}", "ko": "✓ {option}"},
    "mark_skipped": {"en": "↷ Skipped", "ko": "↷ 건너뜀"},
    "mark_reported": {"en": "⚠ Reported", "ko": "⚠ 신고됨"},
    "mark_inactive": {"en": "⌛ No longer active", "ko": "⌛ 더 이상 유효하지 않음"},
    "mark_superseded": {"en": "⌛ Replaced by the card below", "ko": "⌛ 아래 카드로 바뀌었어요"},
    "gold_wrong": {
        "en": "✋ That one was a control sample. The right answer is “{right}”.\n\n{guide}",
        "ko": "✋ 방금 답한 문제는 정답이 정해진 확인용 문제였어요. 정답은 “{right}”입니다.\n\n"
        "{guide}",
    },
    "exam_intro": {
        "en": "📝 First a short test: {size} samples with known answers. "
        "Pass {percent} and real work starts.",
        "ko": "📝 본 작업 전에 간단한 테스트를 봐요. 정답이 정해진 {size}문제 중 {percent} 이상 "
        "맞히면 본 작업을 시작할 수 있어요.",
    },
    "exam_intro_all": {
        "en": "📝 First a short test: {size} samples with known answers. Answer them all "
        "right and real work starts.",
        "ko": "📝 본 작업 전에 간단한 테스트를 봐요. {size}문제를 모두 맞히면 본 작업을 시작할 "
        "수 있어요.",
    },
    "exam_passed": {
        "en": "✅ Test passed ({correct}/{answered}). Real work starts now.",
        "ko": "✅ 테스트를 통과했어요({correct}/{answered}). 이제 본 작업을 시작할게요.",
    },
    "exam_retry": {
        "en": "❌ Test not passed ({correct}/{answered}). Read the guide and try again: "
        "new samples follow.",
        "ko": "❌ 아쉽게도 테스트를 통과하지 못했어요({correct}/{answered}). 가이드를 다시 읽고 "
        "한 번 더 도전해 주세요. 새 문제가 이어서 나와요.",
    },
    "exam_failed": {
        "en": "❌ Test not passed ({correct}/{answered}). You cannot label in this project "
        "for now; your coordinator can let you try again.",
        "ko": "❌ 테스트를 통과하지 못했어요({correct}/{answered}). 지금은 이 프로젝트에서 "
        "라벨링할 수 없어요. 다시 응시하려면 코디네이터에게 문의해 주세요.",
    },
    "exam_blocked": {
        "en": "You did not pass this project's test. Your coordinator can let you try again.",
        "ko": "이 프로젝트의 테스트를 통과하지 못했어요. 다시 응시하려면 코디네이터에게 문의해 "
        "주세요.",
    },
    "coord_exam_failed": {
        "en": "📝 {worker} ({user_id}) did not pass the test of “{project}” "
        "({correct}/{answered}) and cannot label there. To allow another try: "
        "/reinstate {user_id} {slug}",
        "ko": "📝 {worker}({user_id})님이 “{project}” 테스트를 통과하지 "
        "못했어요({correct}/{answered}). 지금은 라벨링할 수 없어요. 재응시를 허용하려면 "
        "이렇게 보내 주세요: /reinstate {user_id} {slug}",
    },
    "coord_exam_no_gold": {
        "en": "📝 {worker} ({user_id}) could not take the test of “{project}” again: they "
        "have seen every control sample. Import more control samples, then allow another "
        "try: /reinstate {user_id} {slug}",
        "ko": "📝 {worker}({user_id})님은 확인용 문제를 모두 풀어서 “{project}” 테스트를 다시 "
        "볼 수 없어요. 확인용 문제를 더 가져온 뒤 재응시를 허용해 주세요: /reinstate "
        "{user_id} {slug}",
    },
    "suspended": {
        "en": "⛔ You are paused in “{project}”: {reason}. Your coordinator has been told "
        "and can reinstate you.",
        "ko": "⛔ “{project}” 작업이 일시 중지되었어요. 사유: {reason}. 코디네이터에게 알렸고, "
        "중지가 해제되면 다시 작업할 수 있어요.",
    },
    "reinstated": {
        "en": "✅ You can label in “{project}” again.",
        "ko": "✅ “{project}” 프로젝트에서 다시 라벨링할 수 있어요.",
    },
    "check_summary": {
        "en": "🔎 Quality check — {project} ({method}, {seconds} s)\n"
        "Labels: {labels} (left out: {excluded})\n{samples}\n"
        "Krippendorff's alpha {alpha}, Fleiss' kappa {kappa}\n{pairs}{workers}",
        "ko": "🔎 품질 점검 — {project} ({method}, {seconds}초)\n라벨 {labels}개 (제외 "
        "{excluded}개)\n{samples}\nKrippendorff 알파 {alpha}, Fleiss 카파 {kappa}\n"
        "{pairs}{workers}",
    },
    # The samples' states (storage.samples.SAMPLE_STATES), the same in /status and /check.
    "sample_states": {
        "en": "Samples done: {done}/{total} ({pct}%) · open: {open} · in review: {review}\n"
        "Control samples (not counted as work): {control}",
        "ko": "완료된 샘플 {done}/{total}개 ({pct}%) · 라벨링 중 {open}개 · 검수 대기 "
        "{review}개\n확인용 문제(작업량에 포함되지 않음) {control}개",
    },
    "check_nothing": {
        "en": "🔎 {project}: no labels yet, nothing to check.",
        "ko": "🔎 “{project}” 프로젝트에는 아직 라벨이 없어서 점검할 게 없어요.",
    },
    "review_waiting": {
        "en": "🧐 {count} samples in “{project}” wait for a reviewer: /review",
        "ko": "🧐 “{project}” 프로젝트에서 샘플 {count}개가 검수를 기다리고 있어요: /review",
    },
    "review_card": {
        "en": "🧐 Review — the crowd did not agree.\n\n{content}\n\nLabels so far: {counts}",
        "ko": "🧐 검수 — 작업자들의 의견이 갈렸어요.\n\n{content}\n\n지금까지의 라벨: {counts}",
    },
    "review_none": {
        "en": "Nothing waits for review in “{project}”.",
        "ko": "“{project}” 프로젝트에는 검수할 샘플이 없어요.",
    },
    "review_saved": {
        "en": "Decided: {option}",
        "ko": "결정했어요: {option}",
    },
    "review_closed": {
        "en": "Already decided.",
        "ko": "이미 결정된 샘플이에요.",
    },
    "review_read_only": {
        "en": "🏁 “{project}” is closed and read-only: no review decisions are taken. "
        "A coordinator can reopen it with /resume.",
        "ko": "🏁 “{project}” 프로젝트는 종료되어 읽기 전용이에요. 검수 결정은 받지 않아요. "
        "코디네이터가 /resume 으로 다시 열 수 있어요.",
    },
    "not_reviewer": {
        "en": "Only reviewers and coordinators of this project can do that.",
        "ko": "이 프로젝트의 검수자와 코디네이터만 할 수 있어요.",
    },
    "all_done": {
        "en": "🎉 All done in “{project}” — nothing is left for you right now.\n"
        "We will tell you when there is more.",
        "ko": "🎉 “{project}” 프로젝트의 작업을 모두 마쳤어요. 지금은 남은 샘플이 없어요.\n새 "
        "작업이 생기면 알려 드릴게요.",
    },
    "more_work": {
        "en": "🆕 New samples are ready in “{project}”. Tap Start when you are ready.",
        "ko": "🆕 “{project}” 프로젝트에 새 샘플이 들어왔어요. “▶ 라벨링 시작” 버튼을 눌러 "
        "이어서 해 주세요.",
    },
    "sample_broken": {
        "en": "A sample could not be shown; it was reported for you. Here is the next one.",
        "ko": "샘플을 표시할 수 없어서 대신 신고해 두었어요. 다음 샘플이에요.",
    },
    "undo_done": {
        "en": "↩ Your last label was taken back. Here is that sample again.",
        "ko": "↩ 마지막 라벨을 취소했어요. 그 샘플을 다시 보내 드릴게요.",
    },
    "undo_nothing": {
        "en": "There is no label to take back.",
        "ko": "취소할 라벨이 없어요.",
    },
    "import_closed": {
        "en": "🏁 “{project}” is closed and read-only: no samples are added. /resume reopens it.",
        "ko": "🏁 “{project}” 프로젝트는 종료되어 읽기 전용이라 샘플을 더할 수 없어요. "
        "/resume 으로 다시 열 수 있어요.",
    },
    "undo_stopped": {
        "en": "“{project}” is paused or closed, so no label can be taken back now.",
        "ko": "“{project}” 프로젝트가 일시 중지되었거나 종료되어 지금은 라벨을 취소할 수 없어요.",
    },
    "undo_barred": {
        "en": "Your work in “{project}” is paused, so no label can be taken back. "
        "Ask a coordinator if you think this is a mistake.",
        "ko": "“{project}” 프로젝트 작업이 중지된 상태라 라벨을 취소할 수 없어요. 잘못된 것 "
        "같다면 코디네이터에게 문의해 주세요.",
    },
    "undo_too_late": {
        "en": "Too late to undo: that sample already has all its labels.",
        "ko": "이미 라벨링이 끝난 샘플이라 취소할 수 없어요.",
    },
    "me": {
        "en": "📊 Your work\nLabels: {labels} (today: {today})\nSkipped: {skipped} · "
        "Reported: {reported}\nProjects: {projects}",
        "ko": "📊 내 작업\n라벨 {labels}개 (오늘 {today}개)\n건너뜀 {skipped}개 · 신고 "
        "{reported}건\n참여 프로젝트 {projects}개",
    },
    "lang_choose": {"en": "Choose your language:", "ko": "언어를 선택해 주세요:"},
    "lang_set": {"en": "Language: English", "ko": "언어: 한국어"},
    "not_allowed": {
        "en": "This command is for coordinators. Ask an admin if you need access.",
        "ko": "코디네이터만 쓸 수 있는 명령어예요. 권한이 필요하면 관리자에게 문의해 주세요.",
    },
    "admin_only": {
        "en": "Only admins can make coordinator invites.",
        "ko": "코디네이터 초대 링크는 관리자만 만들 수 있어요.",
    },
    "unknown_project": {
        "en": "There is no project “{project}” you manage. Projects: {projects}",
        "ko": "“{project}” 프로젝트는 관리 중인 목록에 없어요. 프로젝트: {projects}",
    },
    "no_projects": {
        "en": "No projects yet. Create one with `labelgram project create FILE`.",
        "ko": "아직 프로젝트가 없어요. `labelgram project create FILE`로 만들어 주세요.",
    },
    "status": {
        "en": "📈 {project} ({slug})\n{samples}\nLabels: {labels} · open cards: {cards}\n"
        "Members: {members} · active in 24 h: {active}\nProblem reports: {reports}",
        "ko": "📈 {project} ({slug})\n{samples}\n라벨 {labels}개 · 진행 중인 카드 {cards}개\n"
        "참여자 {members}명 · 24시간 내 활동 {active}명\n문제 신고 {reports}건",
    },
    "import_not_allowed": {
        "en": "Only coordinators can import data. Workers: just label — thank you!",
        "ko": "데이터 가져오기는 코디네이터와 관리자만 할 수 있어요. 작업자님은 라벨링만 해 "
        "주시면 돼요. 고마워요!",
    },
    "import_bad_type": {
        "en": "I can import these file types: {types}",
        "ko": "이런 형식의 파일을 가져올 수 있어요: {types}",
    },
    "import_too_big": {
        "en": "Bots can download files up to 20 MB. Use `labelgram import` for larger files.",
        "ko": "봇은 20MB까지만 받을 수 있어요. 더 큰 파일은 `labelgram import`로 가져와 주세요.",
    },
    "import_bad_caption": {
        "en": "I did not understand “{token}”. Caption format: text=COLUMN gold=COLUMN "
        "media=COLUMN id=COLUMN meta=A,B",
        "ko": "캡션의 “{token}” 부분을 이해하지 못했어요. 캡션은 이렇게 적어 주세요: "
        "project=프로젝트 text=열 gold=열 media=열 id=열 meta=A,B",
    },
    "import_failed": {
        "en": "Nothing was imported: {reason}",
        "ko": "아무것도 가져오지 않았어요. {reason}",
    },
    "import_full": {"en": "The full report", "ko": "전체 보고서"},
    # The import report as the bot sends it (bot.reports.report_text) and the refusals of a
    # file past a limit (intake.archive and intake.readers codes; placeholders from there).
    "import_head": {
        "en": "{source} ({format}): {rows} rows read, {kept} kept, {fixed} fixed, "
        "{dropped} dropped, {flagged} flagged in {seconds} s",
        "ko": "{source} ({format}): {rows}행 읽음, {kept}개 유지, {fixed}개 수정, {dropped}개 "
        "제외, {flagged}개 표시 ({seconds}초)",
    },
    "import_dry_run": {
        "en": "Dry run: nothing was written.",
        "ko": "시험 실행이라 아무것도 저장하지 않았어요.",
    },
    "import_columns": {"en": "Columns: {mapping}", "ko": "열 매핑: {mapping}"},
    "import_col_text": {"en": "text", "ko": "텍스트"},
    "import_col_media": {"en": "media", "ko": "미디어"},
    "import_col_id": {"en": "id", "ko": "ID"},
    "import_col_gold": {"en": "gold", "ko": "정답(gold)"},
    "import_col_meta": {"en": "meta", "ko": "메타"},
    "import_col_none": {"en": "(none)", "ko": "(없음)"},
    "import_unused_gold": {
        "en": "Column “{column}” is not taken as gold: only a column named “gold” is. To make "
        "control tasks from it, send the file again with this caption: gold={column}",
        "ko": "“{column}” 열은 정답으로 쓰지 않았어요. 이름이 “gold”인 열만 정답으로 써요. 이 "
        "열로 확인용 문제를 만들려면 파일을 다시 보내면서 캡션에 이렇게 적어 주세요: "
        "gold={column}",
    },
    "import_added": {
        "en": "Added: {work} samples to label, {control} control tasks.",
        "ko": "추가했어요: 라벨링할 샘플 {work}개, 확인용 문제 {control}개",
    },
    "import_would_add": {
        "en": "Would add: {work} samples to label, {control} control tasks.",
        "ko": "추가될 항목: 라벨링할 샘플 {work}개, 확인용 문제 {control}개",
    },
    "import_no_work": {
        "en": "⚠ The project has control tasks but nothing to label, so workers get no work. "
        "Import samples to label: rows without a gold answer.",
        "ko": "⚠ 이 프로젝트에는 확인용 문제만 있고 라벨링할 샘플이 없어서 작업자가 할 일이 "
        "없어요. 정답이 없는 샘플을 가져와 주세요.",
    },
    "import_rule": {"en": "{group} — {rule}: {count}", "ko": "{group} — {rule}: {count}개"},
    "import_rule_rows": {
        "en": "{group} — {rule}: {count} (rows {rows})",
        "ko": "{group} — {rule}: {count}개 ({rows}행)",
    },
    "import_group_dropped": {"en": "Dropped", "ko": "제외"},
    "import_group_fixed": {"en": "Fixed", "ko": "수정"},
    "import_group_flagged": {"en": "Flagged", "ko": "확인 필요"},
    "rule_unreadable": {"en": "could not be read", "ko": "읽을 수 없음"},
    "rule_missing_column": {"en": "no value in the media column", "ko": "미디어 열이 비어 있음"},
    "rule_empty": {"en": "empty", "ko": "빈 텍스트"},
    "rule_too_long": {"en": "text too long", "ko": "텍스트가 너무 김"},
    "rule_media": {"en": "media", "ko": "미디어"},
    "rule_bad_gold": {"en": "gold answer is not an option", "ko": "정답이 선택지에 없음"},
    "rule_bad_id": {"en": "id too long", "ko": "ID가 너무 김"},
    "rule_duplicate": {"en": "same as an earlier row", "ko": "앞 행과 같음"},
    "rule_near_duplicate": {"en": "nearly the same as an earlier row", "ko": "앞 행과 거의 같음"},
    "rule_already_in_project": {"en": "already in the project", "ko": "이미 프로젝트에 있음"},
    "rule_id_exists": {"en": "id already in the project", "ko": "이미 프로젝트에 있는 ID"},
    "rule_nfc": {"en": "Unicode normalised", "ko": "유니코드 정규화"},
    "rule_invisible": {"en": "invisible characters removed", "ko": "보이지 않는 문자 제거"},
    "rule_whitespace": {"en": "whitespace collapsed", "ko": "공백 정리"},
    "rule_truncated": {"en": "text shortened", "ko": "텍스트 줄임"},
    "rule_split": {"en": "long text split", "ko": "긴 텍스트 나눔"},
    "refused_zip_entries": {
        "en": "{file} has {count} entries inside, more than the {limit} allowed. Save it again "
        "(or as CSV UTF-8), or split it.",
        "ko": "“{file}” 파일 안에 항목이 {count}개 있어요. 허용 한도는 {limit}개예요. 다시 "
        "저장하거나(CSV UTF-8도 좋아요) 나눠서 보내 주세요.",
    },
    "refused_zip_expanded": {
        "en": "{file} would expand to more than {limit}, so it was refused before reading. "
        "Save the sheet as CSV UTF-8 and send that, or split it.",
        "ko": "“{file}” 파일은 압축을 풀면 {limit}보다 커져서 읽기 전에 거절했어요. 시트를 "
        "CSV UTF-8로 저장해 보내거나 나눠서 보내 주세요.",
    },
    "refused_zip_member": {
        "en": "{file}: part {member} would expand to more than {limit}, so the file was refused "
        "before reading. Save the sheet as CSV UTF-8 and send that, or split it.",
        "ko": "“{file}” 파일 안의 {member} 부분은 압축을 풀면 {limit}보다 커져서 읽기 전에 "
        "거절했어요. 시트를 CSV UTF-8로 저장해 보내거나 나눠서 보내 주세요.",
    },
    "refused_zip_ratio": {
        "en": "{file}: part {member} would expand {ratio} times, more than the {limit} times "
        "real data does, so it was refused as a possible zip bomb. Save the sheet as CSV UTF-8 "
        "and send that.",
        "ko": "“{file}” 파일 안의 {member} 부분은 압축을 풀면 {ratio}배로 커져요. 실제 데이터의 "
        "한도({limit}배)를 넘어서 압축 폭탄일 수 있어 거절했어요. 시트를 CSV UTF-8로 저장해 "
        "보내 주세요.",
    },
    "refused_zip_lies": {
        "en": "{file}: part {member} does not unpack to the size it declares; the file is "
        "damaged or built to mislead. Open it in Excel and save it again.",
        "ko": "“{file}” 파일 안의 {member} 부분은 밝힌 크기와 실제 크기가 달라요. 파일이 "
        "손상됐거나 일부러 속이는 파일이에요. Excel에서 열어 다시 저장해 주세요.",
    },
    "refused_xml_doctype": {
        "en": "{file}: part {member} declares a DTD, which no workbook needs. Open it in Excel "
        "and save it again.",
        "ko": "“{file}” 파일 안의 {member} 부분에 통합 문서에는 필요 없는 DTD 선언이 있어요. "
        "Excel에서 열어 다시 저장해 주세요.",
    },
    "refused_xml_depth": {
        "en": "{file}: part {member} nests elements more than {limit} deep, which no workbook "
        "does. Open it in Excel and save it again.",
        "ko": "“{file}” 파일 안의 {member} 부분은 요소가 {limit}단계보다 깊게 중첩돼 있어요. "
        "Excel에서 열어 다시 저장해 주세요.",
    },
    "refused_xml_text": {
        "en": "{file}: part {member} holds a text run of more than {limit} characters (a cell "
        "holds at most 32,767), so it was refused before reading. Shorten it, or save the sheet "
        "as CSV UTF-8 and send that.",
        "ko": "“{file}” 파일 안의 {member} 부분에 {limit}자가 넘는 텍스트가 있어서(셀 하나는 "
        "최대 32,767자) 읽기 전에 거절했어요. 줄이거나 시트를 CSV UTF-8로 저장해 보내 주세요.",
    },
    "refused_row_chars": {
        "en": "{file}: row {row} holds more than {limit} characters of text. Shorten it, or save "
        "the sheet as CSV UTF-8 and send that.",
        "ko": "“{file}” 파일의 {row}행에 텍스트가 {limit}자보다 많아요. 줄이거나 시트를 CSV "
        "UTF-8로 저장해 보내 주세요.",
    },
    "refused_row_cells": {
        "en": "{file}: row {row} has cells past Excel's last column ({limit} cells). Open it in "
        "Excel and save it again.",
        "ko": "“{file}” 파일의 {row}행에 Excel의 마지막 열({limit}개)을 넘는 셀이 있어요. "
        "Excel에서 열어 다시 저장해 주세요.",
    },
    "refused_sheet_rows": {
        "en": "{file}: has a row numbered {row}, past Excel's last row ({limit}). Open it in "
        "Excel and save it again.",
        "ko": "“{file}” 파일에 번호가 {row}인 행이 있어요. Excel의 마지막 행({limit})을 넘어요. "
        "Excel에서 열어 다시 저장해 주세요.",
    },
    "refused_sheet_area": {
        "en": "{file}: the first sheet spans {rows} rows by {columns} columns, more than the "
        "{limit} cells that are read. Delete the empty rows and columns in Excel, or save the "
        "sheet as CSV UTF-8 and send that.",
        "ko": "“{file}” 파일의 첫 시트는 {rows}행, {columns}열이라 읽을 수 있는 {limit}칸보다 "
        "커요. Excel에서 빈 행과 열을 지우거나 시트를 CSV UTF-8로 저장해 보내 주세요.",
    },
    "refused_shared_strings": {
        "en": "{file}: the shared strings hold more than {strings} texts or {limit} "
        "characters. Save the sheet as CSV UTF-8 and send that.",
        "ko": "“{file}” 파일의 공유 문자열이 {strings}개 또는 {limit}자보다 많아요. 시트를 CSV "
        "UTF-8로 저장해 보내 주세요.",
    },
    "refused_line_long": {
        "en": "{file}, line {line}: longer than {limit} characters, the limit for one line, so "
        "the file was refused. A line holds one record: check it is the right file, or split "
        "the line.",
        "ko": "“{file}” 파일의 {line}번째 줄이 한 줄 한도인 {limit}자보다 길어서 파일을 "
        "거절했어요. 한 줄에는 레코드 하나만 있어야 해요. 올바른 파일인지 확인하거나 줄을 "
        "나눠 주세요.",
    },
    "refused_record_long": {
        "en": "{file}, line {line}: one record is longer than {limit} characters (a quoted "
        "field may run on over many lines). Check the quoting there, or split the record.",
        "ko": "“{file}” 파일의 {line}번째 줄에서 시작하는 레코드가 {limit}자보다 길어요(따옴표로 "
        "묶은 필드가 여러 줄로 이어졌을 수 있어요). 그 부분의 따옴표를 확인하거나 레코드를 "
        "나눠 주세요.",
    },
    "refused_json_depth": {
        "en": "{file}, line {line}: arrays or objects nest more than {limit} deep, so the file "
        "was refused. A record is a flat object of fields: fix or remove that record.",
        "ko": "“{file}” 파일의 {line}번째 줄에서 배열이나 객체가 {limit}단계보다 깊게 중첩돼 "
        "있어서 파일을 거절했어요. 레코드는 필드로 된 평평한 객체여야 해요. 그 레코드를 "
        "고치거나 지워 주세요.",
    },
    "refused_unclosed_quote": {
        "en": "{file}, line {line}: a quoted field starts in this record and is never closed "
        "(the file ends inside it), so nothing was imported. The file may be cut short: add the "
        'closing quote (") or export the file again.',
        "ko": "“{file}” 파일의 {line}번째 줄에서 시작한 따옴표 필드가 닫히지 않은 채 파일이 "
        '끝나서 아무것도 가져오지 않았어요. 파일이 잘렸을 수 있어요. 닫는 따옴표(")를 '
        "넣거나 파일을 다시 내보내 주세요.",
    },
    "status_import": {
        "en": "Last import: {source} — {rows} rows read, {added} added, {dropped} dropped",
        "ko": "최근 가져오기: {source} — {rows}행 읽음, {added}개 추가, {dropped}개 제외",
    },
    "error": {
        "en": "Something went wrong on our side. Your saved labels are safe; try again "
        "or send /start.",
        "ko": "서버에 문제가 생겼어요. 저장된 라벨은 안전해요. 다시 시도하거나 /start 를 보내 "
        "주세요.",
    },
    "admin_restarted": {
        "en": "⚠️ Labelgram restarted after an unclean stop. It was down for about {down} "
        "(last sign of life at {last} UTC) and caught up on {updates} updates: {stored} "
        "received before the stop, {waiting} that waited at Telegram. No label was lost.",
        "ko": "⚠️ Labelgram이 비정상 종료된 뒤 다시 시작했어요. 약 {down} 동안 멈춰 "
        "있었고(마지막 응답 {last} UTC), 밀린 업데이트 {updates}건을 처리했어요. 종료 "
        "전에 받아 둔 {stored}건과 텔레그램에서 기다리던 {waiting}건이에요. 잃어버린 "
        "라벨은 없어요.",
    },
    "duration_s": {"en": "{s} s", "ko": "{s}초"},
    "duration_m": {"en": "{m} min {s} s", "ko": "{m}분 {s}초"},
    "duration_h": {"en": "{h} h {m} min", "ko": "{h}시간 {m}분"},
    "cmd_start": {"en": "Join or continue labeling", "ko": "참여하거나 라벨링 이어서 하기"},
    "cmd_guide": {"en": "Show the labeling guide", "ko": "라벨링 가이드 보기"},
    "cmd_undo": {"en": "Take back your last label", "ko": "마지막 라벨 취소하기"},
    "cmd_me": {"en": "Your counts", "ko": "내 작업 현황 보기"},
    "cmd_lang": {"en": "Change language", "ko": "언어 바꾸기"},
    "cmd_help": {"en": "What this bot can do", "ko": "도움말과 명령어 보기"},
}

_PARTS = (RECORD_TEXTS, REPORT_TEXTS, ROSTER_TEXTS, BROADCAST_TEXTS, DIGEST_TEXTS, MENU_TEXTS)
for _part in (*_PARTS, REASON_TEXTS):
    TEXTS.update(_part)

COMMANDS = ("start", "guide", "undo", "me", "lang", "leave", "forget", "help")


def t(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang` (English if missing), with `values` filled in."""
    texts = TEXTS[key]
    return texts.get(lang, texts["en"]).format(**values)


def duration(lang: str, seconds: float) -> str:
    """A length of time as people say it: "42 s", "2 min 13 s", "3 h 5 min"."""
    total = max(round(seconds), 0)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return t(lang, "duration_h", h=h, m=m)
    if m:
        return t(lang, "duration_m", m=m, s=s)
    return t(lang, "duration_s", s=s)


def placeholders(text: str) -> set[str]:
    """The {names} a text expects (used to check both languages agree)."""
    return {name for _, name, _, _ in Formatter().parse(text) if name}
