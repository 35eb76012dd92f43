"""The label tap in one transaction: store the label, score it if its sample is gold (exam
progress, the gold-accuracy rule) and claim the worker's next card, all in one round trip.

A tap is the bot's hot path: one call to storage and one commit, where separate steps would
take the connection's lock and cross to its thread several times per label, and a crash
between them would leave a label without its gold check or a worker without a card. Only
the rare turns (an exam to start or end, a suspended worker, nothing left) are left to the
caller's ordinary steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.assignments import TapRow, expire, label
from storage.gold import GoldResult, score_gold
from storage.models import Card, LabelOutcome, LabelStatus
from storage.undo import Undo


@dataclass(frozen=True)
class TapResult:
    """What a label tap did."""

    outcome: LabelOutcome
    gold: GoldResult | None = None  # the label was on a gold sample: how it scored
    # The worker's next card, claimed in the same transaction; None when the caller is to
    # find out what comes next (an exam to begin or end, a suspension, nothing left, or the
    # label was not stored).
    card: Card | None = None


class Taps(Undo):
    """The label tap: `tap`."""

    async def tap(
        self,
        assignment_id: int,
        user_id: int,
        option_idx: int,
        *,
        update_id: int | None = None,
        message_id: int | None = None,
        roll: float = 1.0,
        now: float | None = None,
    ) -> TapResult:
        """Store a tapped label and claim the next card, in one transaction.

        message_id: the tapped message; where the project edits cards in place, the next card
        is claimed as shown in it (the caller edits it in, or calls `card_unsent`).
        roll: a uniform random number in [0, 1): the next card is a gold sample when it is
        below the project's gold rate.
        """
        now = time.time() if now is None else now
        async with self.transaction() as db:
            outcome, row = await label(
                db, self.options, self.min_read, assignment_id, user_id, option_idx, now, update_id
            )
            if outcome.status is not LabelStatus.RECORDED or row is None:
                return TapResult(outcome)
            project = await self.get_project(row.project_id)
            spec = await self.project_spec(project.id)
            gold = None
            if row.gold and row.truth is not None and outcome.option is not None:
                options = await self.options(project.id)
                right = next(o for o in options if o.key == row.truth)
                gold = await score_gold(
                    db, spec, right, outcome.option.key, user_id, project.id, row.member, now
                )
            mode = _next_mode(row, gold, spec.quality.exam_size, roll < spec.quality.gold_rate)
            if mode is None:
                return TapResult(outcome, gold)
            if self.sweep_due(now):
                await expire(db, now)
            shown_in = message_id if spec.card_flow == "edit" else None
            card = await self.claim_card(db, project, user_id, now, mode, shown_in)
            return TapResult(outcome, gold, card)


def _next_mode(
    row: TapRow, gold: GoldResult | None, exam_size: int, gold_roll: bool
) -> str | None:
    """Which card to claim after this label ("only": the exam goes on with gold samples;
    "first" or "no" as `claim` takes them), or None: the caller decides what comes next."""
    if gold is not None and (gold.suspended or gold.exam in ("failed", "retry")):
        return None  # suspended, failed, or a new attempt that starts with its introduction
    in_exam = exam_size > 0 and row.member is not None and row.member[0] != "passed"
    if in_exam and not (gold is not None and gold.exam == "passed"):
        # The exam goes on; a label outside it (the exam was turned on meanwhile) is left to
        # the caller, which knows how to begin one.
        return "only" if gold is not None and gold.exam == "progress" else None
    return "first" if gold_roll else "no"
