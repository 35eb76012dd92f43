"""Benchmark: data intake of a large CSV, Labelgram against a plain pandas read in the same run.

The issue's figure: a 1,000,000-row CSV with 5% duplicate and 1% broken rows; rows/s and peak
RSS, with pandas `read_csv(on_bad_lines="skip", dtype=str)` + `drop_duplicates(subset=["text"])`
of the same file as the reference. Target: a speed ratio (our rows/s over pandas' rows/s) of at
least 1.0, and a peak RSS under 200 MB. Prints figures; exits 1 only if a run crashed or the
database does not hold exactly the rows the import report says it kept.

Each variant runs in a child process of its own, so its peak RSS (VmHWM, read by the child at
its end; it includes the interpreter and the imports, shown apart as "RSS at start") is its
own and nothing is shared between variants:

- import: `services.importing.import_file` into a fresh SQLite database, project defaults
  (near-duplicates flagged); this is the row the targets are judged on. Meanwhile a task
  makes an empty write transaction every 50 ms, as labeling would: the counts line shows how
  long those writes waited for the import (p99 and max)
- import, near off: the same with `[cleaning] near_duplicates = "off"`: the cost of MinHash
- pipeline only: `intake.pipeline.run` consumed without a database: the cost of the database
- pandas: the reference above
- storage floor: no reading, cleaning or checking at all: the kept rows, built as the
  parameter tuples the import binds (content keys included) before the clock starts, stored
  with one `executemany` into a fresh database in one transaction. Twice: as the import stores
  them (the real `samples` table and indexes, WAL, synchronous=NORMAL) and as no import may
  (secondary indexes dropped, journal and fsync off: nothing survives a crash). This is what
  SQLite alone costs for the file, the part no reader or cleaner can make faster.

rows/s is the file's data rows over the seconds of the measured call (imports, database
creation and the project are set up before the clock starts). The data (deterministic in
--seed): columns id,text,gold; texts of 60-120 characters mixing English and Korean words,
some with commas or quotes (so quoted fields), 2% with a stray double space, zero-width space
or trailing space (so the cleaning rules fix them); gold one of pos/neg/neu. 5% are exact copies
of an earlier row's text (a fifth of them with its id too); 1% are broken by having 4 or 5
fields instead of 3 (an unquoted comma), which both readers skip or drop and pandas can still
parse. When a judged target fails, the pipeline-only variant is profiled on a 100,000-row file
(top functions by tottime).

    python -m bench.bench_intake                    # 1,000,000 rows (several minutes)
    python -m bench.bench_intake --rows 100000 --seed 2
    python -m bench.bench_intake --skip-pandas --keep
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import csv
import importlib
import io
import json
import os
import platform
import pstats
import random
import resource
import shlex
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.child import ChildFailed, peak_mb, rss_mb, run_child
from bench.machine import cpu_model

if TYPE_CHECKING:
    from config.project import ProjectSpec
    from intake.pipeline import PipelineOptions, Report

# Labelgram's modules are imported inside the children that use them: the pandas child must
# not carry pydantic, aiosqlite and the engine in its RSS, nor the parent in its own.

SPEED_TARGET = 1.0  # our rows/s over pandas' rows/s
RSS_TARGET_MB = 200.0
DUPLICATE_SHARE = 0.05
BROKEN_SHARE = 0.01
DIRTY_SHARE = 0.02
SAME_ID_SHARE = 0.2  # of the duplicates
PROFILE_ROWS = 100_000
PROFILE_TOP = 15

IMPORT, IMPORT_OFF, PIPELINE, PANDAS = "import", "import, near off", "pipeline only", "pandas"
FLOOR, FLOOR_UNSAFE = "storage floor", "floor, unsafe"

_EN_TEXT = (
    "the delivery was fast and the package arrived in perfect condition but the box was "
    "slightly damaged customer service answered quickly helpful friendly staff would buy again "
    "not worth the price battery lasts all day screen too dim after update app keeps crashing "
    "refund took two weeks great value for money size runs small colour looks different from "
    "photos sound quality is amazing for this price honestly disappointed setup was easy "
    "instructions unclear works as described shipping delayed again quality feels cheap "
    "recommend to friends never again five stars okay nothing special"
)
_KO_TEXT = (
    "배송이 정말 빠르고 포장도 꼼꼼했어요 가격 대비 품질이 좋아요 생각보다 작아요 색상이 "
    "사진과 달라요 배터리가 오래 가요 화면이 너무 어두워요 업데이트 후에 앱이 자꾸 꺼져요 "
    "환불이 너무 늦었어요 고객센터 응대가 친절했어요 다시 구매할 의향 있어요 별로예요 "
    "그냥 그래요 완전 만족합니다 소리가 깨끗해요 설치가 쉬웠어요 설명서가 불친절해요 "
    "재구매 의사 없어요 친구에게 추천했어요 마감이 아쉬워요 무난해요 최고예요 실망했어요 "
    "튼튼해요 가볍고 편해요 냄새가 나요 교환 요청했어요 오늘 도착했어요"
)
EN, KO = tuple(_EN_TEXT.split()), tuple(_KO_TEXT.split())
GOLD = ("pos", "neg", "neu")
DIRT = ("  ", "\u200b", " ")  # double space, zero-width space, trailing space


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Data:
    """The generated file and what went into it."""

    path: Path
    rows: int
    duplicates: int
    same_id: int
    broken: int
    dirty: int
    seconds: float

    @property
    def expected_kept(self) -> int:
        """Rows that should survive: every row but the copies and the broken ones."""
        return self.rows - self.duplicates - self.broken


def _text(rng: random.Random) -> str:
    style = rng.random()  # 40% English, 30% Korean, 30% mixed
    target = rng.randint(60, 120)
    words: list[str] = []
    length = -1
    while length < target:
        pool = EN if style < 0.4 else KO if style < 0.7 else rng.choice((EN, KO))
        word = rng.choice(pool)
        words.append(word)
        length += len(word) + 1
    if rng.random() < 0.3:
        i = rng.randrange(len(words) - 1)
        words[i] += ","  # a comma: the field must be quoted
    if rng.random() < 0.05:
        i = rng.randrange(len(words))
        words[i] = f'"{words[i]}"'  # quotes: doubled inside a quoted field
    text = " ".join(words)
    if len(text) > 119:
        text = text[:119].rsplit(" ", 1)[0]
    return text.rstrip(",") + rng.choice(".!?")


def generate(path: Path, rows: int, seed: int) -> Data:
    """Write the CSV deterministically (same rows and seed, same bytes)."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    n_dup = round(rows * DUPLICATE_SHARE)
    n_broken = round(rows * BROKEN_SHARE)
    special = rng.sample(range(1, rows), n_dup + n_broken) if rows > 1 else []
    broken, copied = set(special[n_dup:]), set(special[:n_dup])
    # Each copy's source is an earlier original row; only the sources' texts are held.
    copies: dict[int, int] = {}
    for pos in special[:n_dup]:
        source = rng.randrange(pos)
        while source in broken or source in copied:
            source = rng.randrange(pos)
        copies[pos] = source
    sources = set(copies.values())
    held: dict[int, tuple[str, str]] = {}
    same_id = dirty = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("id", "text", "gold"))
        for i in range(rows):
            gold = rng.choice(GOLD)
            row_id = f"r{i:07d}"
            if i in copies:
                source_id, text = held[copies[i]]
                if rng.random() < SAME_ID_SHARE:
                    row_id = source_id
                    same_id += 1
                writer.writerow((row_id, text, gold))
                continue
            text = _text(rng)
            if i in broken:
                words = text.split(" ")
                cuts = sorted(rng.sample(range(1, len(words)), rng.choice((1, 2))))
                parts = [
                    " ".join(words[a:b]) for a, b in zip([0, *cuts], [*cuts, None], strict=True)
                ]
                writer.writerow((row_id, *parts, gold))  # 4 or 5 fields
                continue
            if rng.random() < DIRTY_SHARE:
                dirt = rng.choice(DIRT)
                if dirt == " ":
                    text += dirt
                else:
                    cut = text.index(" ")
                    text = text[:cut] + dirt + text[cut:]
                dirty += 1
            if i in sources:
                held[i] = (row_id, text)
            writer.writerow((row_id, text, gold))
    return Data(path, rows, n_dup, same_id, n_broken, dirty, time.perf_counter() - t0)


# --------------------------------------------------------------------------- the children


def make_spec(near: str = "flag") -> ProjectSpec:
    """A sentiment project with options pos/neg/neu."""
    from config.project import ProjectSpec

    text = {"pos": ("Positive", "긍정"), "neg": ("Negative", "부정"), "neu": ("Neutral", "중립")}
    return ProjectSpec.model_validate(
        {
            "name": "Reviews",
            "slug": "bench-intake",
            "question": {"en": "What is the tone?", "ko": "어떤 어조인가요?"},
            "guide": {"en": "Pick the overall tone.", "ko": "전체 어조를 고르세요."},
            "overlap": 3,
            "options": [
                {"id": key, "text": {"en": en, "ko": ko}} for key, (en, ko) in text.items()
            ],
            "cleaning": {"near_duplicates": near},
        }
    )


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Measured:
    """Wall and CPU seconds of a `with` block, and this process's RSS before it."""

    def __enter__(self) -> _Measured:
        self.start_mb, self._cpu0 = rss_mb(), _cpu_s()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        self.cpu_s = _cpu_s() - self._cpu0

    def figures(self) -> dict[str, float]:
        """seconds, cpu_s, start_mb, and peak_mb: the process's peak RSS until now."""
        return {
            "seconds": self.seconds,
            "cpu_s": self.cpu_s,
            "start_mb": self.start_mb,
            "peak_mb": peak_mb(),
        }


def _report_dict(report: Report) -> dict[str, Any]:
    return {
        "rows_read": report.rows,
        "kept": report.kept,
        "fixed": report.rows_fixed,
        "dropped": {k: v.count for k, v in sorted(report.dropped.items())},
        "flagged": {k: v.count for k, v in sorted(report.flagged.items())},
    }


def _pipeline_options(spec: ProjectSpec) -> PipelineOptions:
    from intake.columns import Columns
    from intake.pipeline import PipelineOptions
    from services.importing import cleaning_options

    # As services.importing.import_file builds them, so the variants differ only by the database.
    longest_question = max(len(q) for q in spec.question.values())
    return PipelineOptions(
        columns=Columns(),
        cleaning=cleaning_options(spec.cleaning, 4096 - longest_question - 4),
        truths=frozenset(o.id for o in spec.options),
    )


async def _import(path: Path, db: Path, near: str) -> dict[str, Any]:
    from services.importing import import_file
    from storage.repository import Repository

    async with Repository(db) as repo:
        project = await repo.create_project(make_spec(near))
        waits: list[float] = []
        done = asyncio.Event()

        async def writer() -> None:
            # A labeler's write every 50 ms: how long does it wait for the import?
            while not done.is_set():
                t = time.perf_counter()
                async with repo.transaction():
                    pass
                waits.append(time.perf_counter() - t)
                await asyncio.sleep(0.05)

        rss0, cpu0 = rss_mb(), _cpu_s()
        t0 = time.perf_counter()
        probe = asyncio.create_task(writer())
        report = await import_file(repo, project.id, path)
        seconds = time.perf_counter() - t0
        done.set()
        await probe
        cpu = _cpu_s() - cpu0
    peak = peak_mb()
    con = sqlite3.connect(db)
    try:
        (stored,) = con.execute(
            "SELECT count(*) FROM samples WHERE project_id = ?", (project.id,)
        ).fetchone()
    finally:
        con.close()
    db_mb = sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 2**20
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "start_mb": rss0,
        "peak_mb": peak,
        "stored": stored,
        "db_mb": db_mb,
        "writes": len(waits),
        "write_wait_max": max(waits, default=0.0),
        "write_wait_p99": sorted(waits)[int(0.99 * (len(waits) - 1))] if waits else 0.0,
        **_report_dict(report),
    }


def _pipeline(path: Path) -> dict[str, Any]:
    from intake.pipeline import Report, run

    options = _pipeline_options(make_spec())
    report = Report(source=path.name)
    with _Measured() as measured:
        collections.deque(run(path, options, report), maxlen=0)
    return {**measured.figures(), **_report_dict(report)}


def _pandas(path: Path) -> dict[str, Any]:
    try:
        pd: Any = importlib.import_module("pandas")
    except ImportError as exc:
        return {"missing": str(exc)}
    with _Measured() as measured:
        frame = pd.read_csv(path, on_bad_lines="skip", dtype=str)
        rows_read = len(frame)
        kept = frame.drop_duplicates(subset=["text"])
    return {
        **measured.figures(),
        "rows_read": rows_read,
        "kept": len(kept),
        "dtype": str(frame["text"].dtype),
        "version": pd.__version__,
    }


def _floor_rows(path: Path) -> list[tuple[Any, ...]]:
    """The parameter tuples the import would bind for the file's rows (no cleaning)."""
    import hashlib

    rows: list[tuple[Any, ...]] = []
    seen: set[str] = set()
    now = time.time()
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for record in reader:
            if len(record) != 3 or record[0] in seen:
                continue
            seen.add(record[0])
            key = hashlib.blake2b(record[1].encode(), digest_size=16).hexdigest()
            text, gold = record[1], record[2]
            rows.append((1, record[0], "text", text, None, gold, 3, 3, now, key, 1, None, 0))
    return rows


def _floor(path: Path, db: Path, unsafe: bool) -> dict[str, Any]:
    from storage.repository import Repository

    async def create() -> None:
        async with Repository(db) as repo:
            await repo.create_project(make_spec())

    asyncio.run(create())
    rows = _floor_rows(path)
    con = sqlite3.connect(db, isolation_level=None)
    try:
        if unsafe:
            for (name,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'samples'"
                " AND sql IS NOT NULL"
            ).fetchall():
                con.execute(f"DROP INDEX {name}")
            con.execute("PRAGMA journal_mode = OFF")
            con.execute("PRAGMA synchronous = OFF")
        else:
            con.execute("PRAGMA synchronous = NORMAL")
        with _Measured() as measured:
            con.execute("BEGIN")
            con.executemany(
                "INSERT INTO samples (project_id, ext_id, kind, text, media, truth, target,"
                " need, created_at, content_key, import_id, meta, gold)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            con.execute("COMMIT")
    finally:
        con.close()
    return {**measured.figures(), "stored_rows": len(rows)}


def _profile(path: Path) -> dict[str, Any]:
    from intake.pipeline import Report, run

    options = _pipeline_options(make_spec())
    report = Report(source=path.name)
    profiler = cProfile.Profile()
    profiler.enable()
    collections.deque(run(path, options, report), maxlen=0)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(pstats.SortKey.TIME).print_stats(PROFILE_TOP)
    return {"rows_read": report.rows, "stats": out.getvalue()}


def child(argv: list[str]) -> int:
    """Run one variant and print its figures as one JSON line."""
    mode, path = argv[0], Path(argv[1])
    if mode == "import":
        result = asyncio.run(_import(path, Path(argv[2]), argv[3]))
    elif mode == "pipeline":
        result = _pipeline(path)
    elif mode == "pandas":
        result = _pandas(path)
    elif mode == "floor":
        result = _floor(path, Path(argv[2]), argv[3] == "unsafe")
    elif mode == "profile":
        result = _profile(path)
    else:
        raise SystemExit(f"unknown child mode {mode!r}")
    print(json.dumps(result))
    return 0


def _spawn(*args: str) -> dict[str, Any]:
    """One child run: its JSON result, or {"error": ...} if it failed."""
    try:
        return run_child("bench.bench_intake", "--child", *args)
    except ChildFailed as exc:
        return {"error": str(exc)}


# --------------------------------------------------------------------------- the parent


def _memory_gb() -> str:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            kb = int(f.readline().split()[1])
        return f"{kb / 2**20:.1f} GB RAM"
    except (OSError, ValueError, IndexError):
        return "RAM unknown"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "PASS" if ok else "FAIL"


def _print_table(results: dict[str, dict[str, Any]], rows: int) -> tuple[bool | None, bool]:
    """The figures per variant; returns the judged (speed, RSS) verdicts of the import."""
    base = results.get(PANDAS, {})
    base_rate = rows / base["seconds"] if "seconds" in base else None
    print()
    print(
        f"{'variant':<18}{'rows/s':>10}{'seconds':>9}{'CPU s':>8}{'RSS at start':>14}"
        f"{'peak RSS':>10}{'ratio':>8}  {'speed>=1.0':<11}{'RSS<200MB':<10}"
    )
    judged: tuple[bool | None, bool] = (None, False)
    for name, r in results.items():
        if "seconds" not in r:
            why = r.get("error") or f"not run: {r.get('missing', 'skipped')}"
            print(f"{name:<18}{why.splitlines()[0]}")
            continue
        rate = rows / r["seconds"]
        ratio = rate / base_rate if base_rate else None
        speed_ok = None if ratio is None else ratio >= SPEED_TARGET
        rss_ok = r["peak_mb"] < RSS_TARGET_MB
        ours = name not in (PANDAS, FLOOR, FLOOR_UNSAFE)  # floors hold every row in memory
        print(
            f"{name:<18}{rate:>10,.0f}{r['seconds']:>9.2f}{r['cpu_s']:>8.2f}"
            f"{r['start_mb']:>11.0f} MB{r['peak_mb']:>7.0f} MB"
            f"{(f'{ratio:.3f}' if ratio is not None else 'n/a'):>8}  "
            f"{(_verdict(speed_ok) if ours else ''):<11}{(_verdict(rss_ok) if ours else ''):<10}"
        )
        if name == IMPORT:
            judged = (speed_ok, rss_ok)
    return judged


def _print_counts(results: dict[str, dict[str, Any]], data: Data) -> bool:
    """Kept and dropped per rule; False if the database disagrees with a report."""
    consistent = True
    print()
    print(f"counts    expected: {data.rows:,} read, {data.expected_kept:,} kept")
    for name, r in results.items():
        if "rows_read" not in r:
            continue
        line = f"{name:<18}{r['rows_read']:>9,} read {r['kept']:>9,} kept"
        if "dropped" in r:
            dropped = ", ".join(f"{k} {v:,}" for k, v in r["dropped"].items()) or "none"
            flagged = ", ".join(f"{k} {v:,}" for k, v in r["flagged"].items()) or "none"
            line += f"; dropped: {dropped}; fixed {r['fixed']:,}; flagged: {flagged}"
        else:
            line += f" (broken rows skipped by read_csv; text dtype {r['dtype']})"
        if name == PIPELINE and r["kept"] != data.expected_kept:
            line += " (no database: exact duplicates beyond the in-memory window stay)"
        if "stored" in r:
            line += f"; stored {r['stored']:,} ({r['db_mb']:,.0f} MB database + WAL)"
            line += (
                f"; a write every 50 ms meanwhile ({r['writes']:,}) waited p99"
                f" {r['write_wait_p99'] * 1000:,.0f} ms, max {r['write_wait_max'] * 1000:,.0f} ms"
            )
            if r["stored"] != r["kept"]:
                line += "  <- MISMATCH: the database does not hold what the report kept"
                consistent = False
        print(line)
    return consistent


def _print_breakdown(results: dict[str, dict[str, Any]]) -> None:
    """Where the import's time goes, from the differences between the variants."""
    full, off, pipe = (results.get(k, {}) for k in (IMPORT, IMPORT_OFF, PIPELINE))
    if not all("seconds" in r for r in (full, off, pipe)):
        return
    total = full["seconds"]
    near = total - off["seconds"]
    db = total - pipe["seconds"]
    rest = pipe["seconds"] - near
    print()
    print("time      where the import's seconds go (variant differences; noisy on small files):")
    for what, seconds in (
        ("near-duplicates (import - import near off)", near),
        ("database (import - pipeline only)", db),
        ("reading, cleaning, keys (the rest)", rest),
    ):
        print(f"          {what:<44}{seconds:8.2f} s {seconds / total:5.0%}")


def _print_floor(results: dict[str, dict[str, Any]]) -> None:
    """How SQLite alone compares with pandas' whole run."""
    base = results.get(PANDAS, {})
    if "seconds" not in base:
        return
    print()
    for name in (FLOOR, FLOOR_UNSAFE):
        r = results.get(name, {})
        if "seconds" in r:
            print(
                f"floor     {name}: storing {r['stored_rows']:,} prebuilt rows takes"
                f" {r['seconds']:.2f} s = {r['seconds'] / base['seconds']:.2f} x pandas'"
                " whole read + dedupe"
            )


def run_bench(args: argparse.Namespace, tmp: Path) -> int:
    """Generate the file, run every variant in its own process, print the figures."""
    print(f"command   {shlex.join(sys.orig_argv)}")
    print(
        f"machine   {platform.platform()}; {cpu_model()}; {os.cpu_count()} cores"
        f" ({len(os.sched_getaffinity(0))} usable); {_memory_gb()}"
    )
    print(
        f"versions  Python {platform.python_version()}; SQLite {sqlite3.sqlite_version};"
        f" numpy {_version('numpy')}; aiosqlite {_version('aiosqlite')};"
        f" pandas {_version('pandas')}; pyarrow {_version('pyarrow')}"
    )
    data = generate(tmp / "intake.csv", args.rows, args.seed)
    print(
        f"data      {data.path} ({data.path.stat().st_size / 2**20:,.1f} MB, made in"
        f" {data.seconds:.1f} s): {data.rows:,} rows, {data.duplicates:,} exact duplicates"
        f" ({data.same_id:,} with the same id too), {data.broken:,} broken (4 or 5 fields),"
        f" {data.dirty:,} with a stray space or zero-width space"
    )
    results: dict[str, dict[str, Any]] = {}
    plan: list[tuple[str, tuple[str, ...]]] = [
        (IMPORT, ("import", str(data.path), str(tmp / "flag.db"), "flag")),
        (IMPORT_OFF, ("import", str(data.path), str(tmp / "off.db"), "off")),
        (PIPELINE, ("pipeline", str(data.path))),
    ]
    if not args.skip_floor:
        plan.append((FLOOR, ("floor", str(data.path), str(tmp / "floor.db"), "safe")))
        plan.append((FLOOR_UNSAFE, ("floor", str(data.path), str(tmp / "unsafe.db"), "unsafe")))
    if not args.skip_pandas:
        plan.append((PANDAS, ("pandas", str(data.path))))
    for name, child_args in plan:
        print(f"run       {name} ...", flush=True)
        results[name] = _spawn(*child_args)
        if "error" in results[name]:
            print(f"          failed: {results[name]['error']}")
    if args.skip_pandas:
        results[PANDAS] = {"missing": "--skip-pandas"}
    elif "missing" in results[PANDAS]:
        print(
            f"pandas    NOT INSTALLED ({results[PANDAS]['missing']}): no baseline, so no speed"
            " ratio; only our figures follow (pip install pandas for the reference)"
        )
    else:
        print(f"pandas    {results[PANDAS].get('version', '?')} (text dtype from the child)")

    speed_ok, rss_ok = _print_table(results, data.rows)
    consistent = _print_counts(results, data)
    _print_breakdown(results)
    _print_floor(results)
    print()
    print(
        f"target    import, project defaults: speed ratio >= {SPEED_TARGET:.1f}:"
        f" {_verdict(speed_ok)}; peak RSS < {RSS_TARGET_MB:.0f} MB:"
        f" {_verdict(rss_ok if IMPORT in results and 'peak_mb' in results[IMPORT] else None)}"
    )
    if speed_ok is False or not rss_ok:
        prof_path = data.path
        if data.rows > PROFILE_ROWS:
            prof_path = generate(tmp / "profile.csv", PROFILE_ROWS, args.seed).path
        prof = _spawn("profile", str(prof_path))
        print()
        print(
            f"profile   pipeline only, {min(data.rows, PROFILE_ROWS):,} rows (same seed),"
            f" cProfile, top {PROFILE_TOP} by tottime:"
        )
        print(prof.get("stats") or prof.get("error", "no output"))
    failed = [name for name, r in results.items() if "error" in r]
    if failed or not consistent:
        print(f"broken    {', '.join(failed) or 'counts'}: see above; exit 1")
        return 1
    return 0


def main() -> int:
    """Parse the options and run the benchmark in a temp dir (or one variant, as a child)."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows in the CSV")
    parser.add_argument("--seed", type=int, default=1, help="the data generator's seed")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and its files")
    parser.add_argument("--skip-pandas", action="store_true", help="no pandas baseline")
    parser.add_argument(
        "--skip-floor", action="store_true", help="no storage-floor variants (SQLite alone)"
    )
    args = parser.parse_args()
    if args.rows < 100:
        parser.error("--rows must be at least 100")
    tmp = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    try:
        return run_bench(args, tmp)
    finally:
        if args.keep:
            print(f"kept      {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
