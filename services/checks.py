"""One quality check of a project: re-aggregate, re-target, suspend, and store it all.

The heavy part never runs on the bot's event loop: the labels are read and aggregated in a
thread (small projects) or a low-priority child process (`services.check_runner`); only the
changed samples come back, and they are written in short transactions through the
repository's lock, so taps keep flowing while a big project is checked. Telling people what
the check decided is the handlers' part (`handlers.common.notify`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from config.settings import Settings
from quality.agreement import describe
from quality.check import CheckSettings
from quality.workers import Rules
from services.check_runner import CheckOutcome, Span, check_in_child, check_in_thread
from storage.quality import QualityStore
from storage.repository import Repository


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


async def _check(
    repo: Repository, quality: QualityStore, limit: int, project_id: int, settings: CheckSettings
) -> CheckOutcome:
    """Read and aggregate off the event loop: in a thread for a small project, else a child."""
    path = repo.path
    if limit and await quality.label_count(project_id, upto=limit + 1) <= limit:
        return await check_in_thread(path, project_id, settings)
    return await check_in_child(path, project_id, settings)


async def check_project(
    repo: Repository, quality: QualityStore, settings: Settings, project_id: int
) -> CheckReport:
    """Run one check of a project now and store what it decided.

    Reading and aggregating run off the event loop (`_check`: a thread for a small project, a
    child process for a large one, see `services.check_runner`); if that fails,
    CheckFailed is raised and nothing is written. Suspensions, the write-back and the run
    record happen here, on the bot's connection, in short transactions.
    """
    started = time.perf_counter()
    spec = await quality.spec(project_id)
    check = _settings(spec)
    limit = settings.check_in_process_labels
    outcome = await _check(repo, quality, limit, project_id, check)
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
        outcome = await _check(repo, quality, limit, project_id, check)
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
        "confusion": outcome.confusion,
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
