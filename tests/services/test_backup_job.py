"""The bot's scheduled backup: a checked copy in the backup folder, the newest few kept."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

from bot.context import Context
from config.settings import Settings
from handlers.jobs import backup_job
from storage.backup import problems
from storage.repository import Repository
from tests.conftest import add_project


async def test_scheduled_backups_are_checked_copies_and_only_the_newest_stay(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.db"
    async with Repository(db) as repo:
        await add_project(repo, 3)
        settings = Settings(db_path=db, backup_every=60, backup_keep=2)
        context = cast(Context, SimpleNamespace(bot_data=SimpleNamespace(settings=settings)))
        folder = tmp_path / "backups"
        for stamp in ("20200101-000000", "20200102-000000"):  # two older backups
            folder.mkdir(exist_ok=True)
            (folder / f"labelgram-{stamp}.db").write_bytes(b"old")
        await backup_job(context)
    kept = sorted(folder.glob("labelgram-*.db"))
    assert len(kept) == 2
    assert kept[0].name == "labelgram-20200102-000000.db"
    assert problems(kept[1]) == []  # the new one: a whole, consistent database
