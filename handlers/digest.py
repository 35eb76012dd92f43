"""Daily digests: to coordinators (text and chart) and to each worker who labeled that day, at
the project's local digest time; /digest [project], /digest off|on.

A job every DIGEST_EVERY_S looks at every project: once its local clock has passed its
`digest_time`, that local day's digest is due (`services.digest.due_day`). Projects are made
and changed while the bot runs, so nothing is scheduled per project: the job reads each spec
as it is now. The database de-duplicates (storage.digests): a day's digest is made once, each
recipient is claimed before their message goes out, so a restart, two ticks or a redelivered
/digest never send one twice; one missed while the bot was down goes out when it is back the
same local day. Building (figures and chart) runs off the event loop (services.digest).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from telegram import Bot, Update
from telegram.error import Forbidden, TelegramError, TimedOut
from telegram.ext import BaseHandler, CommandHandler, Job, JobQueue

from bot.context import BotData, Context, lang_of, language_of
from bot.texts import TEXTS, t
from handlers.common import choose_project, managed_projects
from services.charts import ChartWords
from services.digest import (
    FIRST_NEWS_S,
    Digest,
    DigestFailed,
    Period,
    build_digest,
    due_day,
    eta,
    gold_series,
    pace,
    period,
    trend,
)
from storage.digests import Named, WorkerDay
from storage.models import Project, Role
from storage.repository import Repository

log = logging.getLogger(__name__)

DIGEST_JOB = "digest"
DIGEST_EVERY_S = 60.0
_TEXT_LIMIT = 4096
_TOP_SHARE = 0.1  # workers this far up the ranking (or in the top 3) get the trophy line

RETRY_FAILED_S = 600.0  # a digest that could not be built is tried again after this
Clock = Callable[[], float]
# (project id, day) -> when its digest last failed to build, in this process
_failed: dict[tuple[int, str], float] = {}


# ---------------------------------------------------------------- texts


def person(lang: str, user_id: int, name: str, username: str | None) -> str:
    """A worker as a coordinator sees them: name and id, e.g. "Mina (1003)"."""
    if name:
        return f"{name} ({user_id})"
    if username:
        return f"@{username} ({user_id})"
    return f"{t(lang, 'role_worker')} ({user_id})"


def option_text(texts: dict[str, str], lang: str) -> str:
    """An option's button text in `lang` (English, or any, when it has none)."""
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "?")


def _value(lang: str, series: list[float | None], percent: bool = False) -> tuple[str, str]:
    """The latest value of a per-day series and its change from the day before, as text
    (a share as a percentage, its change in points)."""
    value, change = trend(series)
    if value is None:
        return t(lang, "digest_no_value"), ""
    scale, unit, digits = (100.0, "%", 0) if percent else (1.0, "", 2)
    shown = f"{value * scale:.{digits}f}{unit}"
    if change is None:
        return shown, ""
    step = change * scale
    arrow = "↑" if step > 0.5 * 10**-digits else "↓" if step < -0.5 * 10**-digits else "→"
    size = f"{abs(step):.{digits}f}" + ("%p" if percent else "")
    return shown, t(lang, "digest_trend", arrow=arrow, change=size)


def _names(lang: str, people: list[Named]) -> str:
    parts = []
    for p in people:
        who = person(lang, p.user_id, p.name, p.username)
        rule = f"digest_rule_{p.what}"
        parts.append(f"{who}: {t(lang, rule)}" if p.what and _known(rule) else who)
    return ", ".join(parts)


def _known(key: str) -> bool:
    return key in TEXTS


def coordinator_text(lang: str, project: Project, digest: Digest) -> str:
    """The coordinators' digest, in `lang`."""
    f, when = digest.figures, digest.period
    states = f.states
    pct = round(100 * states.done / states.work) if states.work else 0
    lines = [
        t(lang, "digest_header", project=project.name_in(lang), day=when.day),
        "",
        t(lang, "digest_progress", done=f"{states.done:,}", total=f"{states.work:,}", pct=pct),
    ]
    finish = eta(f, when.day)
    if f.remaining <= 0 and states.work:
        lines.append(t(lang, "digest_eta_done"))
    elif finish is None:
        lines.append(t(lang, "digest_eta_none"))
    else:
        days, end = finish
        speed = f"{round(pace(f)):,}"
        lines.append(t(lang, "digest_eta", pace=speed, days=days, date=end.isoformat()))
    lines += ["", t(lang, "digest_per_day")]
    for i, (day, n) in enumerate(zip(when.days, f.labels_per_day, strict=True)):
        key = "digest_today" if i == len(when.days) - 1 else "digest_day_line"
        lines.append(t(lang, key, day=day[5:], n=f"{n:,}"))
    lines.append("")
    lines.append(t(lang, "digest_active", active=f"{len(f.workers):,}", members=f"{f.members:,}"))
    value, change = _value(lang, f.alpha_per_day)
    lines.append(t(lang, "digest_alpha", value=value, trend=change))
    value, change = _value(lang, gold_series(f), percent=True)
    lines.append(t(lang, "digest_gold", value=value, trend=change))
    lines.append("")
    if f.pairs:
        lines.append(t(lang, "digest_pairs"))
        for pair in f.pairs:
            a, b = (option_text(f.options[i], lang) for i in (pair.a, pair.b))
            lines.append(
                t(lang, "digest_pair", a=a, b=b, count=f"{pair.count:,}", example=pair.example)
            )
    else:
        lines.append(t(lang, "digest_no_pairs"))
    lines.append("")
    news = [
        (f.suspended, "digest_suspended"),
        (f.flagged, "digest_flagged"),
        (f.exams_failed, "digest_exam_failed"),
    ]
    shown = [t(lang, key, workers=_names(lang, people)) for people, key in news if people]
    lines += shown or [t(lang, "digest_no_news")]
    lines.append(
        t(
            lang,
            "digest_reports",
            open=f.reports_open,
            samples=f.reports_samples,
            new=f.reports_new,
        )
    )
    lines.append(t(lang, "digest_reviews", n=states.review))
    return "\n".join(lines)[:_TEXT_LIMIT]


def worker_text(lang: str, project: Project, worker: WorkerDay, rank: int, of: int) -> str:
    """One worker's digest: short and encouraging, in their language."""
    details = []
    if worker.gold_answered:
        pct = round(100 * worker.gold_right / worker.gold_answered)
        details.append(
            t(
                lang,
                "digest_worker_gold",
                right=worker.gold_right,
                answered=worker.gold_answered,
                pct=pct,
            )
        )
    if worker.compared:
        pct = round(100 * worker.agreed / worker.compared)
        details.append(t(lang, "digest_worker_agree", pct=pct, n=worker.compared))
    top = rank <= 3 or rank <= max(1, round(of * _TOP_SHARE))
    details.append(t(lang, "digest_worker_top" if top else "digest_worker_rank", rank=rank, of=of))
    return t(
        lang,
        "digest_worker",
        project=project.name_in(lang),
        labels=f"{worker.labels:,}",
        details="\n".join(details),
    )


def chart_words(lang: str, options: list[dict[str, str]]) -> ChartWords:
    """The chart's words in `lang`."""
    return ChartWords(
        labels_title=t(lang, "chart_labels"),
        quality_title=t(lang, "chart_quality"),
        alpha=t(lang, "chart_alpha"),
        gold=t(lang, "chart_gold"),
        confusion_title=t(lang, "chart_confusion"),
        consensus=t(lang, "chart_consensus"),
        given=t(lang, "chart_given"),
        options=[option_text(o, lang) for o in options],
    )


# ---------------------------------------------------------------- building and sending


async def make_digest(data: BotData, project: Project, when: Period, langs: set[str]) -> Digest:
    """The project's digest for `when`, with a chart per language in `langs` (drawn in a child
    process: at the lowest priority for a project over `check_in_process_labels` labels)."""
    options = [o.texts for o in await data.repo.options(project.id)]
    words = {lang: (chart_words(lang, options), chart_words("en", options)) for lang in langs}
    limit = data.settings.check_in_process_labels
    big = not limit or await data.quality.label_count(project.id, upto=limit + 1) > limit
    return await build_digest(data.settings.db_path, project.id, when, words, big=big)


async def _send_coordinator(
    bot: Bot, chat_id: int, lang: str, project: Project, digest: Digest
) -> None:
    """The text, then the chart. Once the text is out the digest counts as sent: a chart that
    fails (not a block) is logged, not retried, so that a retry never repeats the text."""
    await bot.send_message(chat_id, coordinator_text(lang, project, digest))
    chart = digest.charts.get(lang)
    if chart is None:
        return
    caption = t(lang, "digest_chart_caption", project=project.name_in(lang))
    try:
        await bot.send_photo(chat_id, chart, caption=caption, filename="digest.png")
    except Forbidden:
        raise
    except TelegramError as exc:
        log.warning("digest chart to %s not sent: %s", chat_id, exc)


def _digest_moment(day: str, digest_time: str, timezone: str) -> float:
    hour, minute = (int(x) for x in digest_time.split(":"))
    d = datetime.fromisoformat(day)
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=ZoneInfo(timezone)).timestamp()


async def send_project_digest(bot: Bot, data: BotData, project: Project, now: float) -> int:
    """Send the project's due digest to everyone who has not had it; how many were sent.

    Nothing when it is not due yet, or when it was made and every recipient tried."""
    repo = data.repo
    spec = await repo.project_spec(project.id)
    day = due_day(spec.digest_time, spec.timezone, now)
    if day is None or not await repo.digest_pending(project.id, day):
        return 0
    if project.created_at > _digest_moment(day, spec.digest_time, spec.timezone):
        return 0  # made after today's digest time: its first digest is tomorrow's
    if await repo.digest_paused_or_closed(project.id) in ("closed", "archived"):
        return 0  # read-only: nothing happens that a digest could tell (a paused one has one)
    if _failed.get((project.id, day), 0.0) > now - RETRY_FAILED_S:
        return 0  # it failed a moment ago: not a child process every minute
    since, until = await repo.digest_window(project.id, day, now, now - FIRST_NEWS_S)
    coordinators = await data.quality.members(project.id, Role.COORDINATOR)
    members, labeled = await repo.digest_audience(project.id, until - 86400.0)
    if not coordinators and not labeled:
        await repo.digest_finished(project.id, day)  # nobody to tell anything
        return 0
    langs = {c: await language_of(data, c) for c in coordinators}
    when = period(spec.timezone, until, since)
    try:
        digest = await make_digest(data, project, when, set(langs.values()))
    except DigestFailed:
        log.exception("digest of %s for %s not built", project.slug, day)
        _failed[(project.id, day)] = now
        return 0
    sent = 0
    for chat_id, lang in langs.items():
        sent += await _deliver(
            repo,
            project.id,
            day,
            chat_id,
            "coordinator",
            partial(_send_coordinator, bot, chat_id, lang, project, digest),
        )
    optouts = await repo.digest_optouts()
    ranked = digest.figures.workers
    for rank, worker in enumerate(ranked, start=1):
        if worker.user_id in optouts or worker.user_id in langs or worker.user_id not in members:
            continue  # opted out, a coordinator (who has theirs), left or was forgotten
        text = worker_text(worker.language, project, worker, rank, len(ranked))
        sent += await _deliver(
            repo,
            project.id,
            day,
            worker.user_id,
            "worker",
            partial(bot.send_message, worker.user_id, text),
        )
    await repo.digest_finished(project.id, day)
    log.info("digest of %s for %s: %d sent in %.2f s", project.slug, day, sent, digest.seconds)
    return sent


async def _deliver(
    repo: Repository,
    project_id: int,
    day: str,
    user_id: int,
    kind: str,
    send: Callable[[], Awaitable[object]],
) -> int:
    """Claim, send, record: 1 if this call sent the digest, 0 if it was not ours to send
    (sent before, being sent, unreachable) or failed (tried again at the next tick)."""
    if not await repo.claim_digest(project_id, day, user_id, kind):
        return 0
    try:
        await send()
    except Forbidden:
        await repo.digest_sent(project_id, day, user_id, "unreachable")
        return 0
    except TimedOut:  # it may have arrived: left 'sending', never sent twice
        log.warning("digest to %s timed out: not sent again", user_id)
        return 0
    except TelegramError as exc:
        log.warning("digest to %s not sent: %s", user_id, exc)
        await repo.digest_sent(project_id, day, user_id, "failed")
        return 0
    except Exception:  # a bug writing this one: the others still go out
        log.exception("digest to %s not sent", user_id)
        await repo.digest_sent(project_id, day, user_id, "failed")
        return 0
    await repo.digest_sent(project_id, day, user_id, "sent")
    return 1


async def send_due(bot: Bot, data: BotData, now: float | None = None) -> int:
    """Send every project's due digest (the job's work); how many messages went out."""
    now = time.time() if now is None else now
    sent = 0
    for project in await data.repo.list_projects():
        try:
            sent += await send_project_digest(bot, data, project, now)
        except Exception:  # one project's failure does not hold back the others' digests
            log.exception("digests of project %s not sent", project.slug)
    return sent


async def digest_job(context: Context) -> None:
    """Send the digests that are due (every DIGEST_EVERY_S)."""
    job = context.job
    clock: Clock = job.data if job is not None and callable(job.data) else time.time
    await send_due(context.bot, context.bot_data, clock())


# ---------------------------------------------------------------- /digest


async def digest_command(update: Update, context: Context) -> None:
    """/digest [project]: a project's digest now; /digest off|on: one's own daily digest."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    data = context.bot_data
    lang = await lang_of(context, user)
    args = [a.lower() for a in context.args or []]
    if args in (["off"], ["on"]):
        if await data.repo.get_worker(user.id) is None:
            await data.repo.upsert_worker(user.id, user.first_name, user.username, lang)
        await data.repo.set_digest_optout(user.id, args == ["off"])
        await message.reply_text(t(lang, f"digest_{args[0]}"))
        return
    projects = await managed_projects(context, user.id)
    if not projects:
        off = user.id in await data.repo.digest_optouts()
        state = t(lang, "digest_state_off" if off else "digest_state_on")
        await message.reply_text(t(lang, "digest_worker_usage", state=state))
        return
    names = ", ".join(p.slug for p in projects)
    if len(args) > 1:
        await message.reply_text(t(lang, "digest_usage", projects=names))
        return
    project = choose_project(projects, args[0] if args else None)
    if project is None:
        key = "digest_usage" if not args else "unknown_project"
        await message.reply_text(t(lang, key, project=args[0] if args else "", projects=names))
        return
    if await data.inbox.effect(update.update_id, "digest") is not None:
        return  # this /digest, handled again after a crash: it was sent
    await message.reply_text(t(lang, "digest_building", project=project.name_in(lang)))
    spec = await data.repo.project_spec(project.id)
    now = time.time()
    since = await data.repo.last_digest_until(project.id) or now - FIRST_NEWS_S
    try:
        digest = await make_digest(data, project, period(spec.timezone, now, since), {lang})
    except DigestFailed:
        log.exception("digest of %s not built", project.slug)
        await message.reply_text(t(lang, "digest_failed", project=project.name_in(lang)))
        return
    await _send_coordinator(context.bot, user.id, lang, project, digest)
    await data.inbox.record_effect(update.update_id, "digest", {"day": digest.period.day})


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """/digest."""
    return [CommandHandler("digest", digest_command)]


def schedule(job_queue: JobQueue[Context], clock: Clock = time.time) -> Job[Context]:
    """The digest job, every DIGEST_EVERY_S (called at start-up, after the bot's own; a
    second call replaces it: tests give it a clock of their own)."""
    for job in job_queue.get_jobs_by_name(DIGEST_JOB):
        job.schedule_removal()
    return job_queue.run_repeating(
        digest_job, interval=DIGEST_EVERY_S, first=5.0, name=DIGEST_JOB, data=clock
    )
