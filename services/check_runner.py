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

A small project (at most `Settings.check_in_process_labels` labels, default 20,000) is checked
in a thread instead (`check_in_thread`): its check is tens of milliseconds, while a throttled
child would take seconds just to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from quality.agreement import ConfusedPair
from quality.check import CheckInput, CheckResult, CheckSettings, run_check
from quality.workers import Finding
from services.background import LOWEST_NICE, Throttle, die_with_parent
from services.background import lower as _lower
from storage.snapshot import STATUS_CODES, ProjectLabels, read_labels, sample_changes

CHILD_NICE = LOWEST_NICE  # the check gets the CPU the bot and Bot API leave over
# Even at the lowest priority a busy child slows the bot down on a 2-core machine (measured:
# an idle-class CPU spinner took tap p50 from 140 to 228 ms: the cores share caches and, on a
# VM, maybe a physical core). So the child also runs in short slices: CHILD_CPU_SHARE of every
# THROTTLE_PERIOD_S, stopped (SIGSTOP) the rest. At 0.2 taps during the aggregation still had
# p95 +40%; at 0.1 they look like the baseline, and a 1M-label check reads and aggregates in
# ~90 s instead of ~6 s of CPU. No tap waits for it; nothing else does either.
# Read at each check, so tests can set it to 1.0 (no slicing: a throttled child takes ~5 s
# of wall time just to import numpy); one check test and the Throttle's own keep the slicing.
CHILD_CPU_SHARE = 0.1

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
    changed: int  # samples whose status, consensus or target changed
    batches: list[str]  # those samples, rendered for `QualityStore.write_changes`
    last_label_id: int
    last_review_id: int
    changes: int  # the project's change counter in the snapshot read (record it with the run)
    spans: list[Span] = field(default_factory=list)  # load, aggregate, diff (wall clock)
    # labels by (consensus option, option given), options by idx: the digest's matrix
    confusion: list[list[int]] = field(default_factory=list)


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
        confusion=result.confusion.astype(int).tolist(),
        findings=[(int(data.worker_ids[f.worker]), f) for f in result.findings],
        changed=len(changes.sample_id),
        batches=batches,
        last_label_id=data.last_label_id,
        last_review_id=data.last_review_id,
        changes=data.changes,
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


def _child(
    conn: Connection,
    out: str,
    path: str,
    project_id: int,
    settings: CheckSettings,
    parent: int,
) -> None:
    """The child process: check, pickle the outcome to `out`, then say "ok" (or "error")."""
    die_with_parent(parent)
    try:
        _lower(os.getpid())  # in case the parent's call came too late
        with open(out, "wb") as f:
            pickle.dump(check_here(path, project_id, settings), f, pickle.HIGHEST_PROTOCOL)
        conn.send(("ok", None))
    except BaseException as exc:  # everything goes back to the parent, which reports it
        conn.send(("error", "".join(traceback.format_exception(exc))))
    finally:
        conn.close()


def _read(out: str) -> CheckOutcome:
    # One read of the whole file: a pipe would hand over megabytes in 64 KiB reads, taking
    # the GIL back from the event loop for each.
    with open(out, "rb") as f:
        outcome = pickle.loads(f.read())
    assert isinstance(outcome, CheckOutcome)
    return outcome


async def check_in_child(
    path: Path | str, project_id: int, settings: CheckSettings
) -> CheckOutcome:
    """Run `check_here` in a fresh low-priority process; CheckFailed if it dies or raises.

    A fresh process per check: its memory (a million labels' arrays, the EM's posteriors)
    goes back to the system when it ends, and a crash takes nothing of the bot's with it.
    If the caller is cancelled (the bot stopping), the child is killed.
    """
    started = time.time()
    fd, out = tempfile.mkstemp(prefix=f"labelgram-check-{project_id}-", suffix=".pickle")
    os.close(fd)
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child,
        args=(theirs, out, str(path), project_id, settings, os.getpid()),
        name=f"quality-check-{project_id}",
        daemon=True,
    )
    proc.start()
    theirs.close()  # so that the child's death reads as EOF here
    # Lower it now, from here: the child's own first act would come after its imports
    # (numpy, pydantic: a second of CPU) at the bot's priority.
    assert proc.pid is not None  # (set by start; 0 would mean this process)
    _lower(proc.pid)
    throttle = Throttle(proc.pid, CHILD_CPU_SHARE)
    throttle.start()
    try:
        try:
            kind, error = await asyncio.to_thread(ours.recv)
        except EOFError:
            throttle.stop()  # before the child is reaped: its pid may then be reused
            await asyncio.to_thread(proc.join)
            raise CheckFailed(
                f"the quality check of project {project_id} died in its child process"
                f" (exit code {proc.exitcode}; out of memory or killed?); nothing was written"
            ) from None
        throttle.stop()
        if kind != "ok":
            raise CheckFailed(
                f"the quality check of project {project_id} failed in its child process;"
                f" nothing was written:\n{error}"
            )
        await asyncio.to_thread(proc.join)
        payload = await asyncio.to_thread(_read, out)
        spans = payload.spans
        if spans:  # the child's start-up and the trip back, so every second is accounted for
            spans.insert(0, ("spawn", started, spans[0][1]))
            spans.append(("reply", spans[-1][2], time.time()))
        return payload
    finally:
        throttle.stop()
        if proc.is_alive():
            proc.kill()
            proc.join(1)
        ours.close()
        with contextlib.suppress(OSError):
            os.unlink(out)


async def check_in_thread(
    path: Path | str, project_id: int, settings: CheckSettings
) -> CheckOutcome:
    """Run `check_here` in a thread of this process; CheckFailed if it raises.

    For small projects: a child process starts at a tenth of a CPU (its imports alone take
    seconds of wall time, see CHILD_CPU_SHARE) to do tens of milliseconds of work. Here the
    reads release the GIL and the numpy work is short, so taps wait a few ms at most.
    """
    try:
        return await asyncio.to_thread(check_here, path, project_id, settings)
    except Exception as exc:
        raise CheckFailed(
            f"the quality check of project {project_id} failed; nothing was written:\n"
            + "".join(traceback.format_exception(exc))
        ) from exc
