"""Benchmark: next-sample selection on a large project with half of its labels in.

The issue's figure: 1,000,000 samples, overlap 3, 10,000 workers, half the labels in; p50/p99
per pick, target p99 under 2 ms. A pick is `Repository.next_card` (CLAIM_SQL plus one sample
fetch). Prints figures; asserts only the query plans (exit 1 on a table scan or a sort).

    python -m bench.bench_pick                      # full size in a temp dir (about a minute)
    python -m bench.bench_pick --db /tmp/pick.db    # build once; later runs reuse it
    python -m bench.bench_pick --pace 30            # picks 30 ms apart, like a real crowd
    python -m bench.bench_pick --wal-autocheckpoint 10000   # is the tail the WAL checkpoint?
    python -m bench.bench_pick --samples 20000 --workers 500 --picks 2000
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import re
import shlex
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from bench.bulk import insert_history
from bench.machine import cpu_busy, cpu_model, others_load
from config.project import ProjectSpec
from handlers.jobs import CHECKPOINT_EVERY_S
from storage.assignments import TAP_SQL
from storage.models import LabelStatus, SampleIn
from storage.repository import (
    ANSWER_SQL,
    CLAIM_SQL,
    PICK_SQL,
    SAMPLE_COLS,
    SWEEP_EVERY_S,
    Repository,
)

SLUG = "bench-pick"
OVERLAP = 3
TIMEOUT_S = 600.0
FULL_SHARE = 0.4  # samples finished front to back: this share has all OVERLAP labels
PARTIAL_SHARE = 0.2  # the next share has 1 or 2 labels, alternately (1.5 on average)
ACTIVITY_SKEW = 0.7  # worker activity ~ rank**-skew: a few heavy labellers, a long tail
HISTORY_S = 30 * 86400.0
WORKER_ID_BASE = 5_000_000_000  # Telegram-sized user ids
BAD_PLAN = re.compile(r"\bSCAN (?!CONSTANT ROW)|TEMP B-TREE")
# The pick walks samples_pick in order and probes UNIQUE (sample_id, worker_id) per sample.
PICK_INDEXES = ("INDEX samples_pick", "INDEX sqlite_autoindex_assignments_1")


@dataclass
class Timings:
    """Latencies of one measured operation, in nanoseconds."""

    name: str
    ns: list[int] = field(default_factory=list)

    def p(self, q: float) -> float:
        """The q-quantile in milliseconds (nearest rank)."""
        s = sorted(self.ns)
        return s[max(0, math.ceil(len(s) * q) - 1)] / 1e6 if s else float("nan")

    def row(self) -> str:
        """One line of the result table: n, p50, p99, p99.9 and max in milliseconds."""
        worst = max(self.ns, default=0) / 1e6
        return (
            f"{self.name:<38} {len(self.ns):>7} {self.p(0.50):>9.3f} {self.p(0.99):>9.3f}"
            f" {self.p(0.999):>9.3f} {worst:>9.3f}"
        )


def spec() -> ProjectSpec:
    """The benchmark project: three options, overlap 3 (as tests/conftest.py make_spec)."""
    return ProjectSpec.model_validate(
        {
            "name": "Pick benchmark",
            "slug": SLUG,
            "question": {"en": "Which colour?", "ko": "무슨 색인가요?"},
            "guide": {"en": "Pick the main colour.", "ko": "주된 색을 고르세요."},
            "overlap": OVERLAP,
            "assignment_timeout": TIMEOUT_S,
            "options": [
                {"id": "red", "text": {"en": "Red", "ko": "빨강"}},
                {"id": "green", "text": {"en": "Green", "ko": "초록"}},
                {"id": "blue", "text": {"en": "Blue", "ko": "파랑"}},
            ],
        }
    )


def _samples(n: int) -> Iterator[SampleIn]:
    for i in range(n):
        yield SampleIn(
            ext_id=f"s{i:08d}",
            text=f"Sample {i}: a short product review of about the length people label.",
            truth="red" if i % 100 == 0 else None,
        )


async def _create_and_import(path: Path, n_samples: int) -> tuple[int, float]:
    async with Repository(path) as repo:
        project = await repo.create_project(spec())
        t0 = time.perf_counter()
        await repo.import_samples(project.id, _samples(n_samples))
        return project.id, time.perf_counter() - t0


def _connect(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the repository's pragmas, autocommit like the repo."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA busy_timeout = 5000")
    return con


def _draws(rng: random.Random, ids: list[int]) -> Iterator[int]:
    """Worker ids drawn with a skewed activity, forever."""
    weights = [(rank + 1) ** -ACTIVITY_SKEW for rank in range(len(ids))]
    shuffled = ids[:]
    rng.shuffle(shuffled)
    cum: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)
    while True:
        yield from rng.choices(shuffled, cum_weights=cum, k=100_000)


def _bulk_history(path: Path, project_id: int, n_workers: int, seed: int) -> None:
    """Workers, memberships and 'half the labels' written with bulk SQL, consistently.

    Triggers only fire for INSERT ... 'open' and for status UPDATEs, and one worker can hold
    only one open card, so the history goes straight in as 'done' assignments; labels and
    label events are copied from them in SQL, and the sample counters are set to match
    (need = target - n_labels - n_open, with n_open = 0).
    """
    rng = random.Random(seed)
    con = sqlite3.connect(path, isolation_level=None)
    # Bulk load only: no journal (a crash means rebuild), a 2 GB page cache for index inserts.
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA cache_size = -2000000")
    start = time.time() - HISTORY_S
    worker_ids = [WORKER_ID_BASE + i for i in range(n_workers)]
    option_ids = [
        r[0]
        for r in con.execute(
            "SELECT id FROM options WHERE project_id = ? ORDER BY idx", (project_id,)
        )
    ]
    sample_ids = [
        r[0]
        for r in con.execute(
            "SELECT id FROM samples WHERE project_id = ? ORDER BY id", (project_id,)
        )
    ]
    n_full = int(len(sample_ids) * FULL_SHARE)
    n_partial = int(len(sample_ids) * PARTIAL_SHARE)
    per_sample = [OVERLAP] * n_full + [1 + i % 2 for i in range(n_partial)]
    n_labels = sum(per_sample)
    draws = _draws(rng, worker_ids)

    def assignments() -> Iterator[tuple[Any, ...]]:
        aid = 0
        for sample_id, k in zip(sample_ids, per_sample, strict=False):
            chosen: list[int] = []
            while len(chosen) < k:
                w = next(draws)
                if w not in chosen:  # a worker never sees a sample twice
                    chosen.append(w)
            for w in chosen:
                aid += 1
                closed = start + HISTORY_S * aid / n_labels
                shown = closed - rng.uniform(2.0, 40.0)
                yield (
                    aid,
                    project_id,
                    sample_id,
                    w,
                    shown,
                    shown + TIMEOUT_S,
                    closed,
                    rng.choice(option_ids),
                )

    con.execute("BEGIN")
    insert_history(con, project_id, worker_ids, "W", start, assignments())
    con.execute(
        "INSERT INTO events (at, actor, project_id, kind, data)"
        " SELECT closed_at, worker_id, project_id, 'label.recorded',"
        " json_object('assignment', id, 'sample', sample_id, 'option', option_id)"
        " FROM assignments WHERE project_id = ? AND status = 'done' ORDER BY id",
        (project_id,),
    )
    con.executemany(
        "UPDATE samples SET n_labels = ?, need = target - ? WHERE id = ?",
        ((k, k, s) for s, k in zip(sample_ids, per_sample, strict=False)),
    )
    con.execute("COMMIT")
    con.execute("PRAGMA journal_mode = WAL")
    con.close()


def _summary(con: sqlite3.Connection, project_id: int) -> tuple[str, list[int]]:
    """The data line of the report, the member ids, and a consistency check."""
    n_samples, n_labels_col, bad = con.execute(
        "SELECT COUNT(*), SUM(n_labels), SUM(need != target - n_labels - n_open)"
        " FROM samples WHERE project_id = ?",
        (project_id,),
    ).fetchone()
    (n_labels,) = con.execute(
        "SELECT COUNT(*) FROM labels WHERE project_id = ? AND retracted_at IS NULL", (project_id,)
    ).fetchone()
    if bad or n_labels != n_labels_col:
        sys.exit(f"inconsistent counters: {bad} samples, {n_labels} labels vs {n_labels_col}")
    needs = dict(
        con.execute(
            "SELECT need, COUNT(*) FROM samples WHERE project_id = ? GROUP BY need", (project_id,)
        ).fetchall()
    )
    members = [
        r[0]
        for r in con.execute(
            "SELECT worker_id FROM memberships WHERE project_id = ? AND role = 'worker'",
            (project_id,),
        )
    ]
    by_need = "/".join(f"{needs.get(n, 0):,}" for n in range(OVERLAP + 1))
    line = (
        f"{n_samples:,} samples (overlap {OVERLAP}), {len(members):,} workers, "
        f"{n_labels:,} live labels; samples by need 0/1/2/3: {by_need}"
    )
    return line, members


def _plans(con: sqlite3.Connection, project_id: int, worker: int) -> list[str]:
    """EXPLAIN QUERY PLAN of the hot statements; exit 1 on a scan, a sort or a lost index."""
    params = {
        "project": project_id,
        "worker": worker,
        "now": 0.0,
        "expires": 1.0,
        "assignment": 1,
        "option": 1,
        "update": 1,
        "message": None,
    }
    lines: list[str] = []
    bad: list[str] = []
    for name, sql in (
        ("PICK_SQL", PICK_SQL),
        ("CLAIM_SQL", CLAIM_SQL),
        ("ANSWER_SQL", ANSWER_SQL),
        ("TAP_SQL", TAP_SQL),
    ):
        used = {k: v for k, v in params.items() if f":{k}" in sql}
        rows = con.execute("EXPLAIN QUERY PLAN " + sql, used).fetchall()
        depth: dict[int, int] = {0: 0}
        lines.append(f"{name}:")
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, 0) + 1
            lines.append(f"  {'  ' * (depth[node] - 1)}{detail}")
            if BAD_PLAN.search(detail):
                bad.append(f"{name}: {detail}")
        plan = "".join(str(r[3]) for r in rows)
        if "s.need" in sql and not all(i in plan for i in PICK_INDEXES):
            bad.append(f"{name}: not through {' and '.join(PICK_INDEXES)}")
    if bad:
        print("\n".join(lines))
        sys.exit("bad query plan (a scan, a sort or a lost index): " + "; ".join(bad))
    return lines


async def _measure_repo(
    path: Path, project_id: int, members: list[int], args: argparse.Namespace, warmup: int
) -> tuple[Timings, Timings, Timings, Timings, int]:
    rng = random.Random(args.seed)
    picked = Timings("next_card (Repository, aiosqlite)")
    answered = Timings("record_label (Repository, aiosqlite)")
    swept = Timings("next_card, expiry sweep due")
    tapped = Timings("tap: label + next card (one transaction)")
    misses = 0
    async with Repository(path) as repo:
        if args.wal_autocheckpoint is not None:
            await repo.db.execute(f"PRAGMA wal_autocheckpoint = {args.wal_autocheckpoint}")
        await repo.get_project(project_id)
        await repo.options(project_id)

        async def checkpoints() -> None:
            # As the bot's scheduled job does: WAL copied off the labeling path every second.
            while True:
                await asyncio.sleep(CHECKPOINT_EVERY_S)
                await repo.checkpoint()

        background = None if args.no_checkpoint_job else asyncio.create_task(checkpoints())
        # The sweep runs inside next_card at most once a second: the main loop rarely pays
        # for it, a quiet bot (under one pick a second) pays for it on every pick. `now`
        # steps past the sweep interval for the second set.
        n_swept = max(1, args.picks // 4)
        future = time.time() + 1.0
        for i in range(warmup + args.picks + n_swept):
            if args.pace:
                await asyncio.sleep(args.pace / 1000)
            sweep = i >= warmup + args.picks
            now = future + (i - warmup - args.picks) * (SWEEP_EVERY_S + 0.001) if sweep else None
            user = rng.choice(members)
            t0 = time.perf_counter_ns()
            card = await repo.next_card(user, project_id, now)
            t1 = time.perf_counter_ns()
            if card is None:
                misses += 1
                continue
            outcome = await repo.record_label(
                card.assignment_id, user, rng.randrange(OVERLAP), now
            )
            t2 = time.perf_counter_ns()
            if outcome.status is not LabelStatus.RECORDED:
                sys.exit(f"record_label for worker {user}: {outcome.status}")
            if sweep:
                swept.ns.append(t1 - t0)
            elif i >= warmup:
                picked.ns.append(t1 - t0)
                answered.ns.append(t2 - t1)
        # The bot's path: one call stores the label and claims the next card. Each worker
        # taps a card claimed a second ago (the project's min_read has passed).
        for i in range(warmup + args.picks):
            if args.pace:
                await asyncio.sleep(args.pace / 1000)
            user = rng.choice(members)
            now = time.time() + 2.0
            card = await repo.next_card(user, project_id, now - 1.0)
            if card is None:
                continue
            t0 = time.perf_counter_ns()
            result = await repo.tap(
                card.assignment_id, user, rng.randrange(OVERLAP), now=now, roll=1.0
            )
            t1 = time.perf_counter_ns()
            if result.outcome.status is not LabelStatus.RECORDED:
                sys.exit(f"tap for worker {user}: {result.outcome.status}")
            if result.card is not None:  # answered untimed: the worker holds no open card
                await repo.record_label(result.card.assignment_id, user, 0, now + 1.0)
            if i >= warmup:
                tapped.ns.append(t1 - t0)
        if background is not None:
            background.cancel()
    return picked, answered, swept, tapped, misses


def _measure_raw(
    path: Path, project_id: int, members: list[int], args: argparse.Namespace, warmup: int
) -> tuple[Timings, Timings, Timings]:
    """The same statements through the sqlite3 module: no thread hop, no event loop."""
    rng = random.Random(args.seed + 1)
    claim = Timings("CLAIM_SQL alone (sqlite3)")
    claim_fetch = Timings("CLAIM_SQL + sample fetch (sqlite3)")
    answer = Timings("ANSWER_SQL (sqlite3)")
    fetch_sql = f"SELECT {SAMPLE_COLS} FROM samples WHERE id = ?"
    con = _connect(path)
    if args.wal_autocheckpoint is not None:
        con.execute(f"PRAGMA wal_autocheckpoint = {args.wal_autocheckpoint}")
    option_ids = [
        r[0] for r in con.execute("SELECT id FROM options WHERE project_id = ?", (project_id,))
    ]
    try:
        for i in range(warmup + args.picks):
            if args.pace:
                time.sleep(args.pace / 1000)
            user = rng.choice(members)
            now = time.time()
            params = {
                "project": project_id,
                "worker": user,
                "now": now,
                "expires": now + TIMEOUT_S,
                "message": None,
            }
            t0 = time.perf_counter_ns()
            rows = con.execute(CLAIM_SQL, params).fetchall()
            t1 = time.perf_counter_ns()
            if not rows:
                continue
            assignment_id, sample_id, _, _ = rows[0]
            con.execute(fetch_sql, (sample_id,)).fetchone()
            t2 = time.perf_counter_ns()
            got = con.execute(
                ANSWER_SQL,
                {
                    "assignment": assignment_id,
                    "option": rng.choice(option_ids),
                    "update": None,
                    "now": time.time(),
                },
            ).rowcount
            t3 = time.perf_counter_ns()
            if not got:
                sys.exit(f"ANSWER_SQL stored nothing for assignment {assignment_id}")
            if i >= warmup:
                claim.ns.append(t1 - t0)
                claim_fetch.ns.append(t2 - t0)
                answer.ns.append(t3 - t2)
    finally:
        con.close()
    return claim, claim_fetch, answer


def _settle(path: Path) -> None:
    """Fold the WAL into the file and flush it, so no measured checkpoint pays for the build."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _timed(label: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = fn()
    took = time.perf_counter() - t0
    print(f"build     {label}: {took:.1f} s", flush=True)
    return result, took


def run(args: argparse.Namespace, built: Path, tmp: Path) -> int:
    """Build (or reuse) the database, check the plans, measure, print the table."""
    print(f"command   {shlex.join(sys.orig_argv)}")
    print(f"machine   {platform.platform()}; {cpu_model()}; {os.cpu_count()} cores")
    print(
        f"versions  Python {platform.python_version()}; SQLite {sqlite3.sqlite_version};"
        f" aiosqlite {aiosqlite.__version__}"
    )
    if built.exists():
        con = sqlite3.connect(built)
        try:
            row = con.execute("SELECT id FROM projects WHERE slug = ?", (SLUG,)).fetchone()
        except sqlite3.Error:
            row = None
        con.close()
        if row is None:
            sys.exit(f"{built} exists but holds no '{SLUG}' project; remove it or pick another")
        project_id = int(row[0])
        print(f"database  {built}: reused, no build (--samples/--workers ignored)")
    else:
        print(f"build     {args.samples:,} samples, {args.workers:,} workers ...", flush=True)
        (project_id, imp_s), _ = _timed(
            "create_project + import_samples",
            lambda: asyncio.run(_create_and_import(built, args.samples)),
        )
        _, bulk_s = _timed(
            "bulk history", lambda: _bulk_history(built, project_id, args.workers, args.seed)
        )
        print(
            f"database  {built}: built in {imp_s + bulk_s:.1f} s; samples via"
            f" Repository.import_samples ({imp_s:.1f} s); workers, memberships, assignments,"
            f" labels, events and sample counters via bulk SQL ({bulk_s:.1f} s)"
        )
    _settle(built)
    path = built
    if built.parent != tmp:
        # Picks change the data: measure on a copy so every reuse starts from the same state.
        path = tmp / built.name
        shutil.copyfile(built, path)
        _settle(path)
    con = _connect(path)
    data, members = _summary(con, project_id)
    print(f"data      {data}; {path.stat().st_size / 2**20:,.0f} MB")
    print("plans     (no sqlite_stat1: the app never runs ANALYZE)")
    for line in _plans(con, project_id, members[0]):
        print(f"          {line}")
    con.close()

    warmup = min(args.warmup, args.picks)
    load_before = cpu_busy()
    picked, answered, swept, tapped, misses = asyncio.run(
        _measure_repo(path, project_id, members, args, warmup)
    )
    claim, claim_fetch, answer = _measure_raw(path, project_id, members, args, warmup)
    pace = f"{args.pace:g} ms between picks" if args.pace else "back to back"
    print(
        f"timings   {pace}, after {warmup:,} warm-up picks; random workers, each without an"
        f" open card (every pick is answered, untimed); {others_load(load_before)}"
    )
    print(f"{'operation':<38} {'n':>7} {'p50 ms':>9} {'p99 ms':>9} {'p99.9 ms':>9} {'max ms':>9}")
    for t in (picked, swept, answered, tapped, claim, claim_fetch, answer):
        print(t.row())
    hop = picked.p(0.5) - claim_fetch.p(0.5)
    verdict = "PASS" if picked.p(0.99) < 2.0 else "FAIL"
    over = sum(ns > 2_000_000 for ns in picked.ns) / max(1, len(picked.ns))
    ckpt = args.wal_autocheckpoint
    job = "off" if args.no_checkpoint_job else f"every {CHECKPOINT_EVERY_S:g} s as the bot runs it"
    print(
        f"result    next_card p99 {picked.p(0.99):.3f} ms vs target 2 ms: {verdict}"
        f" ({over:.2%} of picks over 2 ms); aiosqlite + event loop add {hop:.3f} ms at p50;"
        f" {misses} picks found nothing; Repository checkpoint job {job};"
        f" wal_autocheckpoint {'as Repository sets it' if ckpt is None else ckpt}"
        " (raw sqlite3 rows: SQLite's default 1000)"
    )
    return 0


def main() -> int:
    """Parse the options and run the benchmark in a temp dir unless --db is given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--picks", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-checkpoint-job",
        action="store_true",
        help="do not run the background WAL checkpoint the bot schedules (to see its effect)",
    )
    parser.add_argument(
        "--pace", type=float, default=0.0, help="ms of idle time before each pick (untimed)"
    )
    parser.add_argument(
        "--wal-autocheckpoint",
        type=int,
        help="override PRAGMA wal_autocheckpoint on the measured connections (an experiment)",
    )
    parser.add_argument(
        "--db", type=Path, help="database file: built if missing, else reused (measured on a copy)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labelgram-bench-") as tmp:
        return run(args, args.db or Path(tmp) / "bench.db", Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
