"""An export for the bot: `labelgram export` in a child process, zipped for upload.

The export streams a whole project through JSON and CSV writers: seconds of Python for a big
project. In the bot's process that would hold the GIL and slow every tap; in a child process
at low priority it takes only the CPU the labeling leaves (the export reads its own snapshot,
so labeling goes on meanwhile). The folder it writes is zipped into one file, split into
parts below Telegram's upload limit when it is bigger.
"""

from __future__ import annotations

import asyncio
import sys
import zipfile
from pathlib import Path

from storage.export import ExportError

# Telegram's limit for a bot's upload is 50 MB; parts stay clear of it.
PART_BYTES = 45 * 1024 * 1024
# The child lowers its own priority first thing (a preexec_fn is unsafe in a process with
# threads, as the bot is).
_ENTRY = "import os, sys; os.nice(10); from cli.entry import main; sys.exit(main())"


async def export_in_child(db_path: Path, project: str, fmt: str, out: Path) -> Path:
    """Export `project` in `fmt` into the folder `out` (data file and dataset card) with the
    command line in a niced child process; the folder. ExportError with the command's own
    message if it fails. Cancelling kills the child."""
    command = [sys.executable, "-c", _ENTRY, "--db", str(db_path), "export", project]
    command += ["--format", fmt, "-o", f"{out}/", "--quiet"]
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await proc.communicate()
    except asyncio.CancelledError:  # the bot stopping: the child goes with it
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise ExportError(lines[-1] if lines else f"export exited with {proc.returncode}")
    return out


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
