"""Project files (TOML or YAML): the question, label options, guide, overlap and data file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

LANGUAGES = ("en", "ko")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class ProjectFileError(Exception):
    """A project file is unreadable or invalid; the message names the file and the field."""


def _localised(value: Any) -> dict[str, str]:
    """Accept one string for every language or a mapping of language code to text."""
    if isinstance(value, str):
        value = {lang: value for lang in LANGUAGES}
    if not isinstance(value, dict) or not value:
        raise ValueError("must be a text or a table of texts per language, e.g. {en = '...'}")
    unknown = sorted(set(value) - set(LANGUAGES))
    if unknown:
        raise ValueError(f"unknown language {unknown}; allowed: {', '.join(LANGUAGES)}")
    texts = {str(k): str(v).strip() for k, v in value.items()}
    if not all(texts.values()):
        raise ValueError("texts must not be empty")
    return texts


LocalText = Annotated[dict[str, str], Field(description="Text per language code.")]


def pick_text(texts: dict[str, str], lang: str) -> str:
    """The text in `lang`, falling back to English, then to any language given."""
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()))


class OptionSpec(BaseModel):
    """One label option: a short stable id and its button text per language."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,15}$")
    text: LocalText

    _text = field_validator("text", mode="before")(_localised)


class CleaningSpec(BaseModel):
    """The `[cleaning]` table: every rule is on by default and can be turned off."""

    model_config = ConfigDict(extra="forbid")

    nfc: bool = True
    strip_invisible: bool = True
    collapse_whitespace: bool = True
    drop_empty: bool = True
    drop_duplicates: bool = True
    near_duplicates: Literal["off", "flag", "drop"] = "flag"
    near_threshold: float = Field(default=0.9, ge=0.5, le=1.0)
    long_text: Literal["drop", "truncate", "split"] = "drop"


class ProjectSpec(BaseModel):
    """A labeling project as written in its TOML or YAML file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    slug: str = Field(default="", pattern=r"^$|^[a-z0-9][a-z0-9_-]{1,31}$")
    question: LocalText
    options: list[OptionSpec] = Field(min_length=2, max_length=24)
    guide: LocalText
    overlap: int = Field(default=3, ge=1, le=50)
    assignment_timeout: float = Field(
        default=600.0, ge=10, le=7 * 86400, description="Seconds, or a duration like '10m'."
    )
    data: Path | None = None
    cleaning: CleaningSpec = Field(default_factory=CleaningSpec)

    _question = field_validator("question", mode="before")(_localised)
    _guide = field_validator("guide", mode="before")(_localised)

    @field_validator("assignment_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _DURATION.match(value)
            if not match:
                raise ValueError("must be seconds or a duration like '90s', '10m', '2h', '1d'")
            return float(match.group(1)) * _UNITS[match.group(2)]
        return value

    @model_validator(mode="after")
    def _check(self) -> ProjectSpec:
        ids = [o.id for o in self.options]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"options: duplicate option ids {dupes}; each id must be unique")
        if not self.slug:
            self.slug = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")[:32] or "project"
            if len(self.slug) < 2:
                self.slug = f"p-{self.slug}"
        return self


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        got = err.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
        lines.append(f"{path.name}: {loc or 'file'}: {err['msg']}{shown}")
    return "\n".join(lines)


def parse_project(raw: Any, path: Path) -> ProjectSpec:
    """Validate an already-parsed project mapping; relative data paths are taken from `path`."""
    if not isinstance(raw, dict):
        raise ProjectFileError(f"{path.name}: the file must hold a table of settings")
    try:
        spec = ProjectSpec.model_validate(raw)
    except ValidationError as exc:
        raise ProjectFileError(_format_errors(path, exc)) from exc
    if spec.data is not None and not spec.data.is_absolute():
        spec.data = (path.parent / spec.data).resolve()
    return spec


def load_project_file(path: Path) -> ProjectSpec:
    """Read and validate a project file (.toml, .yaml or .yml)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectFileError(f"{path}: cannot read the project file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ProjectFileError(f"{path}: the project file must be UTF-8 text") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            raw: Any = tomllib.loads(text)
        elif suffix in {".yaml", ".yml"}:
            raw = yaml.safe_load(text)
        else:
            raise ProjectFileError(f"{path.name}: use a .toml, .yaml or .yml project file")
    except tomllib.TOMLDecodeError as exc:
        raise ProjectFileError(f"{path.name}: not valid TOML: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ProjectFileError(f"{path.name}: not valid YAML: {exc}") from exc
    return parse_project(raw, path)
