"""The `labelgram` command's entry point, kept small on purpose.

The quality check's child process is started with 'spawn', which imports the parent's main
module again in the child. Were that `cli.main` (the bot, python-telegram-bot, the intake),
every check would pay ~0.4 s of CPU for imports it never uses, at a tenth of a CPU; this
module imports the command line only when it runs as the command.
"""

from __future__ import annotations


def main() -> int:
    """Run the `labelgram` command (see `cli.main`)."""
    from cli.main import main as run

    return run()
