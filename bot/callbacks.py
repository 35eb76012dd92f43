"""Callback data: short, stable, versioned and never trusted.

Every button carries `v1:<kind>:<field>:...` with stable database ids only, so a button
pressed days later (or after a restart) still means the same thing. `unpack` accepts exactly
what `pack` produces; anything else a client sends raises CallbackError, and nothing else:
a client can send any string, lone surrogates and all.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from config.project import CALLBACK_DATA_LIMIT

VERSION = "v1"
MAX_BYTES = CALLBACK_DATA_LIMIT  # Telegram's limit for callback_data
_INT = re.compile(r"0|[1-9][0-9]{0,17}")
_REGISTRY: dict[str, type[CallbackData]] = {}


class CallbackError(ValueError):
    """Callback data that this bot did not produce (malformed, forged or from an old version)."""


@dataclass(frozen=True)
class CallbackData:
    """Base of all button payloads; subclasses are frozen dataclasses of int/str fields."""

    kind: ClassVar[str]
    # Allowed values of str fields; every str field must be listed (nothing free-form).
    choices: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init_subclass__(cls, kind: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind:
            cls.kind = kind
            _REGISTRY[kind] = cls

    @classmethod
    def pattern(cls) -> str:
        """The regex that routes this kind of button to its handler."""
        return f"^{VERSION}:{re.escape(cls.kind)}(:|$)"

    def pack(self) -> str:
        """Encode for a button, checking Telegram's 64-byte limit."""
        values = [str(getattr(self, f.name)) for f in dataclasses.fields(self)]
        data = ":".join([VERSION, self.kind, *values])
        if len(data.encode()) > MAX_BYTES:
            raise CallbackError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        # A button whose press would be refused (a negative id, a value not in `choices`)
        # is a bug here, not a forged press later.
        try:
            decoded = type(self).unpack(data)
        except CallbackError as exc:
            raise CallbackError(f"{self!r} makes a button this bot would refuse: {exc}") from exc
        if decoded != self:
            raise CallbackError(f"{data!r} would decode to {decoded!r}, not {self!r}")
        return data

    @classmethod
    def unpack(cls, data: str | None) -> CallbackData:
        """Decode one client-sent payload of this kind (or of any kind, on the base class)."""
        # Every payload the bot makes is ASCII, so a length in characters is one in bytes; a
        # lone surrogate (which `str.encode` refuses with UnicodeEncodeError) is non-ASCII.
        if not data or len(data) > MAX_BYTES or not data.isascii():
            raise CallbackError("empty, oversized or non-ASCII callback data")
        parts = data.split(":")
        if len(parts) < 2 or parts[0] != VERSION or parts[1] not in _REGISTRY:
            raise CallbackError(f"unknown callback data {data!r}")
        target = _REGISTRY[parts[1]]
        if cls is not CallbackData and target is not cls:
            raise CallbackError(f"expected a {cls.__name__} button, got {data!r}")
        fields = dataclasses.fields(target)
        raw = parts[2:]
        if len(raw) != len(fields):
            raise CallbackError(f"malformed callback data {data!r}")
        values: list[Any] = []
        for field, value in zip(fields, raw, strict=True):
            if field.type in (int, "int"):
                if not _INT.fullmatch(value):
                    raise CallbackError(f"malformed callback data {data!r}")
                values.append(int(value))
            elif value in target.choices.get(field.name, ()):
                values.append(value)
            else:
                raise CallbackError(f"malformed callback data {data!r}")
        return target(*values)


@dataclass(frozen=True)
class LabelTap(CallbackData, kind="l"):
    """A label option pressed on a sample card."""

    assignment_id: int
    option: int


@dataclass(frozen=True)
class ReviewTap(CallbackData, kind="v"):
    """A reviewer's decision on a disputed sample."""

    sample_id: int
    option: int


@dataclass(frozen=True)
class SkipTap(CallbackData, kind="s"):
    """Skip pressed on a sample card."""

    assignment_id: int


@dataclass(frozen=True)
class ReportTap(CallbackData, kind="r"):
    """Report-problem pressed: ask for the reason."""

    assignment_id: int


REPORT_REASONS = ("broken", "unclear", "other")


@dataclass(frozen=True)
class ReportReason(CallbackData, kind="rr"):
    """The reason chosen for a problem report."""

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"reason": REPORT_REASONS}

    assignment_id: int
    reason: str


@dataclass(frozen=True)
class ReportBack(CallbackData, kind="rb"):
    """Back from the report reasons to the label buttons."""

    assignment_id: int


@dataclass(frozen=True)
class StartTap(CallbackData, kind="go"):
    """Start labeling in a project."""

    project_id: int


@dataclass(frozen=True)
class GuideTap(CallbackData, kind="g"):
    """Show a project's labeling guide."""

    project_id: int


@dataclass(frozen=True)
class LangTap(CallbackData, kind="lang"):
    """Switch the interface language."""

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"lang": ("en", "ko")}

    lang: str


@dataclass(frozen=True)
class Noop(CallbackData, kind="n"):
    """A button that only shows state (e.g. the chosen label on an answered card)."""


@dataclass(frozen=True)
class LeaveTap(CallbackData, kind="lv"):
    """Leave a project, or not, after /leave asked."""

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"answer": ("yes", "no")}

    project_id: int
    answer: str


@dataclass(frozen=True)
class ForgetTap(CallbackData, kind="fg"):
    """Be forgotten, or not, after /forget asked."""

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"answer": ("yes", "no")}

    answer: str
