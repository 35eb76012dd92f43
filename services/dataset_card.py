"""The dataset card: README.md in the style of the Hugging Face Hub, for a folder export.

A YAML header (license, language, task category, size, the data file and its features, so
the `datasets` JSON loader opens the folder as it is), then Markdown: the project, question
and options with their counts, the guide and the versions labels were made under, the dates,
the crowd (pseudonymous), labels per sample, agreement (Krippendorff's alpha, Fleiss' kappa
from `quality.agreement`), gold accuracy, the consensus method and its confidence, reviews and
exclusions, what each import dropped and why, the problem reports and known limitations.
Every figure comes from the export's own snapshot.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from quality.agreement import AgreementSums
from storage.export import ExportSnapshot, ProjectRow, finite

_TASK_CATEGORY = {
    "text": "text-classification",
    "photo": "image-classification",
    "audio": "audio-classification",
    "voice": "audio-classification",
    "video": "video-classification",
    "document": "text-classification",
}
_STRING = {"dtype": "string"}
_TAG = "labelgram"  # in every card's tags: `is_card` knows a card of ours by it
_CARD_HEAD = 1 << 20  # characters of a README.md read to find its header
_LABEL_FEATURES = [
    {"name": "worker", "dtype": "string"},
    {"name": "option", "dtype": "string"},
    {"name": "option_text", "dtype": "string"},
    {"name": "shown_at", "dtype": "float64"},
    {"name": "answered_at", "dtype": "float64"},
    {"name": "seconds", "dtype": "float64"},
    {"name": "guide_version", "dtype": "int64"},
    {"name": "retracted", "dtype": "bool"},
    {"name": "worker_suspended", "dtype": "bool"},
    {"name": "exam", "dtype": "bool"},
]
_REVIEW_FEATURES = [
    {"name": "reviewer", "dtype": "string"},
    {"name": "option", "dtype": "string"},
    {"name": "option_text", "dtype": "string"},
    {"name": "decided_at", "dtype": "float64"},
]
_REPORT_FEATURES = [
    {"name": "worker", "dtype": "string"},
    {"name": "reason", "dtype": "string"},
    {"name": "at", "dtype": "float64"},
]


@dataclass
class CardStats:
    """Every figure the card shows, read from one snapshot."""

    samples: int
    states: dict[str, int]
    answers: list[tuple[str | None, str | None, int]]
    label_counts: dict[str, int]
    guide_versions: list[tuple[int, int, float, float]]
    guide_texts: list[tuple[int, dict[str, str], float]]
    figures: dict[str, int]
    per_sample: dict[int, int]
    first: float | None
    last: float | None
    method: str | None
    alpha: float | None
    kappa: float | None
    confidence: list[float] = field(default_factory=list)  # min, quartiles, max
    gold_accuracy: list[float] = field(default_factory=list)  # over workers: min, q, max
    gold_workers: int = 0
    imports: list[tuple[float, str, int, int, int, dict[str, Any]]] = field(default_factory=list)
    reports: dict[str, int] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)
    meta_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CardInput:
    """What the card is about: the project, its figures, and how it was exported."""

    project: ProjectRow
    stats: CardStats
    fmt: str
    data_file: str
    status: str = "all"
    worker_ids: bool = False
    media: bool = False


def _spread(values: np.ndarray[Any, np.dtype[np.float64]]) -> list[float]:
    if not len(values):
        return []
    return [round(float(v), 4) for v in np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])]


def card_stats(snap: ExportSnapshot) -> CardStats:
    """Read the card's figures from the export's snapshot.

    Agreement and gold accuracy are computed over the labels the quality check uses (live, not
    exam answers, by workers not suspended), as /check reports them: agreement on work
    samples, accuracy on gold ones. The labels are read as numbers, a batch at a time, into
    per-sample vote counts and per-worker gold tallies: memory follows the samples (a few
    bytes each), not the labels.
    """
    project = snap.project
    k = max(len(project.options), 1)
    idx_of = {o.key: o.idx for o in project.options}
    truth = {sid: idx_of.get(key, -1) for sid, key in snap.gold_truths().items()}
    sums = AgreementSums(k)
    gold_right: dict[int, int] = {}
    gold_seen: dict[int, int] = {}
    held = np.zeros((0, 4), dtype=np.int64)
    for batch in snap.check_arrays():
        rows = np.concatenate([held, np.array(batch, dtype=np.int64)])
        # The last sample may go on in the next batch: its rows wait for it.
        cut = int(np.searchsorted(rows[:, 0], rows[-1, 0]))
        rows, held = rows[:cut], rows[cut:]
        _tally(rows, k, truth, sums, gold_seen, gold_right)
    _tally(held, k, truth, sums, gold_seen, gold_right)
    alpha, kappa = finite(sums.alpha()), finite(sums.kappa())
    scored = np.array([gold_right[w] / n for w, n in gold_seen.items()], dtype=np.float64)
    confidence = np.fromiter(snap.confidences(), dtype=np.float64)
    first, last = snap.collection_dates()
    states = snap.state_counts()
    return CardStats(
        samples=sum(states.values()),
        states=states,
        answers=snap.answer_counts(),
        label_counts=snap.label_counts(),
        guide_versions=snap.guide_versions(),
        guide_texts=snap.guide_texts(),
        figures=snap.label_figures(),
        per_sample=snap.labels_per_sample(),
        first=first,
        last=last,
        method=snap.last_method(),
        alpha=alpha,
        kappa=kappa,
        confidence=_spread(confidence),
        gold_accuracy=_spread(scored),
        gold_workers=len(scored),
        imports=snap.imports(),
        reports=snap.report_reasons(),
        kinds=snap.sample_kinds(),
        meta_keys=snap.meta_keys(),
    )


def _tally(
    rows: npt.NDArray[np.int64],
    k: int,
    truth: dict[int, int],
    sums: AgreementSums,
    gold_seen: dict[int, int],
    gold_right: dict[int, int],
) -> None:
    """Add whole samples' labels (sample, worker, option idx, gold) rows: work samples' votes
    to the agreement sums, gold answers to each worker's tally."""
    if not len(rows):
        return
    gold = rows[:, 3] == 1
    crowd = rows[~gold]
    if len(crowd):
        _, at = np.unique(crowd[:, 0], return_inverse=True)
        votes = np.bincount(at * k + crowd[:, 2], minlength=(int(at.max()) + 1) * k)
        sums.add(votes.reshape(-1, k))
    for sid, worker, idx, _ in rows[gold].tolist():
        gold_seen[worker] = gold_seen.get(worker, 0) + 1
        gold_right[worker] = gold_right.get(worker, 0) + (idx == truth.get(sid, -2))


def size_category(n: int) -> str:
    """The Hub's size bucket for n samples."""
    for bound, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < bound:
            return name
    return "10M<n<100M"


def jsonl_features(meta_keys: list[str], media_file: bool) -> list[dict[str, Any]]:
    """The `datasets` features of a jsonl export's rows (`storage.export.SAMPLE_JSON_SQL`)."""
    features: list[dict[str, Any]] = [
        {"name": "id", **_STRING},
        {"name": "kind", **_STRING},
        {"name": "text", **_STRING},
        {"name": "media", **_STRING},
    ]
    # A sample's kept meta columns, or null: a project without any has only nulls there
    # (`datasets` refuses an empty struct).
    if meta_keys:
        features.append({"name": "meta", "struct": [{"name": k, **_STRING} for k in meta_keys]})
    else:
        features.append({"name": "meta", "dtype": "null"})
    features += [
        {"name": "status", **_STRING},
        {"name": "excluded_reason", **_STRING},
        {"name": "answer", **_STRING},
        {"name": "decided_by", **_STRING},
        {"name": "method", **_STRING},
        {"name": "confidence", "dtype": "float64"},
        {"name": "n_labels", "dtype": "int64"},
        {"name": "labels", "list": _LABEL_FEATURES},
        {"name": "reviews", "list": _REVIEW_FEATURES},
        {"name": "reports", "list": _REPORT_FEATURES},
    ]
    if media_file:
        features.append({"name": "media_file", **_STRING})
    return features


def _header(card: CardInput) -> dict[str, Any]:
    project, stats = card.project, card.stats
    spec = project.spec
    languages = sorted(set(project.question) | set(project.guide))
    categories = sorted({_TASK_CATEGORY.get(k, "text-classification") for k in stats.kinds})
    header: dict[str, Any] = {
        "pretty_name": project.name,
        "license": spec.get("license") or "unknown",
        "language": languages,
        "task_categories": categories or ["text-classification"],
        "size_categories": [size_category(stats.samples)],
        "tags": ["crowdsourced", _TAG],
    }
    if card.fmt in ("jsonl", "csv"):
        header["configs"] = [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": card.data_file}],
            }
        ]
    if card.fmt == "jsonl":
        header["dataset_info"] = {"features": jsonl_features(stats.meta_keys, card.media)}
    return header


def _date(at: float | None) -> str:
    if at is None:
        return "—"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _figure(value: float | None) -> str:
    return "not defined (too few overlapping labels)" if value is None else f"{value:.3f}"


def _spread_line(values: list[float]) -> str:
    if not values:
        return "—"
    low, q1, median, q3, high = values
    return f"min {low:.3f} · quartiles {q1:.3f} / {median:.3f} / {q3:.3f} · max {high:.3f}"


def is_card(path: Path) -> bool:
    """Whether the file at `path` is a card this module wrote (its YAML header's tags name
    Labelgram): the mark of an earlier export folder, which the next may replace whole."""
    try:
        with path.open(encoding="utf-8") as fh:
            text = fh.read(_CARD_HEAD)
    except (OSError, UnicodeDecodeError):
        return False
    if not text.startswith("---\n") or (end := text.find("\n---\n", 3)) < 0:
        return False
    try:
        header = yaml.safe_load(text[4:end])
    except yaml.YAMLError:
        return False
    return isinstance(header, dict) and _TAG in (header.get("tags") or [])


def render_card(card: CardInput) -> str:
    """README.md: the YAML header, then the card's sections."""
    project, stats = card.project, card.stats
    spec = project.spec
    figures = stats.figures
    out = ["---", yaml.safe_dump(_header(card), sort_keys=False, allow_unicode=True).rstrip()]
    out += ["---", "", f"# {project.name}", ""]
    if spec.get("description"):
        out += [str(spec["description"]).strip(), ""]
    out += [
        f"Exported from Labelgram project `{project.slug}` as `{card.fmt}`"
        f" ({'every sample' if card.status == 'all' else 'samples whose answer is settled'}).",
        "",
        "## Question and options",
        "",
    ]
    for lang, text in project.question.items():
        out.append(f"- question ({lang}): {text}")
    out += ["", "| option | text | answers | labels |", "|---|---|---|---|"]
    answers: dict[str | None, int] = {}
    decided: dict[str | None, int] = {}
    for answer, how, n in stats.answers:
        answers[answer] = answers.get(answer, 0) + n
        decided[how] = decided.get(how, 0) + n
    for o in project.options:
        texts = " / ".join(o.texts.values())
        out.append(
            f"| `{o.key}` | {texts} | {answers.get(o.key, 0):,}"
            f" | {stats.label_counts.get(o.key, 0):,} |"
        )
    out += [
        "",
        f"Samples without an answer yet: {answers.get(None, 0):,}.",
        "",
        "## Guide",
        "",
        f"Current version: {project.guide_version}.",
        "",
    ]
    for lang, text in project.guide.items():
        out += [f"**{lang}**", "", text.strip(), ""]
    out += ["Labels per guide version (each label records the version it was made under):", ""]
    out += ["| version | since | labels | first label | last label |", "|---|---|---|---|---|"]
    labelled = {v: (n, first, last) for v, n, first, last in stats.guide_versions}
    since = {v: at for v, _, at in stats.guide_texts}
    for version in sorted(set(labelled) | set(since)):
        n, first, last = labelled.get(version, (0, None, None))
        start = _date(since[version]) if version in since else "—"
        out.append(f"| {version} | {start} | {n:,} | {_date(first)} | {_date(last)} |")
    older = [(v, g) for v, g, _ in stats.guide_texts if v != project.guide_version]
    for version, guide in older:
        out += ["", f"Version {version}:", ""]
        for lang, text in guide.items():
            out += [f"> **{lang}** " + " ".join(text.split()), ">"]
        out.pop()
    who = (
        "**Telegram user ids** (exported with --with-worker-ids: personal data, for the"
        " project's own use only; do not publish)"
        if card.worker_ids
        else "pseudonyms: a keyed hash of the Telegram id, stable within this project and"
        " unlinkable across projects; no names"
    )
    states = stats.states
    out += [
        "",
        "## Collection",
        "",
        f"- samples: {stats.samples:,} (done {states.get('done', 0):,}, needs labels"
        f" {states.get('needs_labels', 0):,}, in review {states.get('in_review', 0):,},"
        f" control {states.get('control', 0):,}, excluded {states.get('excluded', 0):,})",
        f"- collected: {_date(stats.first)} to {_date(stats.last)}",
        f"- workers who labeled: {figures['workers']:,}; members {figures['members']:,}"
        f" ({figures['reviewers']:,} reviewers)",
        f"- workers are named by {who}",
        f"- labels: {figures['labels']:,} given, {figures['retracted']:,} taken back with"
        " /undo (kept, marked `retracted`)",
        "- labels per work sample: "
        + (", ".join(f"{n} labels: {c:,}" for n, c in stats.per_sample.items()) or "—"),
        "",
        "## Agreement and quality",
        "",
        "Over the labels the quality check uses (live, not exam answers, by workers not"
        " suspended), on work samples:",
        "",
        f"- Krippendorff's alpha (nominal): {_figure(stats.alpha)}",
        f"- Fleiss' kappa: {_figure(stats.kappa)}",
        f"- gold accuracy per worker ({stats.gold_workers:,} workers with gold answers):"
        f" {_spread_line(stats.gold_accuracy)}",
        f"- consensus method: {stats.method or 'no quality check has run yet'}",
        f"- consensus confidence: {_spread_line(stats.confidence)}",
        "- how answers were decided: "
        + ", ".join(f"{how or 'undecided'} {n:,}" for how, n in sorted(decided.items(), key=str)),
        "",
        "## Reviews and exclusions",
        "",
        f"- reviewer decisions: {figures['reviews']:,}; samples waiting for a reviewer:"
        f" {states.get('in_review', 0):,}",
        f"- samples excluded after problem reports: {states.get('excluded', 0):,} (kept in the"
        " data with their labels, status `excluded` and the reports' reasons in"
        " `excluded_reason`; leave them out of training)",
        f"- suspended workers: {figures['suspended_workers']:,}; their"
        f" {figures['suspended_labels']:,} live labels are kept (`worker_suspended`) but left"
        " out of the consensus",
        f"- exam answers: {figures['exam_labels']:,} (kept, marked `exam`; only the exam"
        " scores them)",
        "",
        "## Imports",
        "",
    ]
    if not stats.imports:
        out.append("No stored import reports (samples were loaded directly).")
    for at, source, rows, added, dropped, report in stats.imports:
        out.append(
            f"- {_date(at)} `{source}`: {rows:,} rows read, {added:,} added, {dropped:,} dropped"
        )
        for rule, tally in (report.get("dropped_by_rule") or {}).items():
            examples = ", ".join(str(e) for e in (tally.get("examples") or [])[:3])
            out.append(
                f"  - {rule}: {tally.get('count', 0):,}"
                + (f" (e.g. {examples})" if examples else "")
            )
    out += ["", "## Problem reports", ""]
    if stats.reports:
        out += [f"- {reason}: {n:,}" for reason, n in stats.reports.items()]
    else:
        out.append("None.")
    out += [
        "",
        "## Known limitations",
        "",
        "- Labels come from a crowd in Telegram; each sample's answer is the consensus of a few"
        " workers, weighted by the quality check's model of each worker, unless a gold answer"
        " or a reviewer decided it.",
        "- Only the current guide text is stored; older versions are known by number and by the"
        " labels made under them.",
        "- Problem reports are listed as they were filed; the bot does not mark them resolved.",
        "- Times (`shown_at`, `answered_at`, `decided_at`, `at`) are Unix time in seconds (UTC)"
        " in the jsonl data, ISO 8601 in labels.csv; `seconds` is the time between the card"
        " being shown and the tap.",
        "",
        "## Reproducing the consensus",
        "",
        "`labelgram export "
        f"{project.slug} --format labels` writes the labels the check uses and the answers it"
        " holds fixed; then",
        "",
        "```",
        f"labelgram aggregate labels.csv --known known.csv --classes"
        f" {','.join(o.key for o in project.options)}"
        + (f" --method {stats.method.removeprefix('auto:')}" if stats.method else ""),
        "```",
        "",
    ]
    return "\n".join(out)
