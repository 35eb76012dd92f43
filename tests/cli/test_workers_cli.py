"""labelgram workers report: the work report per worker for a period, as CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.main import main
from storage.repository import Repository
from tests.conftest import add_project, add_worker


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("LABELGRAM_TOKEN", "LABELGRAM_DB_PATH", "LABELGRAM_ADMINS"):
        monkeypatch.delenv(key, raising=False)


# 2026-03-10 12:00 UTC: 21:00 in Seoul, the same local day; 2026-03-31 20:00 UTC is
# 2026-04-01 05:00 in Seoul: April there.
MARCH = datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp()
APRIL_IN_SEOUL = datetime(2026, 3, 31, 20, tzinfo=UTC).timestamp()


async def seed(db: Path) -> None:
    async with Repository(db) as repo:
        project = await add_project(
            repo, 6, timezone="Asia/Seoul", pay_per_label=120, currency="KRW"
        )
        await add_worker(repo, 5, project)
        await add_worker(repo, 6, project)
        await repo.write("UPDATE workers SET username = 'mina' WHERE id = 5")
        for user, when, n in ((5, MARCH, 3), (6, MARCH, 1), (6, APRIL_IN_SEOUL, 2)):
            for _ in range(n):
                card = await repo.next_card(user, project.id, now=when - 10)
                assert card is not None
                await repo.record_label(card.assignment_id, user, 0, now=when)
        await repo.write(
            "UPDATE memberships SET suspended_at = 1 WHERE worker_id = 6"
        )  # suspended: their labels are not kept


def test_the_report_names_workers_counts_a_local_period_and_pays_kept_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "w.db"
    asyncio.run(seed(db))
    out = tmp_path / "march.csv"
    code = main(
        [
            "--db",
            str(db),
            "workers",
            "report",
            "colours",
            "--since",
            "2026-03-01",
            "--until",
            "2026-03-31",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    assert "2 workers, 4 labels, 3 kept; to pay: 360.00 KRW" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    by_id = {r["worker_id"]: r for r in rows}
    assert by_id["5"]["name"] == "W5"
    assert by_id["5"]["username"] == "mina"
    assert by_id["5"]["labels"] == "3"
    assert by_id["5"]["kept_labels"] == "3"
    assert by_id["5"]["amount"] == "360.00"
    assert by_id["5"]["minutes"] == "0.5"  # three answers of 10 s
    assert by_id["6"]["labels"] == "1"  # the April labels (Seoul time) are not in March
    assert by_id["6"]["kept_labels"] == "0"
    assert by_id["6"]["suspended"] == "1"
    # April, to stdout.
    assert (
        main(
            [
                "--db",
                str(db),
                "workers",
                "report",
                "colours",
                "--since",
                "2026-04-01",
                "--until",
                "2026-04-30",
            ]
        )
        == 0
    )
    april = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["worker_id"], r["labels"]) for r in april] == [("6", "2")]


def test_bad_dates_and_periods_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "w.db"
    asyncio.run(seed(db))
    base = ["--db", str(db), "workers", "report", "colours"]
    assert main([*base, "--since", "March"]) == 2
    assert "give it as YYYY-MM-DD" in capsys.readouterr().err
    assert main([*base, "--since", "2026-03-10", "--until", "2026-03-01"]) == 2
    assert "ends (2026-03-01) before it starts" in capsys.readouterr().err
    assert main(["--db", str(db), "workers", "report", "nope"]) == 2
