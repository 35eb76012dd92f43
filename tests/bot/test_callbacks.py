from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.callbacks import (
    MAX_BYTES,
    CallbackData,
    CallbackError,
    GuideTap,
    LabelTap,
    LangTap,
    Noop,
    ReportBack,
    ReportReason,
    ReportTap,
    ReviewTap,
    SkipTap,
    StartTap,
)

ALL = [
    LabelTap(123456789, 7),
    SkipTap(1),
    ReportTap(0),
    ReportReason(99, "unclear"),
    ReportBack(5),
    StartTap(3),
    GuideTap(3),
    LangTap("ko"),
    ReviewTap(42, 3),
    Noop(),
]


@pytest.mark.parametrize("data", ALL, ids=lambda d: type(d).__name__)
def test_round_trip_and_routing(data: CallbackData) -> None:
    packed = data.pack()
    assert packed.startswith("v1:")
    assert len(packed.encode()) <= MAX_BYTES
    assert CallbackData.unpack(packed) == data
    assert type(data).unpack(packed) == data


def test_largest_ids_fit_in_64_bytes() -> None:
    assert len(LabelTap(10**18 - 1, 99).pack()) <= MAX_BYTES


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "v1",
        "v1:l",
        "v1:l:1",
        "v1:l:1:2:3",
        "v2:l:1:2",
        "v1:zz:1",
        "v1:l:-1:0",
        "v1:l:01:0",
        "v1:l:1:+2",
        "v1:l:1e3:0",
        "v1:l:\uff11:0",  # full-width digit one
        "v1:l: 1:0",
        "v1:rr:1:BROKEN",
        "v1:rr:1:drop table",
        "v1:lang:fr",
        "v1:n:extra",
        "v1:n:",
        "v1:n\ud800",
        "v1:l:1:0\ud800",  # a lone surrogate: str.encode() raises UnicodeEncodeError on it
        "\udcff",
        "v1:l:1:\u0660",  # Arabic-Indic digit zero: str.isdigit() says yes
        "v1:l:1:0\n",
        "v1:l:" + "9" * 19 + ":0",
        "v1:l:1:0" + "x" * 70,
    ],
)
def test_anything_else_is_refused(data: str | None) -> None:
    with pytest.raises(CallbackError):
        CallbackData.unpack(data)


def test_kind_specific_unpack_refuses_other_kinds() -> None:
    with pytest.raises(CallbackError, match="expected a SkipTap"):
        SkipTap.unpack(LabelTap(1, 0).pack())


def test_patterns_do_not_overlap() -> None:
    import re

    for data in ALL:
        matching = [type(d) for d in ALL if re.match(type(d).pattern(), data.pack())]
        assert matching == [type(data)]


def test_pack_refuses_oversized() -> None:
    with pytest.raises(CallbackError, match="over 64 bytes"):
        LabelTap(10**60, 1).pack()


def test_pack_refuses_what_unpack_would_refuse() -> None:
    for bad in (LabelTap(-1, 0), ReportReason(1, "evil"), LangTap("fr")):
        with pytest.raises(CallbackError, match="would refuse"):
            bad.pack()


# Payloads a phone client could send: anything at all, and near misses of real ones.
_VALID = [d.pack() for d in ALL]
_ANY_CHAR = st.characters(codec=None, categories=None)  # lone surrogates included
_near_valid = st.builds(
    lambda base, at, insert, cut: base[:at] + insert + base[at + cut :],
    st.sampled_from(_VALID),
    st.integers(0, 20),
    st.text(_ANY_CHAR | st.sampled_from(list(":0123456789vln")), max_size=4),
    st.integers(0, 3),
)
_huge = st.builds(
    lambda s, n: s * n, st.text(_ANY_CHAR, min_size=1, max_size=8), st.integers(1, 200_000)
)
_PAYLOADS = (
    st.text(_ANY_CHAR, max_size=80)
    | st.text(st.sampled_from(list("v1:lnrsgvbo0123456789-+ \ud800")), max_size=70)
    | _near_valid
    | _huge
    | st.sampled_from(_VALID).map(lambda v: v + "\ud800")
)


@settings(max_examples=1500, deadline=None)
@given(_PAYLOADS)
@example("v1:l:1:0\ud800")
@example("v1:n:" + "\ud800" * 30)
def test_fuzzed_payloads_decode_exactly_or_raise_callback_error(data: str) -> None:
    """Anything a client sends either is a button the bot makes, or is a CallbackError."""
    try:
        decoded = CallbackData.unpack(data)
    except CallbackError:
        return
    assert decoded.pack() == data  # accepted only if the bot itself would send exactly this
