"""What machine a benchmark ran on: every script prints it beside its figures."""

from __future__ import annotations

import os
import platform
import time


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what the platform module knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_busy() -> tuple[float, float, float]:
    """(seconds all CPUs were busy, seconds this process and its waited-for children ran,
    wall clock): take one before and pass it to `others_load` after."""
    busy = 0.0
    try:
        with open("/proc/stat", encoding="utf-8") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal: all but idle and iowait
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    own = os.times()
    return busy, own.user + own.system + own.children_user + own.children_system, time.monotonic()


def others_load(before: tuple[float, float, float]) -> str:
    """How much CPU other processes took since `before`: on 2 cores they skew every figure."""
    busy, own, wall = (a - b for a, b in zip(cpu_busy(), before, strict=True))
    cores = os.cpu_count() or 1
    others = max(0.0, busy - own) / (wall * cores) if wall > 0 and busy > 0 else float("nan")
    return f"other processes used {others:.0%} of the {cores} cores meanwhile"
