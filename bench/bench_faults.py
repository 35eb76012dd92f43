"""Benchmark: the fault harness at full size (minutes); figures for docs/benchmarks.md.

Three runs of sandbox/harness.py, each ending with every stored update handled a second
time (the replay sweep):

1. kills: 100 `kill -9`s of `labelgram run` at random moments while 8 workers label, skip,
   report and undo; then 10,000 forged button presses.
2. storm: a 60 s storm in which half of all sends get 429 (retry_after 2 s), with the bot's
   pacing off (LABELGRAM_RATE_LIMIT=false: nothing but the flood guard between the bot and
   the 429s), plus 5 kills after it. Workers wait out the storm (a /start rescue only after
   90 s without a card): a card can take several 2 s pauses to get through, and every 429
   pauses all sends.
3. storm, full: a 60 s storm in which every send gets 429; workers wait it out (their
   /start rescue comes only after 90 s without a card).

Targets (issue 12): 0 acknowledged labels lost, 0 double effects, 0 workers needing /start,
0 unanswered taps. Exits 1 if a run missed one.

    python -m bench.bench_faults                 # all three (about 6 minutes)
    python -m bench.bench_faults --only kills --kills 20
    python -m bench.bench_faults --card-flow new # the card-per-message flow (default: edit)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import platform
import tempfile
from pathlib import Path

from sandbox.harness import FaultHarness, FaultPlan, FaultReport


def plans(kills: int, card_flow: str = "edit") -> dict[str, FaultPlan]:
    """The runs, by name, in the given card flow."""
    runs = {
        "kills": FaultPlan(
            workers=8, samples=6000, kills=kills, life_s=(0.3, 1.5), settle_s=4.0, fuzz=10_000
        ),
        "storm": FaultPlan(
            workers=8,
            samples=3000,
            kills=5,
            storm_s=60.0,
            storm_share=0.5,
            retry_after=2,
            rate_limiter=False,
            stuck_s=90.0,
            settle_s=4.0,
        ),
        "storm-full": FaultPlan(
            workers=8, samples=3000, kills=0, storm_s=60.0, stuck_s=90.0, settle_s=8.0
        ),
    }
    return {name: dataclasses.replace(plan, card_flow=card_flow) for name, plan in runs.items()}


async def run(name: str, plan: FaultPlan) -> FaultReport:
    """One run in a fresh folder; prints its figures."""
    with tempfile.TemporaryDirectory(prefix=f"faults-{name}-") as folder:
        report = await FaultHarness(plan, Path(folder)).run()
    rate = report.acknowledged / report.seconds if report.seconds else 0.0
    print(f"{name:10} {report.summary()}; {rate:.1f} acknowledged labels/s")
    for problem in report.problems():
        print(f"{'':10} MISSED: {problem}")
    return report


async def main(argv: list[str] | None = None) -> int:
    """Run the chosen plans; 1 if any missed a target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["kills", "storm", "storm-full"])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--card-flow", choices=["edit", "new"], default="edit")
    args = parser.parse_args(argv)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()};"
        f" card flow {args.card_flow}"
    )
    failed = False
    for name, plan in plans(args.kills, args.card_flow).items():
        if args.only in (None, name):
            failed |= bool((await run(name, plan)).problems())
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
