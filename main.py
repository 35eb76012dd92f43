"""Labelgram entry point: `python main.py ...` does what the `labelgram` command does."""

import sys

from cli.entry import main

if __name__ == "__main__":
    sys.exit(main())
