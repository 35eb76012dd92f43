"""Export benchmark: `labelgram export --format jsonl` of 1,000,000 samples with 3,000,000 labels
against the floor of the sqlite3 command-line tool writing the same joined rows as CSV.

    python -m bench.bench_export [--samples 1000000] [--per-sample 3] [--db PATH]

The database is built with bulk SQL (a recursive CTE per table: seconds, not minutes): one
project of three options, 1,000 workers, 1% gold samples, every sample with its labels (a few
retracted, as /undo leaves them), some reviewed. Each contender runs as a child process of its
own, so its peak RSS and CPU time are its own (`os.wait4`); the floor runs before and after
ours and the faster of the two counts. Targets: ours <= 2x the floor's time, peak RSS < 200
MB. CPU time is printed too: on a shared machine wall times swing with the neighbours' load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import cpu_busy, cpu_model, others_load
from config.project import ProjectSpec
from storage.repository import Repository

ROOT = Path(__file__).resolve().parents[1]
SLUG = "bench-export"
N_WORKERS = 1_000
WORKER_BASE = 7_000_000_000
TARGET_FACTOR = 2.0
TARGET_RSS_MB = 200.0

# The floor: the same rows our jsonl carries (every label with its sample, option and
# worker), joined and ordered the same way, written by SQLite's own shell as CSV.
FLOOR_SQL = (
    "SELECT s.ext_id, s.kind, s.text, s.status, s.confidence, s.n_labels, l.worker_id,"
    " o.key, l.shown_at, l.answered_at, l.guide_version, l.retracted_at"
    " FROM samples AS s JOIN labels AS l ON l.project_id = s.project_id AND l.sample_id = s.id"
    " JOIN options AS o ON o.id = l.option_id WHERE s.project_id = {p} ORDER BY s.id, l.id;"
)


def spec() -> ProjectSpec:
    """Three options, overlap 3."""
    return ProjectSpec.model_validate(
        {
            "name": "Export benchmark",
            "slug": SLUG,
            "question": {"en": "Which class?"},
            "guide": {"en": "Pick the class."},
            "overlap": 3,
            "license": "cc-by-4.0",
            "options": [{"id": f"o{i}", "text": {"en": f"Class {i}"}} for i in range(3)],
        }
    )


async def _create(path: Path) -> int:
    async with Repository(path) as repo:
        return (await repo.create_project(spec())).id


def build(path: Path, samples: int, per_sample: int) -> dict[str, float]:
    """The project with `samples` samples of `per_sample` labels each, in bulk SQL."""
    t0 = time.perf_counter()
    project_id = asyncio.run(_create(path))
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -1000000")
    opts = [
        r[0]
        for r in con.execute(
            "SELECT id FROM options WHERE project_id = ? ORDER BY idx", (project_id,)
        )
    ]
    start = time.time() - 30 * 86400
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO workers (id, first_name, language, created_at) VALUES (?, ?, 'en', ?)",
        ((WORKER_BASE + i, f"W{i}", start) for i in range(N_WORKERS)),
    )
    con.executemany(
        "INSERT INTO memberships (worker_id, project_id, role, joined_at)"
        " VALUES (?, ?, 'worker', ?)",
        ((WORKER_BASE + i, project_id, start) for i in range(N_WORKERS)),
    )
    con.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :n)"
        " INSERT INTO samples (project_id, ext_id, kind, text, target, n_labels, n_open, need,"
        " created_at, gold, truth, status, consensus, confidence)"
        " SELECT :p, printf('x%08d', i), 'text',"
        " printf('Item %d: a short text to classify, about as long as a review line.', i),"
        " :k, :k, 0, 0, :t, i % 100 = 0, CASE WHEN i % 100 = 0 THEN 'o0' END,"
        " CASE WHEN i % 100 = 0 THEN 'open' WHEN i % 500 = 1 THEN 'reviewed' ELSE 'done' END,"
        " CASE WHEN i % 100 = 0 THEN NULL ELSE :o0 + i % 3 END,"
        " CASE WHEN i % 100 = 0 THEN NULL ELSE 0.6 + (i % 40) / 100.0 END FROM n",
        {"n": samples, "p": project_id, "k": per_sample, "t": start, "o0": opts[0]},
    )
    # Labels: worker (sample + k * 337) mod 1000 (distinct per sample), answers mostly the
    # consensus; a label in 200 retracted.
    con.execute(
        "WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j + 1 < :k)"
        " INSERT INTO assignments (project_id, sample_id, worker_id, status, shown_at,"
        " expires_at, closed_at, option_id)"
        " SELECT :p, s.id, :w + (s.id + k.j * 337) % 1000, 'done',"
        " :t + s.id * 2.0 + k.j, :t + s.id * 2.0 + k.j + 600, :t + s.id * 2.0 + k.j + 4.5,"
        " :o0 + (s.id + (k.j = 2) * (s.id % 7 = 0)) % 3"
        " FROM samples AS s, k WHERE s.project_id = :p ORDER BY s.id, k.j",
        {"k": per_sample, "p": project_id, "w": WORKER_BASE, "t": start, "o0": opts[0]},
    )
    con.execute(
        "INSERT INTO labels (assignment_id, project_id, sample_id, worker_id, option_id,"
        " shown_at, answered_at, guide_version, retracted_at)"
        " SELECT id, project_id, sample_id, worker_id, option_id, shown_at, closed_at,"
        " 1 + (id * 2 > :half), CASE WHEN id % 200 = 0 THEN closed_at + 3 END"
        " FROM assignments WHERE project_id = :p ORDER BY id",
        {"p": project_id, "half": samples * per_sample},
    )
    con.execute(
        "INSERT INTO reviews (project_id, sample_id, reviewer_id, option_id, decided_at)"
        " SELECT project_id, id, :w, consensus, created_at + 86400 FROM samples"
        " WHERE project_id = :p AND status = 'reviewed'",
        {"p": project_id, "w": WORKER_BASE},
    )
    con.execute("COMMIT")
    con.execute("PRAGMA journal_mode = WAL")
    con.close()
    return {"build_s": time.perf_counter() - t0, "mb": path.stat().st_size / 2**20}


# Each contender starts from this small launcher (python -S: a few MB), which forks and
# execs it and reports its wall time and peak RSS from wait4. Started straight from this
# process, a child would report this process's RSS (the database build's) as its peak:
# Linux carries the high-water mark across fork and exec.
LAUNCHER = (
    "import os, sys, time\n"
    "t = time.perf_counter()\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "wall = time.perf_counter() - t\n"
    "cpu = usage.ru_utime + usage.ru_stime\n"
    "print(wall, cpu, usage.ru_maxrss, os.waitstatus_to_exitcode(status), file=sys.stderr)\n"
)


def run(cmd: list[str], stdout: Path | None = None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one child process."""
    with stdout.open("wb") if stdout else open(os.devnull, "wb") as out:
        done = subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, *cmd],
            stdout=out,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            check=False,
        )
    lines = done.stderr.decode().strip().splitlines()
    wall, cpu, rss_kb, code = lines[-1].split()
    if int(code) != 0:
        sys.exit(f"{cmd[0]} failed ({code}): {' '.join(lines[:-1])}")
    return float(wall), float(cpu), int(rss_kb) / 1024  # Linux: kB


def main() -> None:
    """Build, then time the floor and our export; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--per-sample", type=int, default=3)
    parser.add_argument("--db", type=Path, help="keep the database here (default: a temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    db = args.db or work / "bench.db"
    before = cpu_busy()
    try:
        if not db.exists():
            built = build(db, args.samples, args.per_sample)
            print(
                f"built {args.samples:,} samples x {args.per_sample} labels in"
                f" {built['build_s']:.1f} s ({built['mb']:,.0f} MB)"
            )
        con = sqlite3.connect(db)
        (project_id,) = con.execute("SELECT id FROM projects WHERE slug = ?", (SLUG,)).fetchone()
        n_labels = con.execute(
            "SELECT COUNT(*) FROM labels WHERE project_id = ?", (project_id,)
        ).fetchone()[0]
        con.close()
        # Warm the page cache once, so neither contender pays for the first read from disk.
        with db.open("rb") as fh:
            while fh.read(1 << 24):
                pass
        shell = shutil.which("sqlite3")
        floor_cmd: list[str]
        if shell:
            floor_cmd = [shell, "-readonly", "-csv", str(db), FLOOR_SQL.format(p=project_id)]
            floor_name = "sqlite3 CLI -csv"
        else:
            # No sqlite3 shell: Python's sqlite3 module writing the same rows with csv.
            code = (
                "import csv, sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
                " w = csv.writer(sys.stdout); w.writerows(c.execute(sys.argv[2]))"
            )
            floor_cmd = [sys.executable, "-c", code, str(db), FLOOR_SQL.format(p=project_id)]
            floor_name = "python sqlite3+csv (no sqlite3 CLI here)"
        ours_cmd = [sys.executable, "main.py", "--db", str(db), "export", SLUG, "--quiet"]
        floor1 = run(floor_cmd, work / "floor.csv")
        floor_bytes = (work / "floor.csv").stat().st_size
        ours = run([*ours_cmd, "-o", str(work / "ours.jsonl")])
        ours_bytes = (work / "ours.jsonl").stat().st_size
        folder = run([*ours_cmd, "-o", str(work / "folder")])
        floor2 = run(floor_cmd, work / "floor.csv")
        floor = min(floor1, floor2)
        print(f"machine: {cpu_model()}, {os.cpu_count()} cores; SQLite {sqlite3.sqlite_version}")
        print(f"{args.samples:,} samples, {n_labels:,} labels")
        print(
            f"floor ({floor_name}): {floor1[0]:.2f} s / {floor2[0]:.2f} s wall,"
            f" {floor1[1]:.2f} / {floor2[1]:.2f} s CPU, peak RSS"
            f" {max(floor1[2], floor2[2]):.0f} MB, {floor_bytes / 2**20:,.0f} MB out"
        )
        print(
            f"labelgram export jsonl: {ours[0]:.2f} s wall ({ours[0] / floor[0]:.2f}x the"
            f" floor), {ours[1]:.2f} s CPU ({ours[1] / min(floor1[1], floor2[1]):.2f}x),"
            f" peak RSS {ours[2]:.0f} MB, {ours_bytes / 2**20:,.0f} MB out"
        )
        print(
            f"labelgram export jsonl folder (data + dataset card): {folder[0]:.2f} s wall,"
            f" {folder[1]:.2f} s CPU, peak RSS {folder[2]:.0f} MB"
        )
        ok_time = ours[0] <= TARGET_FACTOR * floor[0]
        ok_rss = ours[2] < TARGET_RSS_MB
        print(
            f"target time <= {TARGET_FACTOR}x floor: {'PASS' if ok_time else 'FAIL'};"
            f" peak RSS < {TARGET_RSS_MB:.0f} MB: {'PASS' if ok_rss else 'FAIL'}"
        )
        print(others_load(before))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
