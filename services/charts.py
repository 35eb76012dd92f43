"""The digest's chart: one PNG with labels per day, alpha and gold accuracy per day, and the
option confusion matrix.

matplotlib is imported here, inside `draw`, and nowhere at module level: the bot imports this
module at start-up, and matplotlib (with numpy's and its fonts' set-up) would cost it ~40 MB
and a second of start-up for a picture drawn once a day. `draw` uses `Figure` and the Agg
canvas directly, never pyplot: no global figure registry, so it is safe in a thread, and
nothing is left behind after the drawing.

The words on the chart come from the caller (in the reader's language). Hangul needs a font
that has it: an installed one (e.g. Noto Sans CJK), else NanumGothic from the
`koreanize-matplotlib` package (a dependency for its fonts only: its module, which would
import pyplot and change matplotlib's global settings, is never imported). Only without
either does the chart fall back to the caller's `fallback` words (English) instead of
drawing empty boxes.
"""

from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.digests import DigestFigures

# Fonts with Hangul, in order of preference, if installed (e.g. apt install fonts-noto-cjk).
_CJK_FONTS = (
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "NanumGothic",
    "NanumBarunGothic",
    "Malgun Gothic",
    "AppleGothic",
    "UnDotum",
    "Baekmuk Gulim",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ChartWords:
    """The words a chart shows, in one language."""

    labels_title: str
    quality_title: str
    alpha: str
    gold: str
    confusion_title: str
    consensus: str
    given: str
    options: list[str]  # option display texts, by option idx


def _has_hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e" for ch in text)


def cjk_font() -> str | None:
    """A font with Hangul: an installed one, else the bundled NanumGothic; None if neither."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    found = next((n for n in _CJK_FONTS if n in names), None)
    if found is None and (bundled := _bundled_font()) is not None:
        font_manager.fontManager.addfont(str(bundled))
        found = font_manager.FontProperties(fname=str(bundled)).get_name()
    return found


def _bundled_font() -> Path | None:
    """NanumGothic.ttf of the koreanize-matplotlib package, found without importing it."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "fonts" / "NanumGothic.ttf"
        if path.is_file():
            return path
    return None


def _words(words: ChartWords, fallback: ChartWords) -> tuple[ChartWords, list[str]]:
    """The words to draw, and the font families to draw them with."""
    texts = [
        words.labels_title,
        words.quality_title,
        words.alpha,
        words.gold,
        words.confusion_title,
        words.consensus,
        words.given,
        *words.options,
    ]
    if not any(_has_hangul(x) for x in texts):
        return words, ["DejaVu Sans"]
    font = cjk_font()
    if font is None:
        return fallback, ["DejaVu Sans"]
    return words, [font, "DejaVu Sans"]


def draw(
    figures: DigestFigures, days: list[str], words: ChartWords, fallback: ChartWords
) -> bytes:
    """The chart as PNG bytes (blocking, CPU-bound: call it off the event loop)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    chosen, families = _words(words, fallback)
    with matplotlib.rc_context({"font.family": families, "font.size": 9}):
        fig = Figure(figsize=(10, 7.5), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.3])
        short = [d[5:] for d in days]  # MM-DD

        x = list(range(len(days)))  # positions, so both plots show every day
        bars = fig.add_subplot(grid[0, 0])
        bars.bar(x, figures.labels_per_day, color="#4C72B0")
        bars.set_xticks(x, short)
        bars.set_title(chosen.labels_title)
        for i, n in enumerate(figures.labels_per_day):
            bars.annotate(f"{n:,}", (i, n), ha="center", va="bottom", fontsize=8)
        bars.margins(y=0.15)

        lines = fig.add_subplot(grid[0, 1])
        alpha = [float("nan") if a is None else a for a in figures.alpha_per_day]
        gold = [r / a if a else float("nan") for a, r in figures.gold_per_day]
        lines.plot(x, alpha, marker="o", label=chosen.alpha, color="#DD8452")
        lines.plot(x, gold, marker="s", label=chosen.gold, color="#55A868")
        lines.set_xticks(x, short)
        lines.set_xlim(-0.5, len(x) - 0.5)
        lines.set_ylim(min(0.0, *[v for v in alpha if v == v] or [0.0]) - 0.05, 1.05)
        lines.set_title(chosen.quality_title)
        lines.legend(loc="lower left")
        lines.grid(alpha=0.3)

        _matrix(fig.add_subplot(grid[1, :]), figures.confusion, chosen)
        out = io.BytesIO()
        fig.savefig(out, format="png")
    return out.getvalue()


def _matrix(ax: Any, confusion: list[list[int]], words: ChartWords) -> None:
    k = len(confusion)
    shares = [[n / total if (total := sum(row)) else 0.0 for n in row] for row in confusion]
    ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    names = [words.options[i] if i < len(words.options) else str(i) for i in range(k)]
    ax.set_xticks(range(k), names, rotation=30 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel(words.given)
    ax.set_ylabel(words.consensus)
    ax.set_title(words.confusion_title)
    for i in range(k):
        for j in range(k):
            colour = "white" if shares[i][j] > 0.6 else "black"
            ax.text(j, i, f"{confusion[i][j]:,}", ha="center", va="center", color=colour)
