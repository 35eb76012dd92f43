"""Texts of daily digests (/digest) for coordinators and workers.

Kept beside `bot.texts` (which merges them into TEXTS); the same rules hold: every text in
English and Korean, the Korean written as a Korean product team writes it (해요체, see
../shared/KOREAN.md), the same {placeholders} in both. Coordinators' digests may be a little
more formal; workers' are short and friendly.
"""

from __future__ import annotations

DIGEST_TEXTS: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------ the coordinators' digest
    "digest_header": {
        "en": "📊 Daily digest — “{project}”, {day}",
        "ko": "📊 일일 요약 — “{project}” 프로젝트, {day}",
    },
    "digest_progress": {
        "en": "Progress: {done} of {total} samples done ({pct}%).",
        "ko": "진행: 샘플 {total}개 중 {done}개 완료 ({pct}%)",
    },
    "digest_eta": {
        "en": "At the current pace ({pace} labels a day) the rest takes about {days} more "
        "days: done around {date}.",
        "ko": "지금 속도(하루 라벨 {pace}개)라면 {days}일쯤 더 걸려서 {date} 무렵 끝나요.",
    },
    "digest_eta_none": {
        "en": "Not enough labeling yet to estimate when it will be done.",
        "ko": "아직 작업량이 적어서 언제 끝날지 예상하기 어려워요.",
    },
    "digest_eta_done": {
        "en": "Every sample has all the labels it needs. 🎉",
        "ko": "모든 샘플에 필요한 라벨이 다 모였어요. 🎉",
    },
    "digest_per_day": {
        "en": "Labels per day (last 7 days):",
        "ko": "최근 7일 일별 라벨 수:",
    },
    "digest_day_line": {"en": "{day}  {n}", "ko": "{day}  {n}개"},
    "digest_today": {"en": "{day}  {n} (today so far)", "ko": "{day}  {n}개 (오늘 지금까지)"},
    "digest_active": {
        "en": "Active workers (last 24 hours): {active} of {members}.",
        "ko": "최근 24시간 동안 작업한 작업자: {members}명 중 {active}명",
    },
    "digest_alpha": {
        "en": "Agreement (Krippendorff's alpha): {value}{trend}",
        "ko": "작업자 간 일치도(Krippendorff 알파): {value}{trend}",
    },
    "digest_gold": {
        "en": "Gold accuracy: {value}{trend}",
        "ko": "확인용 문제 정답률: {value}{trend}",
    },
    "digest_no_value": {"en": "no figure yet", "ko": "아직 없음"},
    "digest_trend": {
        "en": " ({arrow} {change} since the day before)",
        "ko": " (전날보다 {arrow} {change})",
    },
    "digest_pairs": {
        "en": "Most confused options:",
        "ko": "가장 많이 헷갈린 선택지:",
    },
    "digest_pair": {
        "en": "• {a} ↔ {b}: {count} labels, e.g. “{example}”",
        "ko": "• {a} ↔ {b}: 라벨 {count}개, 예: “{example}”",
    },
    "digest_no_pairs": {
        "en": "No two options are confused with each other yet.",
        "ko": "아직 서로 헷갈린 선택지가 없어요.",
    },
    "digest_suspended": {"en": "⛔ Suspended: {workers}", "ko": "⛔ 작업 중지: {workers}"},
    "digest_flagged": {"en": "⚠️ Flagged: {workers}", "ko": "⚠️ 확인 필요: {workers}"},
    "digest_exam_failed": {
        "en": "📝 Failed the exam: {workers}",
        "ko": "📝 테스트 불합격: {workers}",
    },
    "digest_no_news": {
        "en": "No new flags, suspensions or failed exams since the last digest.",
        "ko": "지난 요약 이후 새 경고, 작업 중지, 테스트 불합격은 없어요.",
    },
    "digest_reports": {
        "en": "Open problem reports: {open} on {samples} samples ({new} new since the last "
        "digest). /reports shows them.",
        "ko": "처리 전 문제 신고: 샘플 {samples}개에 {open}건 (지난 요약 이후 새 신고 {new}건). "
        "/reports 로 확인할 수 있어요.",
    },
    "digest_reviews": {"en": "Reviews waiting: {n}.", "ko": "검수 대기: {n}개"},
    "digest_chart_caption": {
        "en": "📈 “{project}”: labels per day, agreement and gold accuracy, confusions",
        "ko": "📈 “{project}” 프로젝트: 일별 라벨 수, 일치도와 정답률, 혼동 행렬",
    },
    "digest_rule_gold_accuracy": {"en": "gold accuracy", "ko": "확인용 문제 정답률"},
    "digest_rule_too_fast": {"en": "too fast", "ko": "너무 빠른 응답"},
    "digest_rule_same_option_run": {"en": "same answer in a row", "ko": "같은 답 연속"},
    "digest_rule_low_agreement": {"en": "low agreement", "ko": "낮은 일치도"},
    "digest_rule_manual": {"en": "by a coordinator", "ko": "코디네이터 결정"},
    # ------------------------------------------------------------ the chart's words
    "chart_labels": {"en": "Labels per day", "ko": "일별 라벨 수"},
    "chart_quality": {"en": "Agreement and gold accuracy", "ko": "일치도와 확인용 문제 정답률"},
    "chart_alpha": {"en": "agreement (alpha)", "ko": "일치도(알파)"},
    "chart_gold": {"en": "gold accuracy", "ko": "정답률"},
    "chart_confusion": {
        "en": "Confusion: consensus vs. label given (colour: share of the row)",
        "ko": "혼동 행렬: 합의된 답과 작업자 답 (색: 행 안의 비율)",
    },
    "chart_consensus": {"en": "consensus", "ko": "합의된 답"},
    "chart_given": {"en": "label given", "ko": "작업자 답"},
    # ------------------------------------------------------------ a worker's digest
    "digest_worker": {
        "en": "🌟 Your last 24 hours in “{project}”\nLabels: {labels}\n{details}\n"
        "Thank you, every label helps! (/digest off stops these messages.)",
        "ko": "🌟 “{project}” 프로젝트 최근 24시간 기록이에요\n라벨: {labels}개\n{details}\n"
        "라벨 하나하나가 큰 도움이 돼요. 고마워요! (/digest off 를 보내면 이 메시지가 "
        "더 오지 않아요.)",
    },
    "digest_worker_gold": {
        "en": "Gold questions: {right} of {answered} right ({pct}%)",
        "ko": "확인용 문제: {answered}개 중 {right}개 정답 ({pct}%)",
    },
    "digest_worker_agree": {
        "en": "Same answer as the crowd: {pct}% of {n} labels",
        "ko": "다른 작업자들과 같은 답: {n}개 중 {pct}%",
    },
    "digest_worker_top": {
        "en": "🏆 #{rank} of {of} workers by labels. Great work!",
        "ko": "🏆 라벨 수로 {of}명 중 {rank}위예요. 정말 잘하고 있어요!",
    },
    "digest_worker_rank": {
        "en": "#{rank} of {of} workers by labels. Keep it up!",
        "ko": "라벨 수로 {of}명 중 {rank}위예요. 계속 힘내 주세요!",
    },
    # ------------------------------------------------------------ /digest
    "digest_usage": {
        "en": "Usage: /digest [project] sends a project's digest now. "
        "/digest off or /digest on turns your own daily digest off or on. "
        "Your projects: {projects}",
        "ko": "사용법: /digest [프로젝트] 는 프로젝트 요약을 바로 보내요. "
        "/digest off 또는 /digest on 으로 내 일일 요약을 끄거나 켤 수 있어요. "
        "내 프로젝트: {projects}",
    },
    "digest_worker_usage": {
        "en": "Your daily digest is {state}. Send /digest off to stop it, /digest on to get "
        "it again.",
        "ko": "내 일일 요약은 지금 {state} 상태예요. 끄려면 /digest off, 다시 받으려면 "
        "/digest on 을 보내 주세요.",
    },
    "digest_state_on": {"en": "on", "ko": "켜진"},
    "digest_state_off": {"en": "off", "ko": "꺼진"},
    "digest_off": {
        "en": "Your daily digest is off. Send /digest on to get it again.",
        "ko": "일일 요약을 껐어요. 다시 받으려면 /digest on 을 보내 주세요.",
    },
    "digest_on": {
        "en": "Your daily digest is on: after a day you labeled, you get a short summary.",
        "ko": "일일 요약을 켰어요. 라벨링한 날에는 짧은 요약을 보내 드려요.",
    },
    "digest_building": {
        "en": "⏳ Building the digest of “{project}”…",
        "ko": "⏳ “{project}” 프로젝트 요약을 만들고 있어요…",
    },
    "digest_failed": {
        "en": "The digest of “{project}” could not be built. Please try again in a few "
        "minutes; the error was logged.",
        "ko": "“{project}” 프로젝트 요약을 만들지 못했어요. 몇 분 뒤에 다시 시도해 주세요. "
        "오류는 기록해 두었어요.",
    },
}
