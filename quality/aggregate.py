"""Consensus from crowd labels: the public entry point, `aggregate(labels, method)`.

`aggregate` turns a `Labels` into a `Consensus`: a posterior over classes for every task, the
chosen class, how sure it is, whether its top answers tie, and an estimate of each worker's
skill. The methods themselves are in `quality.methods` (mv, wawa and the confusion-matrix EM
models ds, ocds, hds, mace) and `quality.glad` (glad, zbs); `auto` (`quality.choose`) picks one
per project from the labels alone and calibrates its confidence.

`known` answers (gold tasks, a reviewer's decision) are clamped during EM, so the worker
estimates learn from them, and come out one-hot.
"""

from __future__ import annotations

from quality.choose import SEED, auto, run
from quality.labels import IntArray, Labels
from quality.methods import CONCRETE, TIE_EPS, AggregateError, Consensus, prepare

__all__ = ["METHODS", "TIE_EPS", "AggregateError", "Consensus", "aggregate"]

METHODS: tuple[str, ...] = (*CONCRETE, "auto")


def aggregate(
    labels: Labels,
    method: str = "auto",
    *,
    known: IntArray | None = None,
    max_iter: int = 100,
    tol: float = 1e-5,
    seed: int = SEED,
) -> Consensus:
    """Consensus over `labels` with `method` (one of `METHODS`).

    `known`: optional (n_tasks,) class index for tasks whose answer is known, -1 elsewhere.
    Those tasks come out one-hot (confidence 1) and are clamped during EM. EM stops after
    `max_iter` iterations or when the log-likelihood per label changes by less than `tol`.

    `auto` chooses the method and the calibration of its confidence per project by held-out
    label likelihood (`quality.choose`, deterministic for `seed`); its `method` reads
    "auto:<chosen>" and `choice` says why in one line.
    """
    if method not in METHODS:
        raise AggregateError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if max_iter < 0:
        raise AggregateError("max_iter must be >= 0")
    if method == "auto":
        prepare(labels, known)  # refuses a bad `known` before any fit
        return auto(labels, known, max_iter, tol, seed)
    return run(prepare(labels, known), method, max_iter, tol)
