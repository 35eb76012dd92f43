"""The work report: what each worker did in a period, as CSV, for paying a crowd.

It names people (Telegram id, name, username): a coordinator pays them with it. That is why
it is a separate file from the exports, which use pseudonyms. One row per worker who gave a
label in the period:

- `labels`: live labels given in the period, on work and control samples (labels taken
  back with /undo do not count);
- `work_labels`: of them, on work samples; `kept_labels`: the work labels that count after
  the quality rules (none for a worker suspended now: their labels are left out of the
  consensus);
- `gold_answered`, `gold_right`, `gold_accuracy`: control (gold) answers in the period;
- `minutes`: time spent, the sum of answer times, each capped at 5 minutes (a phone put down
  is not work);
- with `pay_per_label` in the project file: `rate`, `amount` (= kept_labels * rate) and
  `currency`.

The period is whole days in the project's time zone: FROM 00:00 to the end of TO.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from config.project import ProjectSpec
from storage.repository import Repository
from storage.roster import WorkRow

COLUMNS = (
    "worker_id",
    "name",
    "username",
    "labels",
    "work_labels",
    "kept_labels",
    "gold_answered",
    "gold_right",
    "gold_accuracy",
    "minutes",
    "suspended",
)
PAY_COLUMNS = ("rate", "amount", "currency")


@dataclass(frozen=True)
class WorkReport:
    """A work report built: its CSV and the figures its caption names."""

    since: date
    until: date
    timezone: str
    rows: list[WorkRow]
    csv: bytes
    rate: float | None
    currency: str | None

    @property
    def labels(self) -> int:
        """Labels in the period, all workers."""
        return sum(r.labels for r in self.rows)

    @property
    def kept(self) -> int:
        """Kept labels in the period, all workers."""
        return sum(r.kept for r in self.rows)

    @property
    def amount(self) -> float | None:
        """What the kept labels come to, or None without a rate."""
        return None if self.rate is None else round(self.kept * self.rate, 2)


def parse_day(text: str) -> date:
    """A YYYY-MM-DD date (ValueError with what to type otherwise)."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date; give it as YYYY-MM-DD") from None
    if not FIRST_DAY <= day <= LAST_DAY:  # (a day after 9999-12-30 has no end to count to)
        raise ValueError(f"{text!r} is out of range; give a day from {FIRST_DAY} to {LAST_DAY}")
    return day


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(9999, 12, 30)


def _cell(value: str) -> str:
    """A text cell a spreadsheet will not run: a name from Telegram that starts like a
    formula (=, +, -, @, a tab or a return) gets a leading apostrophe (OWASP's advice for
    CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def default_period(tz: str, now: float) -> tuple[date, date]:
    """This month so far, in the time zone `tz`."""
    today = datetime.fromtimestamp(now, ZoneInfo(tz)).date()
    return today.replace(day=1), today


def day_start(tz: str, day: date) -> float:
    """The moment `day` began in the time zone `tz`."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).timestamp()


async def build_report(repo: Repository, project_id: int, since: date, until: date) -> WorkReport:
    """The work report of the project for the days `since` to `until`, both included."""
    if until < since:
        raise ValueError(f"the period ends ({until}) before it starts ({since})")
    spec: ProjectSpec = await repo.project_spec(project_id)
    start = day_start(spec.timezone, since)
    end = day_start(spec.timezone, until + timedelta(days=1))
    rows = await repo.work_report(project_id, start, end)
    rate = spec.pay_per_label
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS + (PAY_COLUMNS if rate is not None else ()))
    for r in rows:
        line: list[object] = [
            r.worker_id,
            _cell(r.first_name),
            _cell(r.username or ""),
            r.labels,
            r.work_labels,
            r.kept,
            r.gold_answered,
            r.gold_right,
            f"{r.gold_right / r.gold_answered:.3f}" if r.gold_answered else "",
            f"{r.seconds / 60:.1f}",
            int(r.suspended),
        ]
        if rate is not None:
            line += [f"{rate:g}", f"{r.kept * rate:.2f}", spec.currency or ""]
        writer.writerow(line)
    return WorkReport(
        since=since,
        until=until,
        timezone=spec.timezone,
        rows=rows,
        csv=out.getvalue().encode("utf-8-sig"),  # a BOM: spreadsheets then read Hangul right
        rate=rate,
        currency=spec.currency,
    )
