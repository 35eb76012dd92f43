"""The fault harness in every CI run: a 429 storm and kill -9s lose nothing, strand nobody.

`bench/bench_faults.py` runs the same harness at full size (100 kills, a 60 s storm).
"""

from __future__ import annotations

from pathlib import Path

from sandbox.harness import FaultHarness, FaultPlan


async def test_a_429_storm_then_kill_9s_under_load_lose_nothing_and_strand_nobody(
    tmp_path: Path,
) -> None:
    """One short run (each kill costs a bot start, ~1 s of CPU): 8 workers label through a
    1.5 s storm in which 70% of sends get 429, then through 5 kill -9s of the bot at random
    moments."""
    plan = FaultPlan(
        workers=8,
        samples=150,
        kills=5,
        life_s=(0.1, 0.45),
        settle_s=1.0,
        storm_s=1.5,
        storm_share=0.7,
        rate_limiter=False,  # no 30/s pacing: the sweep's replies would take seconds
        seed=3,
        min_read_s=0.05,  # the guard on, shorter than the default: more taps in a short run
        card_flow="edit",  # the default flow (bench_faults --card-flow new runs the other)
    )
    report = await FaultHarness(plan, tmp_path).run()
    assert report.problems() == [], report.summary()
    assert report.kills == 5
    assert report.sandbox["too_many_requests"] > 0, report.summary()
    assert report.acknowledged >= 20, report.summary()  # the workers really labeled
