"""Buttons of the problem-report inbox: a decision on a reported sample, the fix's choice
about its labels, and cancelling a question the bot asked. Registered with the codec of
`bot.callbacks` (same version, same checks: nothing free-form, ids only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import CallbackData
from bot.texts import t

REPORT_ACTIONS = ("fix", "exclude", "dismiss", "guide", "back")
FIX_MODES = ("keep", "clear")


@dataclass(frozen=True)
class ReportAct(CallbackData, kind="ra"):
    """A coordinator's button on a /reports card."""

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"action": REPORT_ACTIONS}

    sample_id: int
    action: str


@dataclass(frozen=True)
class FixMode(CallbackData, kind="rf"):
    """Fix a reported sample's text, keeping or clearing its labels so far."""

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"mode": FIX_MODES}

    sample_id: int
    mode: str


@dataclass(frozen=True)
class ReplyCancel(CallbackData, kind="rc"):
    """Cancel the question the bot asked (the corrected text of sample `ref`, the new guide
    of project `ref`): only that one, so a Cancel under an older question leaves a newer one
    open."""

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"question": ("fix", "guide")}

    question: str
    ref: int


def report_card_keyboard(sample_id: int, lang: str) -> InlineKeyboardMarkup:
    """Fix text / Exclude / Dismiss / Guide under a /reports card."""

    def button(key: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            t(lang, key), callback_data=ReportAct(sample_id, action).pack()
        )

    return InlineKeyboardMarkup(
        [
            [button("btn_fix", "fix"), button("btn_exclude", "exclude")],
            [button("btn_dismiss", "dismiss"), button("btn_edit_guide", "guide")],
        ]
    )


def fix_mode_keyboard(sample_id: int, lang: str) -> InlineKeyboardMarkup:
    """Keep or clear the labels so far; or back to the card's buttons."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, f"btn_{mode}_labels"), callback_data=FixMode(sample_id, mode).pack()
                )
            ]
            for mode in FIX_MODES
        ]
        + [
            [
                InlineKeyboardButton(
                    t(lang, "btn_back"), callback_data=ReportAct(sample_id, "back").pack()
                )
            ]
        ]
    )


def cancel_keyboard(lang: str, kind: str, ref: int) -> InlineKeyboardMarkup:
    """One Cancel button under the question of `kind` about `ref`."""
    data = ReplyCancel(kind, ref).pack()
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(lang, "btn_cancel_reply"), callback_data=data)]]
    )
