"""Generated sentences in the reader's language: why a worker was suspended or flagged, which
options the crowd confuses. The pure code hands over figures (`quality.workers.Reason`,
`quality.agreement.ConfusedPair`); the words are chosen here."""

from __future__ import annotations

from collections.abc import Sequence

from bot.texts import t
from config.project import pick_text
from quality.agreement import ConfusedPair
from quality.workers import parse_reason
from storage.models import Option
from storage.roster import COORDINATOR_REASON


def _pct(share: float) -> str:
    return f"{share:.0%}"


def reason_text(lang: str, reason: str) -> str:
    """A stored reason (`Finding.reason()`, the gold rule) in `lang`; a reason the bot did not
    write itself (an older wording, a coordinator's note) is shown as it is."""
    if reason == COORDINATOR_REASON:  # a coordinator's Suspend on the roster card
        return t(lang, "why_coordinator")
    found = parse_reason(reason)
    if found is None:
        return t(lang, "why_other", reason=reason)
    if found.rule == "same_option_run":
        return t(
            lang,
            "why_same_option_run",
            value=int(found.value),
            threshold=int(found.threshold),
        )
    values: dict[str, object] = {
        "value": _pct(found.value),
        "threshold": _pct(found.threshold),
        "evidence": found.evidence,
    }
    return t(lang, f"why_{found.rule}", **values)


def option_names(options: Sequence[Option], lang: str) -> list[str]:
    """The options' button texts in `lang`, by option index."""
    ordered = sorted(options, key=lambda o: o.idx)
    return [pick_text(o.texts, lang) for o in ordered]


def pair_text(lang: str, pair: ConfusedPair, names: Sequence[str]) -> str:
    """One confused pair with the options' button texts, e.g. "😊 긍정 ↔ 😐 중립: …"."""

    def name(index: int) -> str:
        if index < len(names):
            return names[index]
        return t(lang, "option_unnamed", index=index + 1)

    return t(
        lang,
        "confused_pair",
        a=name(pair.a),
        b=name(pair.b),
        share=_pct(pair.share),
        count=pair.count,
        disputed=pair.disputed,
    )


def pairs_text(lang: str, pairs: Sequence[ConfusedPair], options: Sequence[Option]) -> str:
    """The confused pairs as /check lists them: one "• …" line each."""
    names = option_names(options, lang)
    return "".join(f"• {pair_text(lang, p, names)}\n" for p in pairs)
