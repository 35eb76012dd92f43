"""Benchmark: the roster and the work report on a big project.

A project with --labels live labels (default 1,000,000: 200,000 samples x 5 from --workers
500 workers, 4 options, answered over the last 30 days, a consensus on every sample) is
built with raw sqlite3 after `Repository.open()` has migrated the file. Then, through the
bot's own `Repository` calls:

- a page of /workers (8 workers: each one's labels total and today, gold accuracy, agreement
  with the consensus, median answer time) and one worker's card;
- the work report (CSV) of the whole period, every label of the project.

Targets (a coordinator's tap must feel instant; a report is a document they wait for):
a roster page <= 0.5 s, the work report of 1M labels <= 5 s.

    python -m bench.bench_roster                       # 1,000,000 labels
    python -m bench.bench_roster --labels 100000 --workers 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bulk import insert_history
from bench.machine import cpu_busy, cpu_model, others_load
from services.workreport import build_report
from storage.models import SampleIn
from storage.repository import Repository
from tests.conftest import make_spec

PAGE_TARGET_S = 0.5
REPORT_TARGET_S = 5.0
OVERLAP = 5


async def build(path: Path, n_labels: int, n_workers: int, seed: int) -> int:
    """The project, its samples and its history; the project's id."""
    async with Repository(path) as repo:
        project = await repo.create_project(make_spec(overlap=OVERLAP))
        n_samples = n_labels // OVERLAP
        await repo.import_samples(
            project.id, [SampleIn(ext_id=f"s{i}", text=f"sample {i}") for i in range(n_samples)]
        )
        options = [o.id for o in await repo.options(project.id)]
    rng = random.Random(seed)
    now = time.time()
    con = sqlite3.connect(path)
    with con:
        first = con.execute("SELECT MIN(id) FROM samples WHERE project_id = ?", (project.id,))
        base = int(first.fetchone()[0])
        workers = list(range(10_000, 10_000 + n_workers))

        def rows() -> Iterator[tuple[Any, ...]]:
            aid = 0
            for s in range(n_samples):
                for w in rng.sample(workers, OVERLAP):
                    aid += 1
                    shown = now - rng.uniform(0, 30 * 86400)
                    done = shown + rng.expovariate(1 / 6)
                    yield (
                        aid,
                        project.id,
                        base + s,
                        w,
                        shown,
                        shown + 600,
                        done,
                        options[rng.randrange(len(options))],
                    )

        insert_history(con, project.id, workers, "Worker", now - 31 * 86400, rows())
        con.execute(
            "UPDATE samples SET n_labels = ?, need = target - ?, status = 'done',"
            " consensus = ? WHERE project_id = ?",
            (OVERLAP, OVERLAP, options[0], project.id),
        )
    con.close()
    return project.id


async def measure(path: Path, project_id: int, repeat: int) -> dict[str, list[float]]:
    """Seconds per call of each read, `repeat` times."""
    out: dict[str, list[float]] = {"page": [], "card": [], "report": []}
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    async with Repository(path) as repo:
        for i in range(repeat):
            t0 = time.perf_counter()
            page = await repo.roster_page(project_id, 8 * i, 8, day_start=day, exam_size=0)
            out["page"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await repo.roster_entry(project_id, page[0].worker_id, day_start=day, exam_size=0)
            await repo.recent_flags(project_id, page[0].worker_id)
            out["card"].append(time.perf_counter() - t0)
        today = datetime.now(UTC).date()
        for _ in range(max(1, repeat // 3)):
            t0 = time.perf_counter()
            report = await build_report(repo, project_id, today - timedelta(days=31), today)
            out["report"].append(time.perf_counter() - t0)
        print(
            f"report: {len(report.rows)} workers, {report.labels:,} labels,"
            f" {len(report.csv):,} bytes of CSV"
        )
    return out


def main() -> None:
    """Build, measure, print the table and PASS/FAIL."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="keep the built database here (reused if there)")
    args = parser.parse_args()
    busy = cpu_busy()
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "roster.db"
        if path.exists():
            project_id = 1
            print(f"reusing {path}")
        else:
            t0 = time.perf_counter()
            project_id = asyncio.run(build(path, args.labels, args.workers, args.seed))
            print(
                f"built {args.labels:,} labels from {args.workers} workers"
                f" in {time.perf_counter() - t0:.1f} s"
            )
        times = asyncio.run(measure(path, project_id, args.repeat))
    print(f"{'read':<8} {'n':>3} {'median s':>9} {'max s':>8} {'target s':>9}  result")
    ok = True
    for name, target in (
        ("page", PAGE_TARGET_S),
        ("card", PAGE_TARGET_S),
        ("report", REPORT_TARGET_S),
    ):
        values = times[name]
        passed = max(values) <= target
        ok &= passed
        print(
            f"{name:<8} {len(values):>3} {statistics.median(values):>9.3f}"
            f" {max(values):>8.3f} {target:>9.1f}  {'PASS' if passed else 'FAIL'}"
        )
    print(f"other load meanwhile: {others_load(busy)}")
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
