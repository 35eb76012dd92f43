"""Texts of menus per role, /help and /start per role, hints, the bot's description.

Kept beside `bot.texts` (which merges them into TEXTS); the same rules hold: every text in
English and Korean, the Korean written as a Korean product team writes it (해요체, see
../shared/KOREAN.md), the same {placeholders} in both.
"""

from __future__ import annotations

MENU_TEXTS: dict[str, dict[str, str]] = {}
