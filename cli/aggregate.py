"""`labelgram aggregate`: consensus labels from a CSV of crowd labels, and gold accuracy.

Labels come as a CSV (or TSV) with a header naming at least `worker`, `task` and `label`, in
any order among other columns. The file is streamed: each row becomes three integer indices,
so a million labels cost a few tens of MB, not a million dicts. Any problem with a file is a
`LabelFileError` whose message names the file and the line (or byte offset) to fix.
"""

from __future__ import annotations

import codecs
import csv
import os
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TextIO

import numpy as np

from quality.aggregate import Consensus
from quality.labels import IntArray, Labels

LABEL_COLUMNS = ("worker", "task", "label")
GOLD_COLUMNS = ("task", "label")
_DELIMITERS = (",", "\t", ";")
_CHECK_CHUNK = 1 << 20
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class LabelFileError(Exception):
    """A labels or gold file that cannot be used; the message says where and what to fix."""


@dataclass(frozen=True)
class GoldAccuracy:
    """How the consensus did on the gold tasks that have labels."""

    correct: int
    scored: int  # gold tasks with at least one label
    unlabelled: int  # gold tasks nobody labelled: not scored

    @property
    def accuracy(self) -> float:
        """Share of scored gold tasks whose consensus label is the gold one (NaN if none)."""
        return self.correct / self.scored if self.scored else float("nan")


def read_labels(path: Path, classes: Sequence[str] | None = None) -> Labels:
    """The labels of a `worker,task,label` CSV; tasks and workers in order of first appearance.

    Classes are sorted by name, as `Labels.from_strings` does, so a method's last tie-break
    (the lowest class index, after the crowd's option frequencies) does not depend on row
    order; `classes` gives another order (the bot's option order, to reproduce its check) and
    must name every label used.
    """
    tasks: dict[str, int] = {}
    workers: dict[str, int] = {}
    seen: dict[str, int] = {}
    t, w, y = array("q"), array("q"), array("q")
    for _, (worker, task, label) in read_table(path, LABEL_COLUMNS):
        w.append(workers.setdefault(worker, len(workers)))
        t.append(tasks.setdefault(task, len(tasks)))
        y.append(seen.setdefault(label, len(seen)))
    if not t:
        raise LabelFileError(f"{path.name}: has a header but no labels")
    names = sorted(seen) if classes is None else list(classes)
    unknown = sorted(set(seen) - set(names))
    if unknown:
        raise LabelFileError(
            f"{path.name}: labels not among --classes: {', '.join(unknown[:5])}; add them"
        )
    position = {name: i for i, name in enumerate(names)}
    sorted_index = np.empty(len(seen), dtype=np.int64)
    for name, old in seen.items():
        sorted_index[old] = position[name]
    return Labels(
        task=np.frombuffer(t, dtype=np.int64),
        worker=np.frombuffer(w, dtype=np.int64),
        label=sorted_index[np.frombuffer(y, dtype=np.int64)],
        n_tasks=len(tasks),
        n_workers=len(workers),
        n_classes=len(names),
        tasks=tuple(tasks),
        workers=tuple(workers),
        classes=tuple(names),
    )


def read_gold(path: Path) -> dict[str, str]:
    """Task -> gold label from a `task,label` CSV; a task given two different labels is refused.

    Also reads a file of known answers (`labelgram export --format labels` writes one, with
    a `source` column that is ignored here).
    """
    gold: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, (task, label) in read_table(path, GOLD_COLUMNS):
        if gold.setdefault(task, label) != label:
            raise LabelFileError(
                f"{path.name}, line {number}: task {task!r} has gold label {label!r} here but "
                f"{gold[task]!r} on line {first_line[task]}; keep one"
            )
        first_line.setdefault(task, number)
    return gold


def with_known(labels: Labels, known: dict[str, str], source: Path) -> tuple[Labels, IntArray]:
    """The labels with every known task among their tasks (known tasks nobody labelled come
    last: the check counts them in its class prior too), and each task's known class or -1.
    """
    index = {name: i for i, name in enumerate(labels.tasks)}
    extra = [task for task in known if task not in index]
    tasks = labels.tasks + tuple(extra)
    of = {name: i for i, name in enumerate(labels.classes)}
    fixed = np.full(len(tasks), -1, dtype=np.int64)
    for i, task in enumerate(tasks):
        answer = known.get(task)
        if answer is None:
            continue
        if answer not in of:
            raise LabelFileError(
                f"{source.name}: task {task!r} has label {answer!r}, which is not among the"
                f" classes ({', '.join(labels.classes)}); give it in --classes"
            )
        fixed[i] = of[answer]
    grown = Labels(
        labels.task,
        labels.worker,
        labels.label,
        len(tasks),
        labels.n_workers,
        labels.n_classes,
        tasks,
        labels.workers,
        labels.classes,
    )
    return grown, fixed


def gold_accuracy(labels: Labels, consensus: Consensus, gold: dict[str, str]) -> GoldAccuracy:
    """Compare the consensus with gold answers it was not given (no peeking during the fit)."""
    index = {name: i for i, name in enumerate(labels.tasks)}
    chosen = consensus.label.tolist()
    correct = scored = 0
    for task, answer in gold.items():
        i = index.get(task)
        if i is None or chosen[i] < 0:
            continue
        scored += 1
        correct += labels.classes[chosen[i]] == answer
    return GoldAccuracy(correct, scored, len(gold) - scored)


def write_consensus(out: TextIO, labels: Labels, consensus: Consensus) -> None:
    """`task,label,confidence,n_labels,tie` rows, tasks in order of first appearance.

    `tie` is 1 where the top answers tie (the label is then the tied answer the crowd gives
    most often overall: see `quality.methods`), else 0.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("task", "label", "confidence", "n_labels", "tie"))
    classes = labels.classes
    for task, chosen, confidence, n, tie in zip(
        labels.tasks,
        consensus.label.tolist(),
        consensus.confidence.tolist(),
        consensus.n_labels.tolist(),
        consensus.tie.tolist(),
        strict=True,
    ):
        label = classes[chosen] if chosen >= 0 else ""
        writer.writerow((task, label, f"{confidence:.4f}", n, int(tie)))


def write_consensus_file(path: Path, labels: Labels, consensus: Consensus) -> None:
    """Write the consensus CSV via a temporary file, so a failure leaves no half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as out:
            write_consensus(out, labels, consensus)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LabelFileError(f"{path}: cannot write the output ({exc.strerror})") from exc


def read_table(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(line number, values of the `required` columns, stripped) for each non-blank record.

    The header names the columns (any case, any order, extra columns ignored). The delimiter
    is the first of comma, tab (first for .tsv) and semicolon that splits the header into
    all the required names. Every required value must be non-empty.
    """
    _check_utf8(path)
    with _open(path) as handle:
        try:
            first = handle.readline()
            delimiter, names = _header(path, first, required)
            width = len(names)
            where = [names.index(column) for column in required]
            reader = csv.reader(chain([first], handle), delimiter=delimiter)
            next(reader)
            before = reader.line_num
            for fields in reader:
                number, before = before + 1, reader.line_num
                if len(fields) > width:
                    raise LabelFileError(
                        f"{path.name}, line {number}: {len(fields)} fields but the header has "
                        f"{width}; quote values that contain {_show(delimiter)}"
                    )
                if len(fields) < width:
                    fields += [""] * (width - len(fields))
                values = tuple(fields[i].strip() for i in where)
                if not all(values):
                    if not any(f.strip() for f in fields):
                        continue  # a blank line, or one of only delimiters
                    column = required[values.index("")]
                    raise LabelFileError(
                        f"{path.name}, line {number}: empty {column} value; every row needs "
                        f"{_join(required)}"
                    )
                yield number, values
        except csv.Error as exc:
            raise LabelFileError(
                f"{path.name}, line {before + 1}: malformed CSV ({exc}); fix the quoting there"
            ) from exc
        except UnicodeDecodeError as exc:  # _check_utf8 passed: the file changed meanwhile
            raise LabelFileError(f"{path.name}: changed while being read; try again") from exc


def _open(path: Path) -> TextIO:
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _unreadable(path: Path, exc: OSError) -> LabelFileError:
    if isinstance(exc, FileNotFoundError):
        return LabelFileError(f"{path}: not found")
    if isinstance(exc, IsADirectoryError):
        return LabelFileError(f"{path}: is a folder; give a CSV file")
    return LabelFileError(f"{path}: cannot be read ({exc.strerror})")


def _header(path: Path, line: str, required: tuple[str, ...]) -> tuple[str, list[str]]:
    """The delimiter and the (lower-cased) column names of the header line."""
    if not line.strip():
        raise LabelFileError(
            f"{path.name}: line 1 is empty; the file needs a header row naming {_join(required)}"
        )
    order = ("\t", ",", ";") if path.suffix.lower() == ".tsv" else _DELIMITERS
    found: list[list[str]] = []
    for delimiter in order:
        names = [n.strip().lower() for n in next(csv.reader([line], delimiter=delimiter))]
        if all(column in names for column in required):
            return delimiter, names
        found.append(names)
    widest = max(found, key=len)
    raise LabelFileError(
        f"{path.name}, line 1: the header needs columns {_join(required)}; it has "
        f"{', '.join(repr(n) for n in widest)}"
    )


def _check_utf8(path: Path) -> None:
    """Refuse a file that is not UTF-8, giving the byte offset (and line) of the first error."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    fed = lines = 0  # bytes and newlines before the current chunk
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    with handle:
        while True:
            chunk = handle.read(_CHECK_CHUNK)
            pending = len(decoder.getstate()[0])  # bytes of a character cut by the last chunk
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                offset = fed - pending + exc.start
                line = lines + chunk[: max(0, offset - fed)].count(b"\n") + 1
                utf16 = offset == 0 and chunk.startswith(_UTF16_BOMS)
                raise LabelFileError(
                    f"{path.name}: {'is UTF-16' if utf16 else 'is not UTF-8'} text (invalid "
                    f"byte at byte offset {offset:,}, line "
                    f"{line}); save it as CSV UTF-8 and try again"
                ) from exc
            if not chunk:
                return
            fed += len(chunk)
            lines += chunk.count(b"\n")


def _join(columns: tuple[str, ...]) -> str:
    return ", ".join(columns)


def _show(delimiter: str) -> str:
    return "tabs" if delimiter == "\t" else f"'{delimiter}'"
