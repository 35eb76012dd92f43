"""Heavy record work for the bot, in a child process: an export zipped for upload, a backup.

An export streams a whole project through JSON and CSV writers and a zip: seconds of CPU for
a big project; a backup copies the database and checks the copy. In the bot's process either
would compete with the event loop for the GIL and the cores; in a child process at low
priority it takes only the CPU the labeling leaves. Both read their own snapshot, so labeling
goes on meanwhile. The child reports its result as one JSON line on stdout, or its error as
the last line of stderr.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

from services.background import Throttle, lower
from storage.export import ExportError

# Telegram's limit for a bot's upload is 50 MB; parts stay clear of it.
PART_BYTES = 45 * 1024 * 1024
# The child runs at the lowest priority (services.background: nice 19 and SCHED_IDLE). Measured
# with `bench.bench_records_load` (1M samples, 20 workers, docs/benchmarks.md): at nice 19
# alone, an export and a backup took the workers' tap p99 from 54 to 82 ms; with SCHED_IDLE
# it stays within noise of the quiet phase's (78 vs 81, 101 vs 94 ms). Slicing the child as
# well (a share < 1: stopped the rest of the time) did no better at 0.5 or 0.3 and made the
# 1M-sample export 2x slower (155 s instead of 73). Read at each start, so a bench can set it.
CPU_SHARE = 1.0
# The child's first act: die with the bot (a stopped child would otherwise outlive it,
# holding its read snapshot); then `_child_main` with its arguments as JSON.
_ENTRY = (
    "import sys; from services.background import die_with_parent;"
    " die_with_parent(int(sys.argv[2])); from services.export_runner import _child_main;"
    " _child_main(sys.argv[1])"
)


class ChildFailed(ExportError):
    """The child process failed; the message is its own last line."""


async def export_in_child(
    db_path: Path, project: str, fmt: str, out: Path, name: str
) -> list[Path]:
    """Export `project` in `fmt` into the folder `out` (data file and dataset card) and zip
    it as `<name>.zip` (in parts if big: `bundle`), in a low-priority child process; the files to
    send. ExportError with the export's own message if it fails. Cancelling kills the child."""
    result = await _run_child(
        {
            "do": "export",
            "db": str(db_path),
            "project": project,
            "fmt": fmt,
            "out": str(out),
            "name": name,
        }
    )
    return [Path(p) for p in result["files"]]


async def backup_in_child(db_path: Path, dest: str) -> dict[str, Any]:
    """`storage.backup.backup` in a low-priority child process: {"path", "size", "seconds"}."""
    return await _run_child({"do": "backup", "db": str(db_path), "dest": dest})


async def _run_child(job: dict[str, Any]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _ENTRY,
        json.dumps(job),
        str(os.getpid()),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # Lowered from here at once (a preexec_fn is unsafe in a process with threads, as the
    # bot is), so even the child's imports run at the lowest priority.
    lower(proc.pid)
    throttle = Throttle(proc.pid, CPU_SHARE)
    throttle.start()
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:  # the bot stopping: the child goes with it
        throttle.stop()
        proc.kill()
        await proc.wait()
        raise
    throttle.stop()  # (SIGCONT, harmless to whatever process has the pid by now)
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise ChildFailed(lines[-1] if lines else f"{job['do']} exited with {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def _child_main(argument: str) -> None:
    """In the child: do the job, write its result as JSON (exit 1 with one line if not)."""
    job = json.loads(argument)
    result: dict[str, Any]
    try:
        if job["do"] == "export":
            from services.export import export_project

            folder = Path(job["out"])
            export_project(job["db"], job["project"], job["fmt"], folder)
            result = {"files": [str(f) for f in bundle(folder, job["name"])]}
        else:
            from storage.backup import backup

            made = backup(job["db"], job["dest"])
            result = {"path": str(made.path), "size": made.size, "seconds": made.seconds}
    except Exception as exc:  # the parent shows the message; no traceback
        sys.stderr.write(f"{str(exc) or type(exc).__name__}\n")
        raise SystemExit(1) from None
    sys.stdout.write(json.dumps(result) + "\n")


def bundle(folder: Path, name: str, part_bytes: int = PART_BYTES) -> list[Path]:
    """Zip `folder` into `<name>.zip` beside it; if that is over `part_bytes`, split it into
    `<name>.zip.001`, `.002`, ... (joined again with `cat`). The files to send, in order."""
    archive = folder.parent / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{name}/{path.relative_to(folder)}")
    if archive.stat().st_size <= part_bytes:
        return [archive]
    parts: list[Path] = []
    with archive.open("rb") as src:
        while chunk := src.read(part_bytes):
            part = archive.with_name(f"{archive.name}.{len(parts) + 1:03d}")
            part.write_bytes(chunk)
            parts.append(part)
    archive.unlink()
    return parts
