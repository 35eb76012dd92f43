"""Typed rows that the repository takes and returns."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

SAMPLE_KINDS = ("text", "photo", "audio", "voice", "video", "document")
MAX_EXT_ID = 200  # characters in a sample's id from the source file


class Role(StrEnum):
    """What a member may do in a project (admins come from settings, not from here)."""

    WORKER = "worker"
    COORDINATOR = "coordinator"
    REVIEWER = "reviewer"


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class Option(_Row):
    """A label option of a project."""

    id: int
    project_id: int
    idx: int
    key: str
    texts: dict[str, str]


class Project(_Row):
    """A labeling project."""

    id: int
    slug: str
    name: str
    question: dict[str, str]
    guide: dict[str, str]
    guide_version: int
    overlap: int
    assignment_timeout: float
    created_at: float
    names: dict[str, str] = Field(default_factory=dict)  # per language, where the file gives them

    def name_in(self, lang: str) -> str:
        """The name to show a reader of `lang`: theirs where the project has names per
        language (falling back to English, then any), else its one name."""
        return self.names.get(lang) or self.name  # (`name` is the English one, else the first)


class SampleIn(_Row):
    """A sample to import: text and/or a media path or URL, with an optional known answer."""

    ext_id: str = Field(min_length=1, max_length=MAX_EXT_ID)
    kind: str = "text"
    text: str | None = None
    media: str | None = None
    truth: str | None = None
    content_key: str | None = None  # digest of the cleaned content, for duplicate checks
    meta: dict[str, str] | None = None


class NewSample(Protocol):
    """What an import session stores per sample (SampleIn, or the pipeline's own items)."""

    @property
    def ext_id(self) -> str: ...  # noqa: D102
    @property
    def kind(self) -> str: ...  # noqa: D102
    @property
    def text(self) -> str | None: ...  # noqa: D102
    @property
    def media(self) -> str | None: ...  # noqa: D102
    @property
    def truth(self) -> str | None: ...  # noqa: D102
    @property
    def content_key(self) -> str | None: ...  # noqa: D102
    @property
    def meta(self) -> Mapping[str, str] | None: ...  # noqa: D102


class ImportSummary(_Row):
    """A stored import report, newest first in /status."""

    id: int
    project_id: int
    at: float
    source: str
    rows_read: int
    added: int
    dropped: int
    seconds: float
    report: dict[str, object]


class Sample(_Row):
    """A stored sample with its labeling progress."""

    id: int
    project_id: int
    ext_id: str
    kind: str
    text: str | None
    media: str | None
    file_id: str | None
    truth: str | None
    target: int
    n_labels: int
    n_open: int


class Worker(_Row):
    """A Telegram user known to the bot."""

    id: int
    first_name: str
    username: str | None
    language: str
    language_chosen: bool
    current_project_id: int | None


class Card(_Row):
    """Everything needed to show one assignment to its worker."""

    assignment_id: int
    project: Project
    sample: Sample
    options: tuple[Option, ...]
    expires_at: float
    message_id: int | None = None  # the card's message in the worker's chat, once delivered


class LabelStatus(StrEnum):
    """What happened to a label tap."""

    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # this assignment already has this worker's label
    EXPIRED = "expired"
    CLOSED = "closed"  # skipped, reported or released earlier
    NOT_YOURS = "not_yours"  # unknown assignment or another worker's
    BAD_OPTION = "bad_option"
    TOO_FAST = "too_fast"  # sooner after the card was shown than anyone reads it: not stored


class LabelOutcome(_Row):
    """The result of a label tap: its status and, when recorded or duplicate, the option."""

    status: LabelStatus
    project_id: int | None = None
    option: Option | None = None


class UndoStatus(StrEnum):
    """What happened to /undo."""

    UNDONE = "undone"
    NOTHING = "nothing"  # no label to take back
    TOO_LATE = "too_late"  # the sample already has all its labels
    STOPPED = "stopped"  # the project is paused or closed: no card reopens
    BARRED = "barred"  # suspended, failed the exam, or no longer a member: nothing to label


class UndoOutcome(_Row):
    """The result of /undo: on success, the card to show again."""

    status: UndoStatus
    card: Card | None = None
    superseded: tuple[int, ...] = ()  # card messages that no longer stand for an open card


class WorkerStats(_Row):
    """A worker's own counts, for /me."""

    labels: int
    labels_today: int
    skipped: int
    reported: int
    projects: int


class SampleCounts(_Row):
    """How many of a project's samples are in each state (`storage.samples.SAMPLE_STATES`,
    the one definition /status and /check share)."""

    done: int
    open: int
    review: int
    control: int

    @property
    def work(self) -> int:
        """Samples to label (control samples are not work)."""
        return self.done + self.open + self.review


class ProjectStatus(_Row):
    """A project's progress, for /status."""

    project: Project
    samples: int  # every sample, control ones too (`states` tells them apart)
    samples_done: int  # work samples done
    states: SampleCounts
    labels: int
    open_assignments: int
    members: int
    active_workers: int  # labeled in the last 24 hours
    reports: int


class LabelRow(_Row):
    """One live label for aggregation: worker, sample and option key."""

    worker_id: int
    sample_id: int
    option_key: str
