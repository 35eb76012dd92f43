"""Label Studio's task JSON from an exported sample, and a labeling config that fits it.

Written against Label Studio's importer, not only its format page
(label_studio/tasks/validation.py `TaskValidator.validate`, label_studio/tasks/serializers.py
`BaseTaskSerializerBulk._insert_valid_completed_by` and `add_annotations`):
- a task is {"data": {...}, "annotations": [...], "meta": {...}}; every annotation needs a
  `result` list;
- `completed_by` must name a user of the Label Studio instance (an email or id) or the import
  fails; left out, the annotation goes to the user who imports. So it is left out and the
  worker's pseudonym goes in the annotation's `meta`, and also in the task's `meta` under the
  annotation's id: `add_annotations` keeps only task, result, ground_truth, was_cancelled,
  lead_time, completed_by and `id` (as import_id) of an annotation, while a task's meta is kept;
- `ground_truth` defaults to True when missing, so every annotation says it: True only for a
  gold sample's known answer;
- reviews are an Enterprise feature: a reviewer's decision is an annotation of its own, marked
  as such in its meta;
- the data keys the config reads ($text, $media) must be in every task's data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from xml.sax.saxutils import quoteattr

from storage.export import ProjectRow

FROM_NAME = "label"  # the <Choices> tag
TO_NAME = "text"  # the object tag the choices are about
_MEDIA_TAGS = {"photo": "Image", "audio": "Audio", "voice": "Audio", "video": "Video"}


def _iso(at: float) -> str:
    """Unix seconds as Label Studio writes times: ISO 8601, UTC."""
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds")


def _result(option: str, rid: str) -> list[dict[str, Any]]:
    return [
        {
            "id": rid,
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "choices",
            "value": {"choices": [option]},
        }
    ]


def ls_task(sample: dict[str, Any], first_id: int) -> dict[str, Any]:
    """One Label Studio task from one exported sample (`storage.export.SAMPLE_JSON_SQL`).

    Annotations are numbered from `first_id` (Label Studio keeps the number as the
    annotation's import_id). Retracted labels (taken back with /undo) are not annotations:
    the worker withdrew them; the task's meta counts them.
    """
    gold = sample["decided_by"] == "gold"
    annotations: list[dict[str, Any]] = []
    provenance: list[dict[str, Any]] = []

    def add(option: str, ground_truth: bool, meta: dict[str, Any], **extra: Any) -> None:
        number = first_id + len(annotations)
        annotations.append(
            {
                "id": number,
                "result": _result(option, f"a{number}"),
                "ground_truth": ground_truth,
                "was_cancelled": False,
                "meta": meta,
                **extra,
            }
        )
        provenance.append({"annotation": number, **meta})

    retracted = 0
    for label in sample["labels"]:
        if label["retracted"]:
            retracted += 1
            continue
        add(
            label["option"],
            False,
            {
                "kind": "label",
                "worker": label["worker"],
                "guide_version": label["guide_version"],
                "worker_suspended": label["worker_suspended"],
                "exam": label["exam"],
            },
            lead_time=label["seconds"],
            created_at=_iso(label["answered_at"]),
        )
    for review in sample["reviews"]:
        add(
            review["option"],
            False,
            {"kind": "review", "reviewer": review["reviewer"]},
            lead_time=None,  # how long the reviewer looked is not recorded
            created_at=_iso(review["decided_at"]),
        )
    if gold and sample["answer"] is not None:
        add(sample["answer"], True, {"kind": "gold"}, lead_time=None)
    data = {
        "text": sample["text"] or "",
        "media": sample.get("media_file") or sample["media"] or "",
        "id": sample["id"],
        "kind": sample["kind"],
        **{f"meta_{k}": v for k, v in (sample["meta"] or {}).items()},
    }
    return {
        "data": data,
        "annotations": annotations,
        "meta": {
            "labelgram": {
                "status": sample["status"],
                "answer": sample["answer"],
                "decided_by": sample["decided_by"],
                "method": sample["method"],
                "confidence": sample["confidence"],
                "retracted_labels": retracted,
                "reports": sample["reports"],
                "annotations": provenance,
            }
        },
    }


def label_config(project: ProjectRow, kinds: list[str]) -> str:
    """A Label Studio labeling config for the tasks: the text, the media (if any), the
    question and one choice per option (its id as the value, its text as the hint)."""
    question = project.question.get("en") or next(iter(project.question.values()), "")
    lines = ["<View>", f'  <Text name="{TO_NAME}" value="$text"/>']
    for tag in dict.fromkeys(_MEDIA_TAGS[k] for k in kinds if k in _MEDIA_TAGS):
        lines.append(f'  <{tag} name="{tag.lower()}" value="$media"/>')
    lines.append(f"  <Header value={quoteattr(question)}/>")
    lines.append(f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single">')
    lines += [
        f"    <Choice value={quoteattr(o.key)} hint={quoteattr(o.text)}/>" for o in project.options
    ]
    lines += ["  </Choices>", "</View>", ""]
    return "\n".join(lines)
