"""The scheduled quality check: re-aggregate, re-target, suspend and tell people.

Runs on the JobQueue every `QUALITY_TICK_S` seconds and checks each project whose labels,
reviews or suspensions changed since its last check and whose `[quality] check_every` has
passed; `/check` runs it at once. The heavy part never runs in the bot's process: the labels
are read and aggregated in a low-priority child process (`bot.check_process`); only the changed
samples come back, and they are written in short transactions through the repository's lock,
so taps keep flowing while a big project is checked.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from telegram.error import Forbidden, TelegramError

from bot.check_process import CheckFailed, CheckOutcome, Span, check_in_child, check_in_thread
from bot.context import BotData, Context
from bot.texts import t
from quality.agreement import describe
from quality.check import CheckSettings
from quality.workers import Rules
from storage.models import Role, SampleCounts
from storage.quality import GoldResult

log = logging.getLogger(__name__)

QUALITY_JOB = "quality-check"
QUALITY_TICK_S = 30.0


@dataclass
class CheckReport:
    """What one check did, for /check and the notices."""

    project_id: int
    project: str
    seconds: float
    result: CheckOutcome | None
    suspended: list[tuple[int, str]] = field(default_factory=list)
    flagged: list[tuple[int, str]] = field(default_factory=list)
    new_reviews: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)  # (phase, wall start, end), for logs/bench


def _settings(spec: Any) -> CheckSettings:
    q = spec.quality
    return CheckSettings(
        method=q.method,
        dynamic=q.dynamic_overlap,
        min_overlap=spec.overlap,
        max_overlap=q.max_overlap or spec.overlap,
        target_confidence=q.target_confidence,
        stop_rule=q.stop_rule,
        rules=Rules(**q.rules.model_dump()),
    )


async def _check(data: BotData, project_id: int, settings: CheckSettings) -> CheckOutcome:
    """Read and aggregate off the event loop: in a thread for a small project, else a child."""
    path, limit = data.repo.path, data.settings.check_in_process_labels
    if limit and await data.quality.label_count(project_id, upto=limit + 1) <= limit:
        return await check_in_thread(path, project_id, settings)
    return await check_in_child(path, project_id, settings)


async def check_project(data: BotData, project_id: int) -> CheckReport:
    """Run one check of a project now and store what it decided.

    Reading and aggregating run off the event loop (`_check`: a thread for a small project, a
    child process for a large one, see `bot.check_process`); if that fails,
    CheckFailed is raised and nothing is written. Suspensions, the write-back and the run
    record happen here, on the bot's connection, in short transactions.
    """
    started = time.perf_counter()
    quality, repo = data.quality, data.repo
    spec = await quality.spec(project_id)
    settings = _settings(spec)
    outcome = await _check(data, project_id, settings)
    report = CheckReport(project_id, spec.name, 0.0, outcome, spans=list(outcome.spans))
    before_review = await quality.review_count(project_id)
    for user_id, finding in outcome.findings:
        if finding.action == "suspend":
            if await quality.suspend(user_id, project_id, finding.reason(), finding.rule):
                report.suspended.append((user_id, finding.reason()))
        else:
            report.flagged.append((user_id, finding.reason()))
    if report.suspended:
        # Their labels must not count: aggregate again without them (the child reads the
        # suspensions just committed).
        outcome = await _check(data, project_id, settings)
        report.result = outcome
        report.spans += [(f"{name} again", a, b) for name, a, b in outcome.spans]
    options = await repo.options(project_id)
    names = [o.key for o in sorted(options, key=lambda o: o.idx)]
    summary = {
        "method": outcome.method,
        "alpha": None if math.isnan(outcome.alpha) else round(outcome.alpha, 4),
        "kappa": None if math.isnan(outcome.kappa) else round(outcome.kappa, 4),
        # The samples' states are counted as /status counts them, once the check's
        # decisions are written (`QualityStore.write_changes`).
        "counts": {k: outcome.counts[k] for k in ("labels", "excluded_labels")},
        "pairs": [describe(p, names) for p in outcome.pairs],
        "suspended": [u for u, _ in report.suspended],
        "flagged": [[u, r] for u, r in report.flagged],
    }
    report.seconds = time.perf_counter() - started
    t0 = time.time()
    await quality.write_changes(
        project_id,
        outcome.batches,
        summary,
        outcome.last_label_id,
        outcome.last_review_id,
        report.seconds,
        changes=outcome.changes,
    )
    report.spans.append(("write", t0, time.time()))
    report.new_reviews = max(0, await quality.review_count(project_id) - before_review)
    report.summary = summary
    return report


def states_text(lang: str, states: SampleCounts) -> str:
    """The samples' states as /status and /check both show them."""
    pct = round(100 * states.done / states.work) if states.work else 0
    return t(
        lang,
        "sample_states",
        done=states.done,
        total=states.work,
        pct=pct,
        open=states.open,
        review=states.review,
        control=states.control,
    )


def summary_text(report: CheckReport, lang: str) -> str:
    """The /check reply."""
    s = report.summary
    counts = s["counts"]
    pairs = "".join(f"• {p}\n" for p in s["pairs"])
    workers = "".join(f"⛔ {u}: {r}\n" for u, r in report.suspended) + "".join(
        f"⚠️ {u}: {r}\n" for u, r in report.flagged
    )
    return t(
        lang,
        "check_summary",
        project=report.project,
        method=s["method"],
        seconds=f"{report.seconds:.2f}",
        labels=counts["labels"],
        excluded=counts["excluded_labels"],
        samples=states_text(lang, SampleCounts.model_validate(counts)),
        alpha="-" if s["alpha"] is None else f"{s['alpha']:.3f}",
        kappa="-" if s["kappa"] is None else f"{s['kappa']:.3f}",
        pairs=pairs,
        workers=workers,
    )


async def notify(context: Context, report: CheckReport) -> None:
    """Tell suspended workers, coordinators and reviewers what the check decided."""
    data = context.bot_data
    repo, quality = data.repo, data.quality
    coordinators = await quality.members(report.project_id, Role.COORDINATOR)
    reviewers = await quality.members(report.project_id, Role.REVIEWER) or coordinators
    for user_id, reason in report.suspended:
        await _send(context, user_id, "suspended", project=report.project, reason=reason)
        worker = await repo.get_worker(user_id)
        name = worker.first_name if worker and worker.first_name else str(user_id)
        for c in coordinators:
            await _send(
                context,
                c,
                "coord_suspended",
                worker=name,
                project=report.project,
                reason=reason,
                user_id=user_id,
            )
    for user_id, reason in report.flagged:
        worker = await repo.get_worker(user_id)
        name = worker.first_name if worker and worker.first_name else str(user_id)
        for c in coordinators:
            await _send(
                context, c, "coord_flagged", worker=name, project=report.project, reason=reason
            )
    if report.new_reviews:
        waiting = await quality.review_count(report.project_id)
        for r in reviewers:
            await _send(context, r, "review_waiting", count=waiting, project=report.project)


async def notify_exam_failed(
    context: Context, user_id: int, project_id: int, result: GoldResult
) -> None:
    """Tell the project's coordinators that a worker failed its exam, and how to allow a
    retry (the worker was told by the labeling loop)."""
    repo = context.bot_data.repo
    project = await repo.get_project(project_id)
    worker = await repo.get_worker(user_id)
    key = "coord_exam_failed" if result.exam_answered else "coord_exam_no_gold"
    for c in await context.bot_data.quality.members(project_id, Role.COORDINATOR):
        coordinator = await repo.get_worker(c)
        lang = coordinator.language if coordinator else "en"
        if worker and worker.first_name:
            name = worker.first_name
        elif worker and worker.username:
            name = f"@{worker.username}"
        else:
            name = t(lang, "role_worker")
        await _send(
            context,
            c,
            key,
            worker=name,
            user_id=user_id,
            project=project.name,
            slug=project.slug,
            correct=result.exam_correct,
            answered=result.exam_answered,
        )


async def _send(context: Context, chat_id: int, key: str, **values: object) -> None:
    worker = await context.bot_data.repo.get_worker(chat_id)
    lang = worker.language if worker else "en"
    try:
        await context.bot.send_message(chat_id, t(lang, key, **values))
    except (Forbidden, TelegramError):
        log.info("could not tell %s (%s)", chat_id, key)


async def quality_job(context: Context) -> None:
    """Check every project that changed and is due (its check_every has passed)."""
    data = context.bot_data
    now = time.time()
    for project in await data.repo.list_projects():
        spec = await data.quality.spec(project.id)
        last = await data.quality.last_run(project.id)
        if last is not None and now - last[2].get("at", 0.0) < spec.quality.check_every:
            continue
        if not await data.quality.changed_since_last_run(project.id):
            continue
        try:
            report = await check_project(data, project.id)
        except CheckFailed:
            # One project's failed check must not stop the others'; it is tried again on
            # the next tick (nothing was recorded, so it still counts as changed).
            log.exception("quality check of %s failed", project.slug)
            continue
        log.info("quality check of %s: %s in %.2f s", project.slug, report.summary, report.seconds)
        await notify(context, report)
