"""Inline keyboards: cards, report reasons, language choice and state markers."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import (
    REPORT_REASONS,
    GuideTap,
    LabelTap,
    LangTap,
    Noop,
    ReportBack,
    ReportReason,
    ReportTap,
    SkipTap,
    StartTap,
)
from bot.texts import t
from config.project import pick_text
from storage.models import Card

_SHORT = 14  # option texts up to this many characters share a row, two by two


def card_keyboard(card: Card, lang: str) -> InlineKeyboardMarkup:
    """Label options, then Skip / Report, then the guide."""
    aid = card.assignment_id
    buttons = [
        InlineKeyboardButton(pick_text(o.texts, lang), callback_data=LabelTap(aid, o.idx).pack())
        for o in card.options
    ]
    per_row = 2 if all(len(b.text) <= _SHORT for b in buttons) else 1
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    rows.append(
        [
            InlineKeyboardButton(t(lang, "btn_skip"), callback_data=SkipTap(aid).pack()),
            InlineKeyboardButton(t(lang, "btn_report"), callback_data=ReportTap(aid).pack()),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "btn_guide"), callback_data=GuideTap(card.project.id).pack()
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def report_keyboard(assignment_id: int, lang: str) -> InlineKeyboardMarkup:
    """Reasons for a problem report, and a way back."""
    rows = [
        [
            InlineKeyboardButton(
                t(lang, f"reason_{r}"), callback_data=ReportReason(assignment_id, r).pack()
            )
        ]
        for r in REPORT_REASONS
    ]
    rows.append(
        [InlineKeyboardButton(t(lang, "btn_back"), callback_data=ReportBack(assignment_id).pack())]
    )
    return InlineKeyboardMarkup(rows)


def marker(text: str) -> InlineKeyboardMarkup:
    """A single inert button that shows what happened to a card."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=Noop().pack())]])


def start_keyboard(project_id: int, lang: str) -> InlineKeyboardMarkup:
    """The Start button under the guide."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(lang, "btn_start"), callback_data=StartTap(project_id).pack())]]
    )


def language_keyboard() -> InlineKeyboardMarkup:
    """English / Korean."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("English", callback_data=LangTap("en").pack()),
                InlineKeyboardButton("한국어", callback_data=LangTap("ko").pack()),
            ]
        ]
    )
