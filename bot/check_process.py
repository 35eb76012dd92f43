"""Run a quality check's reading and aggregating in a child process at low CPU priority.

On a big project the check is seconds of CPU: reading a million labels into arrays, the
consensus EM, the worker rules. In the bot's process that work holds the GIL and takes a core
from the event loop and the Bot API (measured: taps 2x slower while a 1M-label project was
read in a thread). Here it runs in a fresh process started with 'spawn' (no copy of the bot's
threads or connections), `nice`d to the bottom, reading SQLite on a read-only connection of
its own (WAL: one snapshot, never in a writer's way). Only what the job needs comes back:
the changed samples as arrays, the findings with user ids, and the figures for the summary.
Writing stays in the bot's process, at normal priority, through the repository's lock: a
low-priority process holding SQLite's write lock would make every tap wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from quality.agreement import ConfusedPair
from quality.check import CheckInput, CheckResult, CheckSettings, run_check
from quality.workers import Finding
from storage.quality import STATUS_CODES, ProjectLabels, SampleChanges, read_labels, sample_changes

CHILD_NICE = 19  # the lowest priority: the check gets the CPU the bot and Bot API leave over

Span = tuple[str, float, float]  # (phase, wall-clock start, end)


class CheckFailed(Exception):
    """The check's child process crashed or raised; it wrote nothing."""


@dataclass(frozen=True)
class CheckOutcome:
    """What a check decided, compact: only the changed samples, findings by user id."""

    method: str  # the consensus method used
    alpha: float
    kappa: float
    counts: dict[str, int]
    pairs: list[ConfusedPair]
    findings: list[tuple[int, Finding]]  # (user id, finding), in run_check's order
    changes: SampleChanges
    batches: list[str]  # the changes, rendered for `QualityStore.write_changes`
    last_label_id: int
    last_review_id: int
    spans: list[Span] = field(default_factory=list)  # load, aggregate, diff (wall clock)


def check_input(data: ProjectLabels) -> CheckInput:
    """The arrays `run_check` takes, from what storage read."""
    return CheckInput(
        task=data.task,
        worker=data.worker,
        label=data.label,
        seconds=data.seconds,
        answered=data.answered,
        n_tasks=len(data.sample_ids),
        n_workers=len(data.worker_ids),
        n_classes=data.n_options,
        truth=data.truth,
        reviewed=data.reviewed,
        status=data.status,
        target=data.target,
        gold=data.gold,
        excluded=data.suspended,
    )


def outcome_of(
    data: ProjectLabels, result: CheckResult, spans: list[Span] | None = None
) -> CheckOutcome:
    """The compact outcome of a check: the samples that changed against what was loaded."""
    spans = [] if spans is None else spans
    t0 = time.time()
    # Gold samples and reviewers' decisions are never rewritten: no need to send them.
    frozen = data.gold | (data.status == STATUS_CODES.index("reviewed"))
    changes = sample_changes(
        data.option_ids,
        data.sample_ids,
        result.status,
        result.consensus.label,
        result.consensus.confidence,
        result.target,
        (data.status, data.consensus, data.target),
        frozen,
    )
    batches = changes.batches()
    spans.append(("diff", t0, time.time()))
    return CheckOutcome(
        method=result.consensus.method,
        alpha=float(result.alpha),
        kappa=float(result.kappa),
        counts=dict(result.counts),
        pairs=list(result.pairs),
        findings=[(int(data.worker_ids[f.worker]), f) for f in result.findings],
        changes=changes,
        batches=batches,
        last_label_id=data.last_label_id,
        last_review_id=data.last_review_id,
        spans=spans,
    )


def check_here(path: Path | str, project_id: int, settings: CheckSettings) -> CheckOutcome:
    """Read, aggregate and diff one project in this process (the child's whole job)."""
    t0 = time.time()
    data = read_labels(path, project_id)
    t1 = time.time()
    result = run_check(check_input(data), settings)
    t2 = time.time()
    return outcome_of(data, result, [("load", t0, t1), ("aggregate", t1, t2)])


def _child(conn: Connection, path: str, project_id: int, settings: CheckSettings) -> None:
    """The child process: lower our priority, check, send ("ok", outcome) or ("error", text)."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, CHILD_NICE)  # if the parent's call came too late
        conn.send(("ok", check_here(path, project_id, settings)))
    except BaseException as exc:  # everything goes back to the parent, which reports it
        conn.send(("error", "".join(traceback.format_exception(exc))))
    finally:
        conn.close()


async def check_in_child(
    path: Path | str, project_id: int, settings: CheckSettings
) -> CheckOutcome:
    """Run `check_here` in a fresh low-priority process; CheckFailed if it dies or raises.

    A fresh process per check: its memory (a million labels' arrays, the EM's posteriors)
    goes back to the system when it ends, and a crash takes nothing of the bot's with it.
    If the caller is cancelled (the bot stopping), the child is killed.
    """
    started = time.time()
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child,
        args=(theirs, str(path), project_id, settings),
        name=f"quality-check-{project_id}",
        daemon=True,
    )
    proc.start()
    theirs.close()  # so that the child's death reads as EOF here
    # Lower it now, from here: the child's own first act would come after its imports
    # (numpy, pydantic: a second of CPU) at the bot's priority.
    if proc.pid is not None:  # (never None once started; 0 would mean this process)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, proc.pid, CHILD_NICE)
    try:
        try:
            # A thread waits for the reply: recv blocks until the whole message is in.
            kind, payload = await asyncio.to_thread(ours.recv)
        except EOFError:
            await asyncio.to_thread(proc.join)
            raise CheckFailed(
                f"the quality check of project {project_id} died in its child process"
                f" (exit code {proc.exitcode}; out of memory or killed?); nothing was written"
            ) from None
        if kind != "ok":
            raise CheckFailed(
                f"the quality check of project {project_id} failed in its child process;"
                f" nothing was written:\n{payload}"
            )
        assert isinstance(payload, CheckOutcome)
        await asyncio.to_thread(proc.join)
        spans = payload.spans
        if spans:  # the child's start-up and the trip back, so every second is accounted for
            spans.insert(0, ("spawn", started, spans[0][1]))
            spans.append(("reply", spans[-1][2], time.time()))
        return payload
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(1)
        ours.close()
