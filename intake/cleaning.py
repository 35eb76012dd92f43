"""Text-cleaning rules applied to every imported sample, and duplicate detection.

Every rule is on by default, each can be switched off in `CleaningOptions`, and `clean_text`
reports which rules changed a text (`Cleaned.fixes`) or dropped it (`Cleaned.drop`), so an
import report can say exactly what happened to each row.

Per-text rules, applied in this order (the order makes cleaning idempotent):

1. ``invisible``: characters nobody can see and that only break matching or display.
   - Line-break controls become ``\\n``: CR LF, lone CR, VT, FF, NEL (U+0085), LINE and
     PARAGRAPH SEPARATOR (U+2028, U+2029). They separate words, so deleting them would glue
     two lines together. ``\\n`` and ``\\t`` stay: they are layout, not garbage (the
     whitespace rule tidies them).
   - Every other control character (category Cc: U+0000-U+001F, U+007F-U+009F) is removed.
   - Removed format characters: SOFT HYPHEN U+00AD (a hyphenation hint; removing it never
     changes a word), MONGOLIAN VOWEL SEPARATOR U+180E, ZERO WIDTH SPACE U+200B, WORD
     JOINER U+2060, invisible operators U+2061-U+2064, BOM / ZERO WIDTH NO-BREAK SPACE
     U+FEFF, the bidi embeddings and overrides U+202A-U+202E and isolates U+2066-U+2069
     (they have a scope that can leak into the chat around the message, and are the
     "Trojan source" spoofing trick), deprecated format characters U+206A-U+206F,
     interlinear annotation U+FFF9-U+FFFB, and HANGUL FILLER U+3164 / HALFWIDTH HANGUL
     FILLER U+FFA0 (letters that render as nothing: the usual way to send a "blank" message).
   - ZERO WIDTH NON-JOINER U+200C and ZERO WIDTH JOINER U+200D are removed only where they
     cannot join anything (at the start or end of the text, or next to whitespace or another
     invisible character). Between two visible characters they carry meaning: ZWNJ spells
     Persian and Indic words correctly, ZWJ builds emoji such as the family or the rainbow
     flag; removing them would change what the labeler sees.
   - Kept on purpose: LRM/RLM/ALM (U+200E, U+200F, U+061C; scope-less marks that place
     punctuation correctly in right-to-left text), variation selectors and emoji tag
     characters (emoji presentation, subdivision flags), COMBINING GRAPHEME JOINER U+034F and
     the jamo fillers U+115F/U+1160 (parts of normalised character sequences).
2. ``nfc``: Unicode NFC, so decomposed text (macOS file names, old Korean input methods
   writing conjoining jamo, ``'\\u1100\\u1161'``) becomes the composed form (``'가'``) that
   looks identical and must compare equal. It runs after the invisible rule because removing
   a character can bring a base letter next to its combining mark.
3. ``whitespace``: tab and every Unicode space separator (category Zs: U+0020, NBSP U+00A0,
   U+1680, U+2000-U+200A, U+202F, U+205F, IDEOGRAPHIC SPACE U+3000) count as spaces; a run
   of them becomes one ASCII space, each line is trimmed, at most one blank line is kept in a
   row, and the whole text is trimmed.
4. Length, after cleaning, by ``long_text``: ``"drop"`` drops texts longer than ``max_chars``
   (``drop="too_long"``); ``"truncate"`` cuts to at most ``max_chars`` characters *including*
   a trailing ``"…"``, at a word boundary when one lies in the second half (fix
   ``"truncated"``); ``"split"`` keeps the full text and adds the pieces from `split_text`
   in ``Cleaned.parts``, each at most ``max_chars`` (the text itself is unchanged, so
   ``"split"`` is not a fix).
5. ``empty``: a text with nothing visible left (only whitespace and invisible characters,
   whichever rules are on) is dropped with ``drop="empty"``.

Fixes are reported even when the text is then dropped, so a report can show that, say, a
row of zero-width spaces became empty. ``drop`` is about the text only: a sample that also
has media may keep its media and lose the caption; that is the caller's decision.

Across samples: ``drop_duplicates`` compares `content_key` digests (within a file and
against keys already stored) and ``near_duplicates`` runs `NearDuplicates`; both are carried
in `CleaningOptions` for the import pipeline, which knows the other samples.

Near-duplicates and the compact key set live in `intake.dedup` (method, accuracy, memory).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from typing import Literal

# Re-exported: they used to live here.
from intake.dedup import NearDuplicates as NearDuplicates
from intake.dedup import lsh_bands as lsh_bands

ELLIPSIS = "…"

_LINE_BREAKS = re.compile("\r\n|[\r\v\f\x85\u2028\u2029]")
# Removed wherever they occur (see the module docstring for why each is in or out).
_FORMAT = (
    "\u00ad\u180e\u200b\u2060\u2061\u2062\u2063\u2064\ufeff"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    "\u206a\u206b\u206c\u206d\u206e\u206f\ufff9\ufffa\ufffb\u3164\uffa0"
)
_JOINERS = "\u200c\u200d"
_CONTROLS = "".join(chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\t\n")
_CONTROL_OR_FORMAT = re.compile(f"[{re.escape(_CONTROLS + _FORMAT)}]")
# A joiner is kept only between two characters that are neither whitespace, controls,
# removed format characters nor joiners: the characters listed here cannot join.
_CANNOT_JOIN = re.escape(_CONTROLS + _FORMAT + _JOINERS + "\t\n") + r"\s"
_STRAY_JOINER = re.compile(f"(?<![^{_CANNOT_JOIN}])[{_JOINERS}]|[{_JOINERS}](?![^{_CANNOT_JOIN}])")
_VISIBLE = re.compile(f"[^{_CANNOT_JOIN}]")

# Tab and every space separator (category Zs); listed, not computed, to keep import fast.
_SPACES = "\t\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
_SPACE_RUN = re.compile(f"[{_SPACES}]+")
_LINE_EDGE = re.compile(" ?\n ?")
# Most texts need no fixing: one search proves it, instead of running every rule's passes.
# Anything the three rules could change (controls, format characters, joiners, line breaks,
# any space but a single U+0020 between two other characters) sends a text the long way.
_ODD_SPACES = "\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
_MAY_NEED_FIXING = re.compile(
    f"[{re.escape(_CONTROLS + _FORMAT + _JOINERS)}\n\r\x0b\x0c\x85\u2028\u2029{_ODD_SPACES}]"
    "|  |^ | $"
)
_BLANK_LINES = re.compile("\n{3,}")

# split_text boundaries, strongest first. A match's cut starts after its non-space part.
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*")
_LINE = re.compile(r"\n\s*")
# Sentence ends: . ! ? … ‽, Arabic ؟, Devanagari ।, then closing quotes or brackets, then
# whitespace; after an ideographic full stop or fullwidth ! ? no whitespace is needed.
_SENTENCE = re.compile(
    "[.!?\u2026\u203d\u061f\u0964][\"'\u201d\u2019\u00bb)\\]]*\\s+"
    "|[\u3002\uff01\uff1f][\u300d\u300f\uff09\u201d\u2019]*\\s*"
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CleaningOptions:
    """Which cleaning rules run; every rule is on by default."""

    nfc: bool = True
    strip_invisible: bool = True
    collapse_whitespace: bool = True
    drop_empty: bool = True
    drop_duplicates: bool = True
    near_duplicates: Literal["off", "flag", "drop"] = "flag"
    near_threshold: float = 0.9
    long_text: Literal["drop", "truncate", "split"] = "drop"
    max_chars: int = 4096

    def __post_init__(self) -> None:
        """Refuse settings no rule can follow."""
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be at least 1, not {self.max_chars}")
        if not 0.0 < self.near_threshold <= 1.0:
            raise ValueError(f"near_threshold must be in (0, 1], not {self.near_threshold}")
        if self.near_duplicates not in ("off", "flag", "drop"):
            raise ValueError(f"near_duplicates must be off, flag or drop: {self.near_duplicates}")
        if self.long_text not in ("drop", "truncate", "split"):
            raise ValueError(f"long_text must be drop, truncate or split: {self.long_text}")


@dataclass(frozen=True)
class Cleaned:
    """What cleaning made of one text, and why."""

    text: str | None  # None when dropped (or when there was no text and drop_empty is off)
    fixes: tuple[str, ...]  # rules that changed the text: invisible, nfc, whitespace, truncated
    parts: tuple[str, ...]  # long_text="split" and the text was too long: its pieces
    drop: str | None  # None, "empty" or "too_long"


DEFAULT_OPTIONS = CleaningOptions()


def _strip_invisible(text: str) -> str:
    text = _LINE_BREAKS.sub("\n", text)
    text = _STRAY_JOINER.sub("", text)
    return _CONTROL_OR_FORMAT.sub("", text)


def _collapse_whitespace(text: str) -> str:
    text = _SPACE_RUN.sub(" ", text)
    text = _LINE_EDGE.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip(" \n")


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _truncate(text: str, max_chars: int) -> str:
    keep = max_chars - len(ELLIPSIS)
    head = text[:keep]
    if not text[keep].isspace():
        # Cut before the word that does not fit, unless that throws away over half.
        space = max((head.rfind(c) for c in (" ", "\n")), default=-1)
        if space >= keep // 2:
            head = head[:space]
    return head.rstrip() + ELLIPSIS


def clean_text(text: str | None, options: CleaningOptions = DEFAULT_OPTIONS) -> Cleaned:
    """Apply the per-text cleaning rules and say which ones changed or dropped the text."""
    if text is None:
        return Cleaned(None, (), (), "empty" if options.drop_empty else None)
    fixes: list[str] = []
    if is_canonical(text):
        options = _NO_TEXT_RULES[options]
    steps = (
        (options.strip_invisible, "invisible", _strip_invisible),
        (options.nfc, "nfc", _nfc),
        (options.collapse_whitespace, "whitespace", _collapse_whitespace),
    )
    for enabled, name, rule in steps:
        if enabled:
            fixed = rule(text)
            if fixed != text:
                fixes.append(name)
                text = fixed
    if options.drop_empty and _VISIBLE.search(text) is None:
        return Cleaned(None, tuple(fixes), (), "empty")
    parts: tuple[str, ...] = ()
    if len(text) > options.max_chars:
        if options.long_text == "drop":
            return Cleaned(None, tuple(fixes), (), "too_long")
        if options.long_text == "truncate":
            text = _truncate(text, options.max_chars)
            fixes.append("truncated")
        else:
            parts = tuple(split_text(text, options.max_chars))
            if not parts:  # only whitespace, kept (drop_empty is off): nothing to split
                text = text[: options.max_chars]
                fixes.append("truncated")
    return Cleaned(text, tuple(fixes), parts, None)


def is_canonical(text: str) -> bool:
    """Whether the invisible, NFC and whitespace rules would all leave `text` as it is."""
    return _MAY_NEED_FIXING.search(text) is None and unicodedata.is_normalized("NFC", text)


class _WithoutTextRules(dict[CleaningOptions, CleaningOptions]):
    """options -> the same options with the three text rules off (for canonical texts)."""

    def __missing__(self, options: CleaningOptions) -> CleaningOptions:
        from dataclasses import replace

        plain = replace(options, nfc=False, strip_invisible=False, collapse_whitespace=False)
        self[options] = plain
        return plain


_NO_TEXT_RULES = _WithoutTextRules()


def content_key(text: str | None, media: str | None) -> str:
    """A stable 32-hex-digit digest of a sample's content, for exact-duplicate checks.

    The text is canonicalised with the invisible, NFC and whitespace rules whatever the
    import's options, so texts that look the same get the same key, and cleaning a text
    first does not change its key. Empty text counts as no text. Changing this function
    changes the keys already stored: bump the version in the digest's personalisation.
    """
    canon = None
    if text is not None:
        if not is_canonical(text):
            text = _collapse_whitespace(_nfc(_strip_invisible(text)))
        canon = text or None
    digest = hashlib.blake2b(digest_size=16, person=b"labelgram-ck-v1")
    # Canonical text holds no NUL, so the separator is unambiguous.
    digest.update(("N" if canon is None else "T" + canon).encode("utf-8", "surrogatepass"))
    digest.update(b"\x00")
    digest.update(("N" if not media else "M" + media).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def split_text(text: str, max_chars: int) -> list[str]:
    """Split a text into pieces of at most max_chars at the strongest boundary that fits.

    Boundaries, strongest first: a blank line, a line break, the end of a sentence, any
    whitespace; a word longer than max_chars is cut where it must. Each piece is a non-empty
    slice of the text without surrounding whitespace, and only whitespace lies between
    pieces (nothing at a cut inside a word or after a CJK full stop), so joining the pieces
    with single spaces or newlines gives back the text's words in order.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")
    text = text.strip()
    if not text:
        return []
    cuts: list[tuple[list[int], list[int]]] = []
    for pattern in (_PARAGRAPH, _LINE, _SENTENCE, _SPACE):
        starts: list[int] = []
        ends: list[int] = []
        for m in pattern.finditer(text):
            starts.append(m.start() + len(m.group().rstrip()))
            ends.append(m.end())
        cuts.append((starts, ends))
    pieces: list[str] = []
    pos = 0
    while len(text) - pos > max_chars:
        limit = pos + max_chars
        for starts, ends in cuts:
            i = bisect_right(starts, limit) - 1
            if i >= 0 and starts[i] > pos:
                pieces.append(text[pos : starts[i]].rstrip())
                pos = ends[i]
                break
        else:
            pieces.append(text[pos:limit])
            pos = limit
    pieces.append(text[pos:])
    return pieces
