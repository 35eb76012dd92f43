"""Project files (TOML or YAML): the question, label options, guide, overlap and data file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
# A project file is a few kilobytes (two 4,096-character guides are under 30 KB as UTF-8);
# the cap is checked before parsing, so no file can make the parser's work or memory large.
MAX_FILE_BYTES = 1 << 20
# The deepest real setting is four levels down (options[0].text.en); the parsers recurse per
# level and a 100,000-deep document ends in RecursionError.
MAX_DEPTH = 16
# Telegram's limits, counted as Telegram counts them (UTF-16 code units: an emoji may be 2).
TEXT_LIMIT = 4096  # a message's text
CAPTION_LIMIT = 1024  # a photo's, video's or document's caption
CALLBACK_DATA_LIMIT = 64  # bytes of a button's callback data
ANSWER_LIMIT = 200  # the notice shown when a button is pressed ("Saved: <option>")
# A card is the sample's text, a blank line and the question with its mark (bot.cards._fit,
# the "question_mark" text): a question of at most QUESTION_MAX leaves a media sample's
# caption about 500 characters for the sample's own text.
CARD_DECORATION = 16  # characters the card adds around the question; tests check the texts
QUESTION_MAX = 500
# The guide message is a heading with the project name, the question and the guide
# (handlers.labeling.guide_text, the "guide" text).
GUIDE_DECORATION = 64  # characters of that message besides the three; tests check the texts
# An option's text is its button, the "Saved: …" notice and the "✓ …" marker of an answered
# card; a phone shows about 30 characters of a button on one line.
OPTION_TEXT_MAX = 64
MAX_OPTIONS = 24  # buttons on a card besides Skip, Report and Guide
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
    if any(isinstance(v, dict | list) or v is None for v in value.values()):
        raise ValueError("each text must be plain text, not a list, a table or empty")
    texts = {str(k): str(v).strip() for k, v in value.items()}
    if not all(texts.values()):
        raise ValueError("texts must not be empty")
    return texts


LocalText = Annotated[dict[str, str], Field(description="Text per language code.")]
NAME_MAX = 100  # characters of a project's name (in each language)


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


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("must be seconds or a duration like '90s', '10m', '2h', '1d'")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


class RulesSpec(BaseModel):
    """When a worker is suspended or flagged (see quality.workers.Rules for each rule)."""

    model_config = ConfigDict(extra="forbid")

    min_gold: int = Field(default=5, ge=1)
    min_gold_accuracy: float = Field(default=0.6, ge=0.0, le=1.0)
    min_seconds: float = Field(default=2.0, ge=0.0)
    fast_share: float = Field(default=0.5, gt=0.0, le=1.0)
    max_run: int = Field(default=15, ge=2)
    agreement_gap: float = Field(default=0.25, gt=0.0, le=1.0)
    min_answers: int = Field(default=20, ge=1)
    window: int = Field(default=50, ge=1)


class QualitySpec(BaseModel):
    """The [quality] table: consensus, dynamic overlap, gold tasks, exam, worker rules."""

    model_config = ConfigDict(extra="forbid")

    method: str = "auto"  # one of quality.aggregate.METHODS
    dynamic_overlap: bool = True
    # The project's `overlap` is the minimum; default: overlap + 2.
    max_overlap: int | None = Field(default=None, ge=1, le=50)
    # stop_rule "predictive": P(the labels still to come up to max_overlap would not change
    # the answer); "posterior": the consensus model's own (overconfident) posterior; "hybrid":
    # the larger of "predictive" and the posterior, its error taken 10x, where every worker on
    # the sample has >= 5 labels (quality.overlap).
    target_confidence: float = Field(default=0.99, gt=0.0, le=1.0)
    stop_rule: str = "hybrid"  # one of quality.overlap.RULES
    gold_rate: float = Field(default=0.1, ge=0.0, le=1.0)  # share of cards that are gold
    gold_feedback: bool = True  # show the right answer and the guide after a missed gold task
    exam_size: int = Field(default=0, ge=0, le=100)  # gold tasks a new worker answers first
    exam_pass: float = Field(default=0.8, ge=0.0, le=1.0)
    exam_retries: int = Field(default=1, ge=0, le=10)
    check_every: float = Field(default=300.0, ge=10, description="Seconds or e.g. '5m'.")
    rules: RulesSpec = Field(default_factory=RulesSpec)

    _every = field_validator("check_every", mode="before")(_seconds)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        from quality.aggregate import METHODS  # pure numpy; imported late to keep config light

        if value not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}")
        return value

    @field_validator("stop_rule")
    @classmethod
    def _stop_rule(cls, value: str) -> str:
        from quality.overlap import RULES  # pure numpy; imported late to keep config light

        if value not in RULES:
            raise ValueError(f"stop_rule must be one of {', '.join(RULES)}")
        return value


class ProjectSpec(BaseModel):
    """A labeling project as written in its TOML or YAML file."""

    model_config = ConfigDict(extra="forbid")

    # One name, or a table of names per language (name = { en = "...", ko = "..." }): `name`
    # is then the English one (else the first), for the slug, the CLI and the exports, and
    # `names` holds them all, for the bot to show each reader theirs (`name_in`).
    name: str = Field(min_length=1, max_length=NAME_MAX)
    names: LocalText = Field(default_factory=dict)
    slug: str = Field(default="", pattern=r"^$|^[a-z0-9][a-z0-9_-]{1,31}$")
    question: LocalText
    options: list[OptionSpec] = Field(min_length=2, max_length=MAX_OPTIONS)
    guide: LocalText
    overlap: int = Field(default=3, ge=1, le=50)
    assignment_timeout: float = Field(
        default=600.0, ge=10, le=7 * 86400, description="Seconds, or a duration like '10m'."
    )
    # How the next card arrives after a label: "edit" turns the answered card's message into
    # the next sample (the buttons stay under the thumb; 2 Bot API calls per label), "new"
    # sends it as a new message and marks the answered one (3 calls).
    card_flow: Literal["edit", "new"] = "edit"
    # With the buttons staying under the thumb, a second tap can land on the next card before
    # the worker saw it: a tap sooner than this after its card was shown is not recorded
    # (the card stays, with a short notice). Seconds; 0 turns the guard off.
    min_read: float = Field(default=0.3, ge=0, le=10, description="Seconds, e.g. 0.3.")
    # For the dataset card of an export: the data's license (an SPDX id such as "cc-by-4.0")
    # and a few sentences on what the project is for.
    # A worker who asks to be forgotten (/forget): their labels stay under the pseudonym the
    # exports gave them ("keep"), or are deleted and their samples labeled again ("delete").
    forget_labels: Literal["keep", "delete"] = "keep"
    license: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=5000)
    # Problem reports: a sample reported by this many workers is held out of the pool until a
    # coordinator decides on it (/reports); 0 never holds one.
    report_hold: int = Field(default=2, ge=0, le=100)
    # The daily digest goes out at this local time ("HH:MM") in the project's time zone (an
    # IANA name such as "Asia/Seoul").
    digest_time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "UTC"
    # The work report (what a coordinator pays a crowd by): an amount per label kept after the
    # quality rules, in `currency` (e.g. "KRW"); none: the report shows counts only.
    pay_per_label: float | None = Field(default=None, ge=0, le=1_000_000)
    currency: str | None = Field(default=None, min_length=1, max_length=8)
    data: Path | None = None
    cleaning: CleaningSpec = Field(default_factory=CleaningSpec)
    quality: QualitySpec = Field(default_factory=QualitySpec)

    _question = field_validator("question", mode="before")(_localised)
    _guide = field_validator("guide", mode="before")(_localised)

    @model_validator(mode="before")
    @classmethod
    def _names(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("name"), dict):
            names = _localised(data["name"])
            long = sorted(lang for lang, text in names.items() if len(text) > NAME_MAX)
            if long:
                raise ValueError(
                    f"name: the {', '.join(long)} name is longer than {NAME_MAX} characters;"
                    " shorten it"
                )
            data = {**data, "name": pick_text(names, "en"), "names": names}
        return data

    def name_in(self, lang: str) -> str:
        """The project's name in `lang` where it has names per language, else its name."""
        return self.names.get(lang) or self.name  # (`name` is the English one, else the first)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Asia/Seoul' or 'UTC'"
            ) from None
        return value

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
        if self.quality.max_overlap is None:
            self.quality.max_overlap = min(self.overlap + 2, 50)
        if self.quality.max_overlap < self.overlap:
            raise ValueError(
                f"quality.max_overlap ({self.quality.max_overlap}) must be at least overlap"
                f" ({self.overlap}), the labels every sample gets"
            )
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
        if isinstance(got, str) and len(got) > 60:
            got = got[:57] + "..."
        shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
        lines.append(f"{path.name}: {loc or 'file'}: {err['msg']}{shown}")
    return "\n".join(lines)


def telegram_length(text: str) -> int:
    """The length of `text` as Telegram counts it against its limits (UTF-16 code units)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _picked(texts: dict[str, str], lang: str) -> str:
    """The language whose text `pick_text(texts, lang)` shows."""
    return lang if lang in texts else "en" if "en" in texts else next(iter(texts))


def telegram_limits(spec: ProjectSpec) -> list[str]:
    """What in `spec` would not fit in Telegram's messages and buttons: `field: why` lines.

    The bot would otherwise cut the text when it sends it, or fail every import (a card
    must keep room for the sample's text beside the question).
    """
    problems: dict[str, str] = {}
    for lang, question in spec.question.items():
        n = telegram_length(question)
        if n > QUESTION_MAX:
            problems[f"question.{lang}"] = (
                f"{n:,} characters; a question may have at most {QUESTION_MAX:,}, because"
                f" every card shows it under the sample (within a photo's {CAPTION_LIMIT:,}-"
                "character caption); move the details to the guide"
            )
    for i, option in enumerate(spec.options):
        for lang, text in option.text.items():
            n = telegram_length(text)
            if n > OPTION_TEXT_MAX:
                problems[f"options[{i}].text.{lang}"] = (
                    f"{n:,} characters; an option is a button and may have at most"
                    f" {OPTION_TEXT_MAX} (a phone shows about 30); explain the options in the"
                    " guide"
                )
    for lang in LANGUAGES:
        guide_lang, question_lang = _picked(spec.guide, lang), _picked(spec.question, lang)
        field = f"guide.{guide_lang}"
        if field in problems or f"question.{question_lang}" in problems:
            continue
        room = (
            TEXT_LIMIT
            - GUIDE_DECORATION
            - telegram_length(spec.name_in(lang))
            - telegram_length(spec.question[question_lang])
        )
        n = telegram_length(spec.guide[guide_lang])
        if n > room:
            problems[field] = (
                f"{n:,} characters; the guide is one message with the name and the question,"
                f" at most {TEXT_LIMIT:,} characters, which leaves {room:,} for this guide;"
                " shorten it or link to a longer document"
            )
    return [f"{field}: {why}" for field, why in problems.items()]


def parse_project(raw: Any, path: Path) -> ProjectSpec:
    """Validate an already-parsed project mapping; relative data paths are taken from `path`.

    Beyond the model's own checks, everything the bot sends from the file must fit
    Telegram's limits (`telegram_limits`).
    """
    if not isinstance(raw, dict):
        raise ProjectFileError(f"{path.name}: the file must hold a table of settings")
    if "names" in raw:  # `names` is filled from `name`; one way to write it
        raise ProjectFileError(
            f'{path.name}: names: give the names per language as name = {{ en = "...",'
            ' ko = "..." }'
        )
    try:
        spec = ProjectSpec.model_validate(raw)
    except ValidationError as exc:
        raise ProjectFileError(_format_errors(path, exc)) from exc
    problems = telegram_limits(spec)
    if problems:
        raise ProjectFileError("\n".join(f"{path.name}: {line}" for line in problems))
    if spec.data is not None and not spec.data.is_absolute():
        spec.data = (path.parent / spec.data).resolve()
    return spec


class _Refused(Exception):
    """Something in a YAML file this loader does not take (raised with where it is)."""

    def __init__(self, mark: yaml.Mark | None, message: str) -> None:
        where = f"line {mark.line + 1}: " if mark is not None else ""
        super().__init__(f"{where}{message}")


class _ProjectYamlLoader(yaml.SafeLoader):
    """SafeLoader without anchors and aliases, and with at most MAX_DEPTH levels of nesting.

    An alias reuses a node without copying it, so nine lines of aliases can stand for a
    billion strings (the 'billion laughs'); validation turns them into text and runs out of
    memory. A project file has no use for them.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(
                event.start_mark,
                "YAML anchors and aliases (&name, *name) are not allowed in a project file;"
                " write each value out in full",
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(
                    event.start_mark,
                    f"nested more than {MAX_DEPTH} levels deep; a project file needs at most"
                    " four (e.g. options, then an option, its text, the language)",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _parse_yaml(text: str, path: Path) -> Any:
    loader = _ProjectYamlLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        raise ProjectFileError(f"{path.name}: {exc}") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = _one_line(exc.problem or exc.context or "unreadable")
        raise ProjectFileError(
            f"{path.name}: not valid YAML{where}: {problem}; fix the file and try again"
        ) from exc
    except yaml.YAMLError as exc:
        raise ProjectFileError(f"{path.name}: not valid YAML: {_one_line(str(exc))}") from exc
    finally:
        loader.dispose()


def _read(path: Path) -> str:
    """The file's text, refusing a file too large to be a project file before reading it."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ProjectFileError(f"{path}: cannot read the project file ({exc.strerror})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise ProjectFileError(
            f"{path.name}: a project file may be at most {MAX_FILE_BYTES // 1024:,} KB; put"
            " the data in the data file (`data = ...`), not in the project file"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectFileError(f"{path}: the project file must be UTF-8 text") from exc


def load_project_file(path: Path) -> ProjectSpec:
    """Read and validate a project file (.toml, .yaml or .yml)."""
    suffix = path.suffix.lower()
    if suffix not in {".toml", ".yaml", ".yml"}:
        raise ProjectFileError(f"{path.name}: use a .toml, .yaml or .yml project file")
    text = _read(path)
    try:
        if suffix == ".toml":
            raw: Any = tomllib.loads(text)
        else:
            raw = _parse_yaml(text, path)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectFileError(f"{path.name}: not valid TOML: {_one_line(str(exc))}") from exc
    except RecursionError as exc:  # tomllib recurses per level of [ and {
        raise ProjectFileError(_too_deep(path)) from exc
    if _depth(raw) > MAX_DEPTH:  # the YAML loader stops earlier, while composing
        raise ProjectFileError(_too_deep(path))
    return parse_project(raw, path)


def _too_deep(path: Path) -> str:
    return (
        f"{path.name}: nested more than {MAX_DEPTH} levels deep; a project file needs at most"
        " four (e.g. options, then an option, its text, the language)"
    )


def _depth(value: Any) -> int:
    """How many tables and lists deep `value` goes (iterative: no recursion to run out of)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level + 1)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest
