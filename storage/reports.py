"""Reports: the counts behind /me and /status, and the live labels for aggregation."""

from __future__ import annotations

import time

from storage.models import LabelRow, ProjectStatus, WorkerStats
from storage.projects import Projects
from storage.samples import Samples

_DAY = 86400.0


class Reports(Projects, Samples):
    """Read-only summaries of workers and projects."""

    async def worker_stats(self, user_id: int, now: float | None = None) -> WorkerStats:
        """The worker's own counts across projects."""
        now = time.time() if now is None else now
        row = await self.one(
            "SELECT"
            " (SELECT COUNT(*) FROM labels WHERE worker_id = ?1 AND retracted_at IS NULL),"
            " (SELECT COUNT(*) FROM labels WHERE worker_id = ?1 AND retracted_at IS NULL"
            "   AND answered_at >= ?2),"
            " (SELECT COUNT(*) FROM assignments WHERE worker_id = ?1 AND status = 'skipped'),"
            " (SELECT COUNT(*) FROM assignments WHERE worker_id = ?1 AND status = 'reported'),"
            " (SELECT COUNT(*) FROM memberships WHERE worker_id = ?1)",
            (user_id, now - now % _DAY),
        )
        assert row is not None
        return WorkerStats(
            labels=row[0], labels_today=row[1], skipped=row[2], reported=row[3], projects=row[4]
        )

    async def project_status(self, project_id: int, now: float | None = None) -> ProjectStatus:
        """Progress of one project (its samples' states as `SAMPLE_STATES` defines them)."""
        now = time.time() if now is None else now
        project = await self.get_project(project_id)
        states = await self.sample_counts(project_id)
        row = await self.one(
            "SELECT"
            " (SELECT COUNT(*) FROM labels WHERE project_id = ?1 AND retracted_at IS NULL),"
            " (SELECT COUNT(*) FROM assignments WHERE project_id = ?1 AND status = 'open'),"
            " (SELECT COUNT(*) FROM memberships WHERE project_id = ?1),"
            " (SELECT COUNT(DISTINCT worker_id) FROM labels WHERE project_id = ?1"
            "   AND answered_at >= ?2),"
            " (SELECT COUNT(*) FROM reports WHERE project_id = ?1)",
            (project_id, now - _DAY),
        )
        assert row is not None
        return ProjectStatus(
            project=project,
            samples=states.work + states.control,
            samples_done=states.done,
            states=states,
            labels=row[0],
            open_assignments=row[1],
            members=row[2],
            active_workers=row[3],
            reports=row[4],
        )

    async def live_labels(self, project_id: int) -> list[LabelRow]:
        """Every live label of a project, for aggregation."""
        rows = await self.all(
            "SELECT l.worker_id, l.sample_id, o.key FROM labels l"
            " JOIN options o ON o.id = l.option_id"
            " WHERE l.project_id = ? AND l.retracted_at IS NULL",
            (project_id,),
        )
        return [LabelRow(worker_id=r[0], sample_id=r[1], option_key=r[2]) for r in rows]
