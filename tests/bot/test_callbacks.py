from __future__ import annotations

import pytest

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
