"""bench_loop at a tiny size: every round ends with every label, and the bare bot it compares
Labelgram with makes the same Bot API calls as Labelgram's edit flow."""

from __future__ import annotations

from bench.bench_loop import BARE, EDIT, LABELGRAM, NEW, POLL, build_parser, measure


async def test_one_run_measures_both_parts_without_losing_labels() -> None:
    tiny = "--workers 3 --samples 12 --free-workers 3 --free-samples 12 --rounds 1"
    args = build_parser().parse_args(tiny.split())
    rounds = await measure(args)

    assert sorted((r.part, r.bot) for r in rounds) == sorted(
        [("limits on", EDIT), ("limits on", NEW), ("limits off", LABELGRAM), ("limits off", BARE)]
    )
    for r in rounds:
        assert r.problems == [], (r.bot, r.problems)
        assert r.labels == 12
        assert len(r.per_worker) == 3
    free = {r.bot: {m: n for m, n in r.calls.items() if m != POLL} for r in rounds}
    # Limits off: no 429 retries, so each side's calls are exactly its flow's.
    assert free[BARE] == free[LABELGRAM]
    assert free[LABELGRAM]["answerCallbackQuery"] == 12 + 3  # each label and each Start tap
