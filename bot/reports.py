"""Import reports and refusals as chat messages, every line in the reader's language."""

from __future__ import annotations

from bot.texts import TEXTS, t
from intake.pipeline import Report

_ROLES = ("text", "media", "id", "gold", "meta")
_SHOWN_ROWS = 5  # row numbers listed per rule in a chat message (the JSON report has all)


def refusal_text(lang: str, exc: Exception) -> str:
    """Why a file was refused, in `lang` when the error names a known refusal code; any other
    error's own (English) words, introduced in `lang`."""
    code = getattr(exc, "code", None)
    key = f"refused_{code}"
    if code is None or key not in TEXTS:
        return t(lang, "refused_other", reason=str(exc))
    params: dict[str, object] = {}
    for name, value in getattr(exc, "params", {}).items():
        if name == "what":  # a column's role, e.g. "text"
            value = t(lang, f"column_{value}") if f"column_{value}" in TEXTS else value
        elif isinstance(value, list | tuple):
            value = ", ".join(map(str, value)) or t(lang, "column_none")
        params[name] = value
    return t(lang, key, **params)


def report_text(report: Report, lang: str) -> str:
    """The import report for a chat message, every line in `lang` (the CLI has `summary()`)."""
    lines = [
        t(
            lang,
            "import_head",
            source=report.source,
            format=report.format + (f", {report.encoding}" if report.encoding else ""),
            rows=report.rows,
            kept=report.kept,
            fixed=report.rows_fixed,
            dropped=report.n_dropped,
            flagged=sum(tally.count for tally in report.flagged.values()),
            seconds=f"{report.seconds:.2f}",
        )
    ]
    if report.dry_run:
        lines.append(t(lang, "import_dry_run"))
    mapping = ", ".join(
        f"{t(lang, 'import_col_' + role)}="
        + (f"“{report.columns[role]}”" if role in report.columns else t(lang, "import_col_none"))
        for role in _ROLES
        if role in report.columns or role in ("text", "gold")
    )
    lines.append(t(lang, "import_columns", mapping=mapping))
    lines += [t(lang, "import_unused_gold", column=name) for name in report.unused_answers]
    added = "import_would_add" if report.dry_run else "import_added"
    lines.append(t(lang, added, work=report.work, control=report.control))
    if report.no_work:
        lines.append(t(lang, "import_no_work"))
    for group, tallies in (
        ("dropped", report.dropped),
        ("fixed", report.fixed),
        ("flagged", report.flagged),
    ):
        for rule, tally in sorted(tallies.items(), key=lambda kv: -kv[1].count):
            name = t(lang, f"rule_{rule}") if f"rule_{rule}" in TEXTS else rule
            values = {"group": t(lang, f"import_group_{group}"), "rule": name}
            if lang == "en":  # the examples' reasons are English: shown as they are
                lines.append(t(lang, "import_rule", count=tally.count, **values))
                lines += [f"    {example}" for example in tally.examples]
                continue
            # In another language only the examples' row numbers are shown.
            rows = [e.split(":", 1)[0].removeprefix("row ") for e in tally.examples]
            rows = [r for r in rows if r.isdigit()][:_SHOWN_ROWS]
            if rows:
                lines.append(
                    t(lang, "import_rule_rows", count=tally.count, rows=", ".join(rows), **values)
                )
            else:
                lines.append(t(lang, "import_rule", count=tally.count, **values))
    return "\n".join(lines)
