"""Building a daily digest, off the event loop: its local days, figures and charts.

When: a project's digest is due once its local clock (`timezone`) has passed `digest_time`;
the day it belongs to is that local date (`due_day`), so a digest missed while the bot was
down goes out when it is back the same local day, and never for a day already past.

What: `read_figures` (storage.digests: aggregate queries on a read-only connection) and a PNG
chart per language (services.charts). Whenever a chart is drawn, both run in a fresh child
process: matplotlib then never enters the bot's process (its ~45 MB would stay there for good
after the first digest), and the child's memory goes back to the system when it ends. A big
project's child runs at the lowest priority (services.background: nice 19 and SCHED_IDLE), as
the quality check and the export do, so a million labels' figures take no CPU the bot or the
Bot API want; a small project's at nice 10 (a second of work that should not wait for an idle
CPU). A digest with no chart (workers' only: a project without coordinators) is read in a
thread: SQLite works with the GIL released, and nothing heavy is imported. Neither Telegram
nor SQL here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import resource
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from services.background import die_with_parent, lower
from services.charts import ChartWords, draw
from storage.digests import DigestFigures, read_figures

DAYS = 7  # days of the per-day series
FIRST_NEWS_S = 86400.0  # a project's first digest names what happened in the last day
SMALL_NICE = 10  # a small project's digest child: below the bot, but not only idle CPU


class DigestFailed(Exception):
    """The digest could not be built (its child died, or reading failed); nothing was sent."""


@dataclass(frozen=True)
class Period:
    """The local days a digest shows and the window of news it covers."""

    day: str  # the digest's local date (YYYY-MM-DD)
    days: list[str]  # the DAYS local dates of the series, oldest first, `day` last
    bounds: list[float]  # each day's start (epoch s), then `until`
    since: float  # news after this...
    until: float  # ... up to this


@dataclass
class Digest:
    """A built digest: the figures, one chart per language asked for, and what it cost."""

    period: Period
    figures: DigestFigures
    charts: dict[str, bytes] = field(default_factory=dict)
    seconds: float = 0.0
    child_peak_rss_mb: float = 0.0  # 0 when built in this process


def local_day(timezone: str, at: float) -> str:
    """The local date at epoch `at` in `timezone`."""
    return datetime.fromtimestamp(at, ZoneInfo(timezone)).date().isoformat()


def due_day(digest_time: str, timezone: str, now: float) -> str | None:
    """The local date whose digest is due at `now` (its local time is past `digest_time`),
    or None before that time of day."""
    local = datetime.fromtimestamp(now, ZoneInfo(timezone))
    hour, minute = (int(x) for x in digest_time.split(":"))
    if (local.hour, local.minute) < (hour, minute):
        return None
    return local.date().isoformat()


def period(timezone: str, until: float, since: float, days: int = DAYS) -> Period:
    """The `days` local dates up to the one of `until`, their starts (DST-correct: each
    local midnight in the zone), and the news window."""
    zone = ZoneInfo(timezone)
    last = datetime.fromtimestamp(until, zone).date()
    dates = [last - timedelta(days=days - 1 - i) for i in range(days)]
    starts = [datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() for d in dates]
    return Period(
        day=last.isoformat(),
        days=[d.isoformat() for d in dates],
        bounds=[*starts, until],
        since=since,
        until=until,
    )


ETA_MAX_DAYS = 3650  # an end date further off than this is not one: none is given


def pace(figures: DigestFigures) -> float:
    """Labels per day at the current pace: the mean of the series' full days (today is not
    over), or today's count if there is nothing else."""
    full = figures.labels_per_day[:-1]
    if any(full):
        return sum(full) / len(full)
    return float(figures.labels_per_day[-1])


def eta(figures: DigestFigures, today: str) -> tuple[int, date] | None:
    """(days, local date) at which the open samples get their labels at the current pace;
    None when there is no pace yet or nothing is left to do."""
    speed = pace(figures)
    if figures.remaining <= 0 or speed <= 0:
        return None
    days = max(1, int(-(-figures.remaining // speed)))
    if days > ETA_MAX_DAYS:  # no date worth printing (and past year 9999: no date at all)
        return None
    return days, date.fromisoformat(today) + timedelta(days=days)


def trend(series: list[float | None]) -> tuple[float | None, float | None]:
    """(latest value, change from the value before it) of a per-day series with gaps."""
    known = [v for v in series if v is not None]
    if not known:
        return None, None
    return known[-1], (known[-1] - known[-2]) if len(known) > 1 else None


def gold_series(figures: DigestFigures) -> list[float | None]:
    """Gold accuracy per day (None: no gold answer that day)."""
    return [r / a if a else None for a, r in figures.gold_per_day]


def build_here(
    path: Path | str,
    project_id: int,
    when: Period,
    words: dict[str, tuple[ChartWords, ChartWords]],
) -> Digest:
    """Read the figures and draw a chart per language, in this thread (blocking)."""
    started = time.perf_counter()
    figures = read_figures(path, project_id, when.bounds, when.since, when.until)
    charts = {
        lang: draw(figures, when.days, mine, fallback) for lang, (mine, fallback) in words.items()
    }
    return Digest(when, figures, charts, time.perf_counter() - started)


async def build_in_thread(
    path: Path | str,
    project_id: int,
    when: Period,
    words: dict[str, tuple[ChartWords, ChartWords]],
) -> Digest:
    """`build_here` in a worker thread: for a digest without charts (`words` empty), which
    imports nothing heavy."""
    try:
        return await asyncio.to_thread(build_here, path, project_id, when, words)
    except Exception as exc:
        raise DigestFailed("".join(traceback.format_exception(exc))) from exc


def child_main() -> None:
    """The child process (`CHILD_CODE`): build the digest a request file asks for, pickle it
    to the answer file; on an error, the traceback on stderr and exit status 1."""
    request, answer, parent, idle = sys.argv[1:5]
    die_with_parent(int(parent))
    _set_priority(os.getpid(), idle == "idle")  # in case the parent's call came too late
    with open(request, "rb") as f:
        path, project_id, when, words = pickle.load(f)
    digest = build_here(path, project_id, when, words)
    digest.child_peak_rss_mb = peak_rss_mb()
    with open(answer, "wb") as f:
        pickle.dump(digest, f, pickle.HIGHEST_PROTOCOL)


# A fresh interpreter that imports only this module (and what it needs: sqlite3, matplotlib
# when it draws). multiprocessing's "spawn" would import the parent's __main__ again (the
# whole bot: telegram, every handler), ~40 MB more of the child's peak memory.
CHILD_CODE = "from services.digest import child_main; child_main()"
_ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB: VmHWM, which exec resets (ru_maxrss carries
    the parent's high-water mark over fork and exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load(out: str) -> Digest:
    with open(out, "rb") as f:
        digest = pickle.loads(f.read())
    assert isinstance(digest, Digest)
    return digest


def _set_priority(pid: int, idle: bool) -> None:
    if idle:
        lower(pid)
        return
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, SMALL_NICE)


async def build_in_child(
    path: Path | str,
    project_id: int,
    when: Period,
    words: dict[str, tuple[ChartWords, ChartWords]],
    *,
    idle: bool = True,
) -> Digest:
    """`build_here` in a fresh process, at the lowest priority (`idle`) or at nice
    SMALL_NICE; DigestFailed if it dies or raises.

    Killed if the caller is cancelled (the bot stopping).
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"labelgram-digest-{project_id}-") as tmp:
        request, answer = Path(tmp) / "request.pickle", Path(tmp) / "digest.pickle"
        request.write_bytes(pickle.dumps((str(path), project_id, when, words)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD_CODE,
            str(request),
            str(answer),
            str(os.getpid()),
            "idle" if idle else "nice",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        _set_priority(proc.pid, idle)  # now, before its imports run at the bot's priority
        try:
            _, err = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            tail = err.decode(errors="replace")[-4000:]
            raise DigestFailed(
                f"the digest of project {project_id} failed in its child process"
                f" (exit code {proc.returncode}):\n{tail}"
            )
        digest = await asyncio.to_thread(_load, str(answer))
    digest.seconds = time.perf_counter() - started
    return digest


async def build_digest(
    path: Path | str,
    project_id: int,
    when: Period,
    words: dict[str, tuple[ChartWords, ChartWords]],
    *,
    big: bool,
) -> Digest:
    """The digest of a project for `when`: with charts, in a child process (at the lowest
    priority for a `big` project); without, in a thread."""
    if not words:
        return await build_in_thread(path, project_id, when, words)
    return await build_in_child(path, project_id, when, words, idle=big)
