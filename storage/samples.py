"""Samples: reading one, the Telegram file id of its media, and the one definition of the
states a project's samples are in.

Samples are written by imports (`storage.imports`), their counters by the triggers of
labels and assignments, their status by quality checks (`storage.quality`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from storage.db import Database, Row
from storage.errors import NotFound
from storage.models import Sample, SampleCounts

SAMPLE_COLS = "id, project_id, ext_id, kind, text, media, file_id, truth, target, n_labels, n_open"

# The one definition of a sample's state, shared by /status, /check and `labelgram project
# list` (one row: done, open, review, control).
# - control: a gold sample, served to test workers; never work, whatever its labels.
# - review: a check found no confident answer at the most labels allowed; a reviewer decides.
# - done: a check found its answer, a reviewer decided it, or it has every label it asked for
#   (between checks; the next one may ask for more, as dynamic overlap does).
# - open: it still wants labels (cards out for it count as open).
# A sample excluded after problem reports is in none of them: it is no longer work.
SAMPLE_STATES = (
    "SELECT"
    " COALESCE(SUM(gold = 0 AND (status IN ('done', 'reviewed')"
    "   OR (status = 'open' AND n_labels >= target))), 0),"
    " COALESCE(SUM(gold = 0 AND status = 'open' AND n_labels < target), 0),"
    " COALESCE(SUM(gold = 0 AND status = 'review'), 0),"
    " COALESCE(SUM(gold = 1), 0)"
    " FROM samples WHERE project_id = ? AND held IS NOT 'excluded'"
)


def sample_of(row: sqlite3.Row | Row) -> Sample:
    """A `SAMPLE_COLS` row as a model."""
    return Sample(
        id=row[0],
        project_id=row[1],
        ext_id=row[2],
        kind=row[3],
        text=row[4],
        media=row[5],
        file_id=row[6],
        truth=row[7],
        target=row[8],
        n_labels=row[9],
        n_open=row[10],
    )


def sample_counts_of(row: Sequence[Any] | None) -> SampleCounts:
    """`SAMPLE_STATES`'s row as a model."""
    done, open_, review, control = row if row else (0, 0, 0, 0)
    return SampleCounts(done=done, open=open_, review=review, control=control)


class Samples(Database):
    """Reading samples and their states."""

    async def sample(self, sample_id: int) -> Sample:
        """One sample by id."""
        row = await self.one(f"SELECT {SAMPLE_COLS} FROM samples WHERE id = ?", (sample_id,))
        if row is None:
            raise NotFound(f"no sample {sample_id}")
        return sample_of(row)

    async def set_file_id(self, sample_id: int, file_id: str) -> None:
        """Remember Telegram's file_id so the media is uploaded only once."""
        async with self.transaction() as db:
            await db.execute("UPDATE samples SET file_id = ? WHERE id = ?", (file_id, sample_id))

    async def sample_counts(self, project_id: int) -> SampleCounts:
        """How many of the project's samples are in each state (`SAMPLE_STATES`)."""
        return sample_counts_of(await self.one(SAMPLE_STATES, (project_id,)))

    async def truths(self, project_id: int) -> dict[int, str]:
        """Known answers by sample id."""
        rows = await self.all(
            "SELECT id, truth FROM samples WHERE project_id = ? AND truth IS NOT NULL",
            (project_id,),
        )
        return {int(r[0]): str(r[1]) for r in rows}
