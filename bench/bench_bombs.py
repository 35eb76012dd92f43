"""Benchmark: the peak RSS of `labelgram import` on each bomb file, and how it is refused.

Each bomb (tests/intake/bombs.py: small on disk, hundreds of megabytes or more once expanded,
or lying about it) is imported by a fresh child process into a fresh project; the child reports
its own peak RSS (VmHWM, written at exit). Printed per bomb: size on disk, exit code, peak RSS,
wall time and the first words of the one line on stderr. Target: every bomb exit 2 with one
line, peak < 300 MB. `--full` adds the sizes of the issue's report (1.6 GB of whitespace, a
500 MB CSV line written to disk). `--root` runs another checkout (e.g. a `git worktree` of an
older commit) to compare; give `--timeout` to stop a bomb that does not stop by itself.

    python -m bench.bench_bombs
    python -m bench.bench_bombs --full
    git worktree add /tmp/before <commit> && python -m bench.bench_bombs --root /tmp/before
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.intake import bombs
from tests.intake.test_bombs import CHILD, PROJECT

ROOT = Path(__file__).resolve().parents[1]


def _bombs(full: bool) -> list[tuple[str, Callable[[Path], Path]]]:
    ws, line = (1600, 500) if full else (400, 8)
    return [
        (f"xlsx, {ws} MiB whitespace in sheet1", lambda p: bombs.xlsx_whitespace(p, ws)),
        ("xlsx, 12 MiB whitespace (under ratio)", bombs.xlsx_quiet_whitespace),
        ("xlsx, one 12 MiB cell", bombs.xlsx_huge_cell),
        ("xlsx, sheet declares 3 GiB", bombs.xlsx_declares_huge),
        ("xlsx, declares 1 KiB, holds 400 MiB", lambda p: bombs.xlsx_lies_small(p, 400)),
        ("xlsx, dimension A1:XFD1048576", bombs.xlsx_wide_dimension),
        ("zip, 300 x 8 MiB media (2.4 GB)", bombs.media_zip_past_cap),
        ("zip, declares 1 KiB, holds 512 MiB", bombs.media_zip_lies),
        (
            f"csv, one {line} MiB line of 'a,'",
            lambda p: bombs.long_line(p, "text,label", line, fill=b"a,"),
        ),
        (
            f"csv, one {line} MiB quoted cell",
            lambda p: bombs.long_line(p, "text,label", line, prefix='"'),
        ),
        (f"jsonl, one {line} MiB line", lambda p: bombs.long_line(p, '{"text": "a"}', line)),
        ("jsonl, 200,000-deep nesting", bombs.deep_json_line),
        ("json, 200,000-deep element", bombs.deep_json_array),
    ]


_SUFFIX = {"xlsx": ".xlsx", "zip": ".zip", "csv": ".csv", "jsonl": ".jsonl", "json": ".json"}


def run(root: Path, full: bool, timeout: float) -> None:
    """Build each bomb in a scratch folder, import it in a child, print one line per bomb."""
    print(f"{'bomb':<40} {'on disk':>9} {'exit':>5} {'peak RSS':>9} {'time':>7}  stderr")
    for label, build in _bombs(full):
        with tempfile.TemporaryDirectory(prefix="bench-bombs-") as tmp:
            folder = Path(tmp)
            db = folder / "l.db"
            project = folder / "project.toml"
            project.write_text(PROJECT)
            env = {**os.environ, "PYTHONPATH": str(root), "HWM_FILE": str(folder / "hwm")}
            env.pop("LABELGRAM_TOKEN", None)
            create = ["--db", str(db), "project", "create", str(project), "--no-import"]
            subprocess.run(
                [sys.executable, str(root / "main.py"), *create],
                env=env,
                cwd=root,
                check=True,
                capture_output=True,
            )
            data = build(folder / ("bomb" + _SUFFIX[label.split(",")[0]]))
            started = time.perf_counter()
            try:
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, "--db", str(db), "import", "bombs", str(data)],
                    env=env,
                    cwd=folder,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
                code, err = str(done.returncode), done.stderr.strip()
            except subprocess.TimeoutExpired:
                code, err = "-", f"killed after {timeout:.0f} s"
            seconds = time.perf_counter() - started
            hwm = folder / "hwm"
            peak = f"{int(hwm.read_text()) / 1024:,.0f} MB" if hwm.exists() else "-"
            lines = err.splitlines()
            said = lines[-1] if lines else ""
            if len(lines) > 1:
                said = f"[{len(lines)} lines] {said}"
            print(
                f"{label:<40} {data.stat().st_size / 1024:>7,.0f} K {code:>5} {peak:>9} "
                f"{seconds:>6.2f}s  {said[:110]}"
            )


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to run (default: this)")
    parser.add_argument("--full", action="store_true", help="the issue's sizes (writes 500 MB)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per bomb")
    args = parser.parse_args()
    run(args.root.resolve(), args.full, args.timeout)


if __name__ == "__main__":
    main()
