"""One benchmark variant in a child process of its own, so its memory figures are its own."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class ChildFailed(Exception):
    """The child exited non-zero or printed nothing: its exit code and last output lines."""

    def __init__(self, returncode: int, tail: str) -> None:
        """Keep the exit code and the tail apart, for callers that word it their own way."""
        super().__init__(f"exit {returncode}:\n{tail}")
        self.returncode, self.tail = returncode, tail


def run_child(module: str, *args: str) -> dict[str, Any]:
    """`python -m module args...` from the project root; its last stdout line, as JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise ChildFailed(proc.returncode, tail)
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def status_mb(field: str) -> float | None:
    """A VmHWM/VmRSS figure of this process in MB, or None without /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_mb() -> float:
    """This process's peak RSS in MB: VmHWM (ru_maxrss where /proc is missing)."""
    peak = status_mb("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024


def rss_mb() -> float:
    """This process's RSS in MB now (the peak where /proc is missing)."""
    rss = status_mb("VmRSS")
    return rss if rss is not None else peak_mb()
