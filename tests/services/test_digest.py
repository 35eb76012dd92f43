"""Building a digest: local days and due times, pace and trends, the chart (a real PNG), the
child process, and matplotlib staying out of the bot until a chart is drawn."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import subprocess
import sys
import warnings
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from services import charts
from services.charts import PNG_SIGNATURE, ChartWords, draw
from services.digest import (
    build_digest,
    due_day,
    eta,
    period,
    trend,
)
from storage.digests import DigestFigures
from storage.models import SampleCounts
from storage.repository import Repository
from tests.conftest import add_project

ROOT = Path(__file__).resolve().parents[2]


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).timestamp()


def test_the_digest_is_due_from_its_local_time_on_that_local_day() -> None:
    assert due_day("09:00", "Asia/Seoul", at("Asia/Seoul", 2026, 12, 7, 8, 59)) is None
    assert due_day("09:00", "Asia/Seoul", at("Asia/Seoul", 2026, 12, 7, 9, 0)) == "2026-12-07"
    # down at 9:00 and back at 23:30: still that day's digest
    assert due_day("09:00", "Asia/Seoul", at("Asia/Seoul", 2026, 12, 7, 23, 30)) == "2026-12-07"
    # 00:30 UTC on the 7th is 09:30 in Seoul but 00:30 in UTC
    now = at("UTC", 2026, 12, 7, 0, 30)
    assert due_day("09:00", "Asia/Seoul", now) == "2026-12-07"
    assert due_day("09:00", "UTC", now) is None


def test_local_days_follow_the_zone_across_a_dst_change() -> None:
    # New York left DST on 2026-11-01: that local day has 25 hours.
    until = at("America/New_York", 2026, 11, 3, 12, 0)
    p = period("America/New_York", until, until - 86400)
    assert p.days[-3:] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert p.bounds[-3] - p.bounds[-4] == 25 * 3600  # 1 Nov
    assert p.bounds[-2] - p.bounds[-3] == 24 * 3600
    assert p.bounds[-1] == until
    assert len(p.days) == 7
    assert len(p.bounds) == 8


def figures(per_day: list[int], remaining: int = 100) -> DigestFigures:
    return DigestFigures(
        project_id=1,
        options=[{"en": "Red", "ko": "빨강"}, {"en": "Green", "ko": "초록"}],
        labels_per_day=per_day,
        gold_per_day=[(0, 0)] * 6 + [(4, 3)],
        alpha_per_day=[None, 0.5, None, None, 0.55, None, 0.6],
        states=SampleCounts(done=10, open=5, review=1, control=2),
        remaining=remaining,
        compared=sum(per_day),
        confusion=[[30, 4], [6, 20]],
        pairs=[],
        workers=[],
        members=3,
    )


def test_pace_eta_and_trend() -> None:
    f = figures([0, 0, 0, 0, 0, 60, 7])
    assert eta(f, "2026-12-07") == (10, date(2026, 12, 17))  # 60/6 a day
    assert eta(figures([0] * 7), "2026-12-07") is None
    assert eta(figures([1] * 7, remaining=0), "2026-12-07") is None
    # A pace so slow the end date would be past year 9999 (or just meaningless): no date.
    assert eta(figures([0, 0, 0, 0, 0, 1, 0], remaining=500_000), "2026-12-07") is None
    value, change = trend(f.alpha_per_day)
    assert value == 0.6
    assert change == pytest.approx(0.05)
    assert trend([None, None]) == (None, None)


def words(lang: str) -> ChartWords:
    ko = lang == "ko"
    return ChartWords(
        "일별 라벨 수" if ko else "Labels per day",
        "quality",
        "alpha",
        "gold",
        "confusion",
        "consensus",
        "given",
        ["빨강", "초록"] if ko else ["Red", "Green"],
    )


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_chart_is_a_png_that_reads_back(lang: str) -> None:
    png = draw(figures([5, 0, 3, 9, 12, 60, 7]), [f"2026-12-0{i}" for i in range(1, 8)],
               words(lang), words("en"))  # fmt: skip
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.verify()
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (1000, 750)
    lo, hi = image.convert("L").getextrema()
    assert isinstance(lo, int)
    assert isinstance(hi, int)
    assert lo < 100 < hi  # dark lines on white: something was drawn


def test_a_korean_chart_is_drawn_in_korean_with_every_glyph(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The bundled NanumGothic (koreanize-matplotlib's font file) stands in when no installed
    # font has Hangul; matplotlib logs "Glyph ... missing from font(s)" for a glyph it lacks.
    chosen, families = charts._words(words("ko"), words("en"))
    assert chosen == words("ko")
    assert charts._has_hangul(chosen.labels_title)
    assert families[0] != "DejaVu Sans"
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        png = draw(figures([5, 0, 3, 9, 12, 60, 7]), [f"2026-12-0{i}" for i in range(1, 8)],
                   words("ko"), words("en"))  # fmt: skip
    assert png.startswith(PNG_SIGNATURE)
    missing = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in missing if "missing from font" in m]
    assert "koreanize_matplotlib" not in sys.modules  # its fonts only, never its module


def test_neither_the_bot_nor_its_digests_import_matplotlib(tmp_path: Path) -> None:
    path, project_id = asyncio.run(small_project(tmp_path))
    code = (
        "import asyncio, sys, time\n"
        "from app import build_application\n"
        "from config.settings import Settings\n"
        "from storage.repository import Repository\n"
        f"s = Settings(token='1:x', db_path={str(path)!r})\n"
        f"build_application(s, Repository({str(path)!r}))\n"
        "from handlers.digest import chart_words\n"
        "from services.digest import build_digest, period\n"
        "print('matplotlib' in sys.modules)\n"
        "words = {'en': (chart_words('en', [{'en': 'Red'}] * 3),) * 2}\n"
        "now = time.time()\n"
        f"d = asyncio.run(build_digest({str(path)!r}, {project_id}, period('UTC', now, now),"
        " words, big=False))\n"
        "print(d.charts['en'][:4] == b'\\x89PNG', 'matplotlib' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    # Not at start-up, and not after a digest with a chart: that was drawn in a child.
    assert out.stdout.split() == ["False", "True", "False"]


async def small_project(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "d.db"
    async with Repository(path) as repo:
        project = await add_project(repo)
    return path, project.id


async def test_charts_are_drawn_in_a_child_and_figures_alone_in_a_thread(tmp_path: Path) -> None:
    path, project_id = await small_project(tmp_path)
    now = at("Asia/Seoul", 2026, 12, 7, 9, 0)
    when = period("Asia/Seoul", now, now - 86400)
    asked = {"en": (words("en"), words("en")), "ko": (words("ko"), words("en"))}
    for big in (False, True):
        digest = await build_digest(path, project_id, when, asked, big=big)
        assert sorted(digest.charts) == ["en", "ko"]
        assert all(c.startswith(PNG_SIGNATURE) for c in digest.charts.values())
        assert digest.figures.states.open == 5
        assert digest.period.day == "2026-12-07"
        assert digest.child_peak_rss_mb > 0  # measured in the child
    figures_only = await build_digest(path, project_id, when, {}, big=True)
    assert figures_only.charts == {}
    assert figures_only.child_peak_rss_mb == 0  # no child: read in a thread
    assert figures_only.figures.states.open == 5


def test_the_coordinators_text_in_both_languages() -> None:
    from handlers.digest import coordinator_text
    from services.digest import Digest
    from storage.digests import Named, Pair
    from storage.models import Project

    f = figures([0, 0, 0, 0, 0, 60, 7])
    f.pairs = [Pair(0, 1, 10, "a red-green thing")]
    f.suspended = [Named(1003, "Mina", None, "gold_accuracy")]
    f.flagged = [Named(1004, "", "joe", "")]
    now = at("Asia/Seoul", 2026, 12, 7, 9, 0)
    digest = Digest(period("Asia/Seoul", now, now - 86400), f)
    project = Project(
        id=1,
        slug="colours",
        name="Colours",
        question={},
        guide={},
        guide_version=1,
        overlap=2,
        assignment_timeout=60,
        created_at=0,
    )
    en = coordinator_text("en", project, digest)
    assert "Progress: 10 of 16 samples done (62%)." in en
    assert "At the current pace (10 labels a day) the rest takes about 10 more days" in en
    assert "Agreement (Krippendorff's alpha): 0.60 (↑ 0.05 since the day before)" in en
    assert "Gold accuracy: 75%" in en
    assert "• Red ↔ Green: 10 labels, e.g. “a red-green thing”" in en
    assert "⛔ Suspended: Mina (1003): gold accuracy" in en
    assert "⚠️ Flagged: @joe (1004)" in en
    assert "Reviews waiting: 1." in en
    ko = coordinator_text("ko", project, digest)
    assert "진행: 샘플 16개 중 10개 완료 (62%)" in ko
    assert "지금 속도(하루 라벨 10개)라면 10일쯤 더 걸려서 2026-12-17 무렵 끝나요." in ko
    assert "(전날보다 ↑ 0.05)" in ko
    assert "확인용 문제 정답률: 75%" in ko
    assert "• 빨강 ↔ 초록: 라벨 10개" in ko
    assert "⛔ 작업 중지: Mina (1003): 확인용 문제 정답률" in ko
    assert "(으)" not in ko
    assert "이(가)" not in ko
