"""Import a data file into a project: read it (engine.intake), store it in one transaction."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.intake import Columns, IntakeStats, read_samples
from storage.models import SampleIn
from storage.repository import Repository


@dataclass(frozen=True)
class ImportReport:
    """What an import read, added and left out."""

    rows: int
    added: int
    already_present: int
    empty: int
    duplicate_ids: int
    examples: tuple[str, ...]
    seconds: float

    def summary(self) -> str:
        """One paragraph for the terminal."""
        lines = [
            f"rows read: {self.rows}; added: {self.added}; already in the project: "
            f"{self.already_present}; dropped empty: {self.empty}; dropped duplicate ids: "
            f"{self.duplicate_ids} ({self.seconds:.2f} s)"
        ]
        lines += [f"  - {e}" for e in self.examples]
        return "\n".join(lines)


async def import_file(
    repo: Repository,
    project_id: int,
    path: Path,
    columns: Columns | None = None,
    *,
    limit: int | None = None,
    actor: int | None = None,
) -> ImportReport:
    """Read `path` and add its samples to the project; all or nothing."""
    started = time.perf_counter()
    stats = IntakeStats()

    def samples() -> Iterator[SampleIn]:
        for n, raw in enumerate(read_samples(path, columns, stats)):
            if limit is not None and n >= limit:
                return
            yield SampleIn(
                ext_id=raw.ext_id, kind=raw.kind, text=raw.text, media=raw.media, truth=raw.truth
            )

    added, present = await repo.import_samples(project_id, samples(), actor=actor)
    return ImportReport(
        rows=stats.rows,
        added=added,
        already_present=present,
        empty=stats.empty,
        duplicate_ids=stats.duplicate_ids,
        examples=tuple(stats.examples),
        seconds=time.perf_counter() - started,
    )
