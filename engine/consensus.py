"""Consensus over crowd labels (majority vote here; the quality engine adds more methods)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Vote:
    """One label: who gave it, to which item, which option."""

    worker: int | str
    item: int | str
    label: str


@dataclass(frozen=True)
class Decision:
    """The aggregated label of one item."""

    label: str
    support: float  # share of votes for the winning label
    n_labels: int
    tie: bool


def majority_vote(votes: Iterable[Vote]) -> dict[int | str, Decision]:
    """Most frequent label per item; ties go to the label that sorts first, and say so."""
    by_item: dict[int | str, Counter[str]] = defaultdict(Counter)
    for v in votes:
        by_item[v.item][v.label] += 1
    result: dict[int | str, Decision] = {}
    for item, counts in by_item.items():
        top = max(counts.values())
        winners = sorted(label for label, n in counts.items() if n == top)
        total = sum(counts.values())
        result[item] = Decision(winners[0], top / total, total, len(winners) > 1)
    return result


def accuracy(decisions: Mapping[int | str, Decision], truth: Mapping[int | str, str]) -> float:
    """Share of items with a known answer whose decision matches it (NaN if none overlap)."""
    known = [item for item in decisions if item in truth]
    if not known:
        return float("nan")
    return sum(decisions[i].label == truth[i] for i in known) / len(known)
