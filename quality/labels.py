"""Crowd labels as flat integer arrays: one entry per label, no worker-by-task matrix.

Every method in this package takes a `Labels`: three equal-length int64 arrays (task, worker,
class index) plus the sizes, and the names the indices stand for. Work scales with the number
of labels: per-task or per-worker sums are `np.bincount` over these arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class LabelsError(ValueError):
    """Labels that cannot be used as given (sizes disagree, indices out of range)."""


@dataclass(frozen=True)
class Labels:
    """Crowd labels: label i says worker[i] gave task[i] the class label[i]."""

    task: IntArray
    worker: IntArray
    label: IntArray
    n_tasks: int
    n_workers: int
    n_classes: int
    tasks: tuple[str, ...] = ()  # names of task indices (empty when built from indices)
    workers: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.task)
        if len(self.worker) != n or len(self.label) != n:
            raise LabelsError("task, worker and label arrays must have the same length")
        for name, arr, size in (
            ("task", self.task, self.n_tasks),
            ("worker", self.worker, self.n_workers),
            ("label", self.label, self.n_classes),
        ):
            if n and (int(arr.min()) < 0 or int(arr.max()) >= size):
                raise LabelsError(f"{name} index out of range 0..{size - 1}")
        if self.n_classes < 1:
            raise LabelsError("at least one class is needed")

    @property
    def n(self) -> int:
        """Number of labels."""
        return len(self.task)

    @classmethod
    def from_indices(
        cls,
        task: Sequence[int] | IntArray,
        worker: Sequence[int] | IntArray,
        label: Sequence[int] | IntArray,
        *,
        n_tasks: int | None = None,
        n_workers: int | None = None,
        n_classes: int | None = None,
    ) -> Labels:
        """Labels from integer indices; sizes default to max index + 1."""
        t = np.asarray(task, dtype=np.int64)
        w = np.asarray(worker, dtype=np.int64)
        y = np.asarray(label, dtype=np.int64)

        def size(arr: IntArray, given: int | None) -> int:
            if given is not None:
                return given
            return int(arr.max()) + 1 if len(arr) else 0

        return cls(t, w, y, size(t, n_tasks), size(w, n_workers), max(size(y, n_classes), 1))

    @classmethod
    def from_strings(
        cls,
        workers: Sequence[str],
        tasks: Sequence[str],
        labels: Sequence[str],
        *,
        classes: Sequence[str] | None = None,
    ) -> Labels:
        """Labels from names; indices follow first appearance (classes: sorted, or as given)."""
        if not (len(workers) == len(tasks) == len(labels)):
            raise LabelsError("workers, tasks and labels must have the same length")
        t_names, t_idx = _index(tasks)
        w_names, w_idx = _index(workers)
        if classes is None:
            c_names = tuple(sorted(set(labels)))
        else:
            c_names = tuple(classes)
            unknown = sorted(set(labels) - set(c_names))
            if unknown:
                raise LabelsError(f"labels not among the classes: {', '.join(unknown[:5])}")
        c_of = {c: i for i, c in enumerate(c_names)}
        y = np.fromiter((c_of[v] for v in labels), dtype=np.int64, count=len(labels))
        return cls(
            t_idx,
            w_idx,
            y,
            len(t_names),
            len(w_names),
            max(len(c_names), 1),
            t_names,
            w_names,
            c_names,
        )

    def subset(self, keep: BoolArray) -> Labels:
        """The same labels with only the entries where `keep` is True (indices unchanged)."""
        return Labels(
            self.task[keep],
            self.worker[keep],
            self.label[keep],
            self.n_tasks,
            self.n_workers,
            self.n_classes,
            self.tasks,
            self.workers,
            self.classes,
        )

    def counts(self) -> FloatArray:
        """Votes per task and class, shape (n_tasks, n_classes) — dense in tasks x classes only."""
        flat = np.bincount(
            self.task * self.n_classes + self.label, minlength=self.n_tasks * self.n_classes
        )
        return flat.reshape(self.n_tasks, self.n_classes).astype(np.float64)

    def labels_per_task(self) -> IntArray:
        """How many labels each task has."""
        return np.bincount(self.task, minlength=self.n_tasks).astype(np.int64)

    def labels_per_worker(self) -> IntArray:
        """How many labels each worker gave."""
        return np.bincount(self.worker, minlength=self.n_workers).astype(np.int64)


def _index(values: Sequence[str]) -> tuple[tuple[str, ...], IntArray]:
    """Names in order of first appearance and each value's index among them."""
    of: dict[str, int] = {}
    idx = np.fromiter(
        (of.setdefault(v, len(of)) for v in values), dtype=np.int64, count=len(values)
    )
    return tuple(of), idx
