"""Import a data file into a project: the preprocessing pipeline, then one transaction.

The same path serves `labelgram import`, `labelgram project create` and files a coordinator
sends to the bot. A dry run goes through the very same transaction and rolls it back, so its
report is exactly what a real run would do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path

from config.project import CleaningSpec
from intake.cleaning import CleaningOptions
from intake.columns import TRUTH_COLUMNS, Columns
from intake.pipeline import Item, PipelineOptions, Report, run
from storage.repository import Repository

BATCH = 1000
REASONS = {
    "duplicate": "same content as an earlier row",
    "already_in_project": "same content as a sample already in the project",
    "id_exists": "id already in the project",
}


class _RollBack(Exception):
    """Raised inside a dry run's transaction to undo it."""


def cleaning_options(spec: CleaningSpec, max_chars: int) -> CleaningOptions:
    """The engine's options from a project's [cleaning] table (same field names)."""
    return CleaningOptions(**spec.model_dump(), max_chars=max_chars)


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


async def import_file(
    repo: Repository,
    project_id: int,
    path: Path,
    columns: Columns | None = None,
    *,
    meta_columns: tuple[str, ...] = (),
    header: bool = True,
    column_names: tuple[str, ...] | None = None,
    limit: int | None = None,
    actor: int | None = None,
    dry_run: bool = False,
    source_name: str | None = None,
    progress: Callable[[Report], None] | None = None,
    check_urls: bool = True,
) -> Report:
    """Read, clean and check `path`, then add what survives to the project; all or nothing."""
    spec = await repo.project_spec(project_id)
    # The card adds the question under the text: keep the text short enough for both.
    longest_question = max(len(q) for q in spec.question.values())
    # Rows with a gold answer become control tasks only when the project serves them. When
    # it does not (gold rate 0) a "truth" column is read too: its answers can only be kept
    # as known answers (the demo's yardstick), never turn rows into control tasks.
    makes_gold = spec.quality.gold_rate > 0
    options = PipelineOptions(
        truth_names=TRUTH_COLUMNS if makes_gold else (*TRUTH_COLUMNS, "truth"),
        columns=columns or Columns(),
        meta_columns=meta_columns,
        header=header,
        column_names=column_names,
        cleaning=cleaning_options(spec.cleaning, 4096 - longest_question - 4),
        truths=frozenset(o.id for o in spec.options),
        check_urls=check_urls,
    )
    report = Report(source=source_name or path.name, dry_run=dry_run)
    items: Iterable[Item] = run(path, options, report)
    if limit is not None:
        items = islice(items, limit)
    batches = _batches(items, BATCH)

    def next_batch() -> list[Item]:
        return next(batches, [])

    try:
        async with repo.import_session(
            project_id,
            report.source,
            actor=actor,
            duplicates=options.cleaning.drop_duplicates,
        ) as session:
            # The pipeline reads and cleans the next batch in a worker thread while the
            # database thread stores this one: SQLite releases the GIL while it writes. The
            # report is only touched here between the two, never by both threads at once.
            batch = await asyncio.to_thread(next_batch)
            while batch:
                upcoming = asyncio.ensure_future(asyncio.to_thread(next_batch))
                try:
                    reasons = await session.add(batch)
                    following = await upcoming
                except BaseException:
                    upcoming.cancel()
                    raise
                for item, reason in zip(batch, reasons, strict=True):
                    if reason is None:
                        if makes_gold and item.truth is not None:
                            report.control += 1
                        else:
                            report.work += 1
                    else:
                        report.kept -= 1
                        report.drop(reason, item.number, REASONS[reason])
                        for rule in item.flags:  # a dropped row is not also flagged
                            report.unflag(rule, item.number)
                if progress is not None:
                    progress(report)
                batch = following
            session.rows_read, session.dropped = report.rows, report.n_dropped
            session.seconds, session.report = report.seconds, report.to_dict()
            if dry_run:
                raise _RollBack
    except _RollBack:
        pass
    if report.work == 0 and report.control > 0:
        report.no_work = not await _has_work(repo, project_id)
    return report


async def _has_work(repo: Repository, project_id: int) -> bool:
    """Whether the project has any sample to label besides its control tasks."""
    return (await repo.sample_counts(project_id)).work > 0
