"""Pure quality computation: consensus, agreement, worker scores (numpy in, numpy out; no I/O)."""
