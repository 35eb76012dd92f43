from __future__ import annotations

import random
import re
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.cleaning import (
    ELLIPSIS,
    Cleaned,
    CleaningOptions,
    NearDuplicates,
    clean_text,
    content_key,
    lsh_bands,
    split_text,
)

NOTHING = CleaningOptions(
    nfc=False, strip_invisible=False, collapse_whitespace=False, drop_empty=False
)
PROPERTY = settings(max_examples=200, deadline=None)


def only(
    *, nfc: bool = False, strip_invisible: bool = False, collapse_whitespace: bool = False
) -> CleaningOptions:
    """Options with every per-text rule off except the ones named."""
    return CleaningOptions(
        nfc=nfc, strip_invisible=strip_invisible, collapse_whitespace=collapse_whitespace
    )


# --- nfc ---------------------------------------------------------------------------------------


def test_nfc_composes_korean_jamo_and_accents() -> None:
    assert clean_text("\u1100\u1161") == Cleaned("가", ("nfc",), (), None)
    assert clean_text("\u1112\u1161\u11ab\u1100\u1173\u11af").text == "한글"
    assert clean_text("Cafe\u0301").text == "Café"


def test_nfc_off_keeps_decomposed_text() -> None:
    options = CleaningOptions(nfc=False)
    assert clean_text("\u1100\u1161", options) == Cleaned("\u1100\u1161", (), (), None)


# --- invisible ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("zero\u200bwidth", "zerowidth"),
        ("\ufeffbom at start", "bom at start"),
        ("soft\u00adhyphen", "softhyphen"),
        ("word\u2060joiner", "wordjoiner"),
        ("\u202eevil\u202c override", "evil override"),
        ("\u2067isolate\u2069", "isolate"),
        ("bell\x07 nul\x00 del\x7f c1\x9b", "bell nul del c1"),
        ("hangul\u3164filler", "hangulfiller"),
        ("stray joiner\u200d", "stray joiner"),
        ("\u200cleading non-joiner", "leading non-joiner"),
        ("joiner\u200d before space", "joiner before space"),
    ],
)
def test_invisible_characters_are_removed(raw: str, clean: str) -> None:
    assert clean_text(raw, only(strip_invisible=True)) == Cleaned(clean, ("invisible",), (), None)


def test_invisible_keeps_newline_tab_and_meaningful_joiners() -> None:
    kept = [
        "line one\nline two\tafter a tab",
        "👨\u200d👩\u200d👧 family emoji",  # ZWJ sequence
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian word with ZWNJ
        "\u05e9\u05dc\u05d5\u05dd\u200f!",  # RLM placing punctuation in Hebrew
        "❤\ufe0f flag 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    ]
    for text in kept:
        assert clean_text(text, only(strip_invisible=True)) == Cleaned(text, (), (), None)


def test_line_break_controls_become_newlines() -> None:
    result = clean_text("a\r\nb\rc\u2028d\x0ce", only(strip_invisible=True))
    assert result == Cleaned("a\nb\nc\nd\ne", ("invisible",), (), None)


def test_invisible_off_keeps_them() -> None:
    text = "zero\u200bwidth\x07 \ufeff"
    assert clean_text(text, CleaningOptions(strip_invisible=False)).text == text.rstrip(" ")
    assert clean_text(text, NOTHING) == Cleaned(text, (), (), None)


def test_removing_an_invisible_character_then_composes() -> None:
    assert clean_text("e\u200b\u0301") == Cleaned("é", ("invisible", "nfc"), (), None)


# --- whitespace --------------------------------------------------------------------------------


def test_whitespace_collapses_unicode_spaces_and_blank_lines() -> None:
    raw = "\n  first\u00a0\u00a0line\t\there   \n\n\n\n\u3000second\u3000\u3000line \n \n  "
    result = clean_text(raw, only(collapse_whitespace=True))
    assert result == Cleaned("first line here\n\nsecond line", ("whitespace",), (), None)


def test_every_unicode_space_separator_collapses() -> None:
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Zs"]
    assert clean_text("a" + "".join(spaces) + "b").text == "a b"


def test_whitespace_trims_each_line() -> None:
    assert clean_text("one  \ntwo\u2003\n   three").text == "one\ntwo\nthree"


def test_whitespace_off_keeps_layout() -> None:
    raw = "  a\u00a0\u00a0b  \n\n\n\nc\t"
    assert clean_text(raw, CleaningOptions(collapse_whitespace=False)) == Cleaned(
        raw, (), (), None
    )


# --- empty -------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   ", "\n\t\n", "\u3000\u00a0", "\u200b\ufeff", "\x00"])
def test_empty_text_is_dropped(raw: str) -> None:
    result = clean_text(raw)
    assert result.text is None
    assert result.drop == "empty"


def test_empty_is_judged_by_what_is_visible_whatever_rules_run() -> None:
    assert clean_text(" \u200b ", NOTHING).drop is None
    assert clean_text(" \u200b ", CleaningOptions(strip_invisible=False)).drop == "empty"
    assert clean_text(None) == Cleaned(None, (), (), "empty")


def test_empty_off_keeps_empty_text() -> None:
    options = CleaningOptions(drop_empty=False)
    assert clean_text("  \u200b ", options) == Cleaned("", ("invisible", "whitespace"), (), None)
    assert clean_text(None, options) == Cleaned(None, (), (), None)


# --- long text ---------------------------------------------------------------------------------

LONG = "The first sentence is here. " * 10 + "Then a last one."


def test_long_text_is_dropped_by_default() -> None:
    assert clean_text(LONG, CleaningOptions(max_chars=100)) == Cleaned(None, (), (), "too_long")
    assert clean_text(LONG.strip(), CleaningOptions(max_chars=len(LONG.strip()))).drop is None


def test_long_text_truncates_at_a_word_with_an_ellipsis() -> None:
    result = clean_text(LONG, CleaningOptions(long_text="truncate", max_chars=50))
    assert result.text == "The first sentence is here. The first sentence is" + ELLIPSIS
    assert len(result.text) == 50
    assert result.fixes == ("truncated",)
    result = clean_text(LONG, CleaningOptions(long_text="truncate", max_chars=52))
    assert result.text == "The first sentence is here. The first sentence is" + ELLIPSIS
    assert result.drop is None


def test_truncating_one_long_word_cuts_inside_it() -> None:
    result = clean_text("x" * 30, CleaningOptions(long_text="truncate", max_chars=10))
    assert result.text == "x" * 9 + ELLIPSIS
    assert clean_text("xy", CleaningOptions(long_text="truncate", max_chars=1)).text == ELLIPSIS


def test_long_text_splits_into_parts() -> None:
    result = clean_text(LONG, CleaningOptions(long_text="split", max_chars=60))
    assert result.text == LONG.strip()
    assert result.parts[0] == "The first sentence is here. The first sentence is here."
    assert all(0 < len(part) <= 60 for part in result.parts)
    assert " ".join(result.parts).split() == LONG.split()
    assert clean_text("short", CleaningOptions(long_text="split", max_chars=60)).parts == ()


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        CleaningOptions(max_chars=0)
    with pytest.raises(ValueError, match="near_threshold"):
        CleaningOptions(near_threshold=1.5)


# --- split_text --------------------------------------------------------------------------------


def test_split_prefers_paragraphs_then_lines_then_sentences() -> None:
    text = "Para one.\n\nPara two, line one.\nLine two. Still line two."
    assert split_text(text, 40) == [
        "Para one.",
        "Para two, line one.",
        "Line two. Still line two.",
    ]
    assert split_text(text, 20) == [
        "Para one.",
        "Para two, line one.",
        "Line two.",
        "Still line two.",
    ]
    assert split_text(text, 12) == [
        "Para one.",
        "Para two,",
        "line one.",
        "Line two.",
        "Still line",
        "two.",
    ]
    assert split_text(text, 200) == [text]


def test_split_cuts_only_a_word_longer_than_the_limit() -> None:
    assert split_text("ab " + "x" * 12 + " cd", 5) == ["ab", "xxxxx", "xxxxx", "xx cd"]
    assert split_text("  ", 5) == []


def test_split_after_cjk_full_stops() -> None:
    assert split_text("今日は晴れ。明日は雨。", 7) == ["今日は晴れ。", "明日は雨。"]


# --- content_key -------------------------------------------------------------------------------


def test_content_key_matches_texts_that_clean_the_same() -> None:
    key = content_key("가 나", None)
    assert re.fullmatch("[0-9a-f]{32}", key)
    assert content_key("\u1100\u1161\u00a0\u00a0나\u200b ", None) == key
    assert content_key(clean_text("  가   나 ").text, None) == key
    assert content_key("가나", None) != key
    assert content_key("가 나", "photo.jpg") != key
    assert content_key("가 나", "photo.jpg") != content_key("가 나", "other.jpg")
    assert content_key(None, "photo.jpg") == content_key(" \u200b", "photo.jpg")
    assert content_key(None, "photo.jpg") != content_key("photo.jpg", None)


def test_content_key_is_stable_across_runs() -> None:
    # Keys are stored in the database: a change here makes old samples look new.
    assert content_key("hello", None) == "edfa7baf0c3bca1645ea5b75d5b407d5"


# --- near-duplicates ---------------------------------------------------------------------------

BASE = (
    "The river runs past the old mill every spring, carrying snow melt from the hills down "
    "to the valley where farmers wait for it to water their fields before the long dry "
    "summer arrives again this very year."
)


def shingles(text: str, k: int = 5) -> set[str]:
    return {text[i : i + k] for i in range(len(text) - k + 1)}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def random_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 8))) for _ in range(500)
    ]
    return [" ".join(rng.choices(words, k=30)) for _ in range(n)]


def test_near_duplicate_with_one_word_changed_is_found() -> None:
    changed = BASE.replace("long", "hot")
    assert len(BASE) >= 200
    assert jaccard(BASE, changed) > 0.92
    near = NearDuplicates()
    assert near.check_and_add("a", BASE) is None
    assert near.check_and_add("b", changed) == "a"
    assert len(near) == 2


def test_near_duplicates_are_found_whatever_the_seed_well_above_threshold() -> None:
    changed = BASE.replace("river", "creek")
    assert 0.88 < jaccard(BASE, changed) < 0.92
    for seed in range(1, 21):
        near = NearDuplicates(0.8, seed=seed)
        near.check_and_add("a", BASE)
        assert near.check_and_add("b", changed) == "a"


def test_unrelated_texts_are_not_flagged() -> None:
    near = NearDuplicates()
    flagged = [near.check_and_add(str(i), text) for i, text in enumerate(random_texts(2000))]
    assert flagged == [None] * 2000
    assert len(near) == 2000


def test_threshold_decides() -> None:
    changed = BASE.replace("river", "creek").replace("spring", "autumn").replace("dry", "wet")
    assert 0.7 < jaccard(BASE, changed) < 0.8
    for seed in range(1, 21):
        strict, loose = NearDuplicates(0.9, seed=seed), NearDuplicates(0.5, seed=seed)
        strict.check_and_add("a", BASE)
        loose.check_and_add("a", BASE)
        assert strict.check_and_add("b", changed) is None
        assert loose.check_and_add("b", changed) == "a"


def test_near_duplicate_found_among_many_after_the_index_grows() -> None:
    texts = random_texts(5000)
    near = NearDuplicates()
    for i, text in enumerate(texts):
        near.check_and_add(str(i), text)
    assert near.check_and_add("again", texts[123] + ".") == "123"
    assert near.check_and_add("again2", texts[4321][1:]) == "4321"


def test_earliest_and_most_similar_match_is_returned() -> None:
    near = NearDuplicates()
    near.check_and_add("first", BASE)
    near.check_and_add("second", BASE)
    assert near.check_and_add("third", BASE) == "first"


def test_short_texts_are_one_shingle() -> None:
    near = NearDuplicates()
    assert near.check_and_add("a", "ok") is None
    assert near.check_and_add("b", "no") is None
    assert near.check_and_add("c", "ok") == "a"
    assert near.check_and_add("d", "") is None
    assert near.check_and_add("e", "") == "d"


def test_bands_are_chosen_for_the_threshold() -> None:
    assert lsh_bands(0.9, 64) == (5, 12)
    for threshold in (0.5, 0.7, 0.95):
        bands, rows = lsh_bands(threshold, 64)
        assert bands * rows <= 64
    assert lsh_bands(0.5, 64)[0] > lsh_bands(0.95, 64)[0]  # lower threshold, more bands
    with pytest.raises(ValueError, match="threshold"):
        NearDuplicates(0.0)


# --- properties --------------------------------------------------------------------------------

options_st = st.builds(
    CleaningOptions,
    nfc=st.booleans(),
    strip_invisible=st.booleans(),
    collapse_whitespace=st.booleans(),
    drop_empty=st.booleans(),
    long_text=st.sampled_from(["drop", "truncate", "split"]),
    max_chars=st.integers(1, 40),
)
# Every category (surrogates cannot be encoded and are left out), weighted towards the
# characters the rules care about.
tricky = st.sampled_from(
    [
        *"\u200b\u200c\u200d\ufeff\u00ad\u202e\u2066\u3164\x00\x07\r\n\t \u00a0\u3000\u2028",
        *("\u1100", "\u1161", "\u11a8", "e", "\u0301", "가", ".", "。", "👨"),
    ]
)
any_text = st.text(st.one_of(st.characters(exclude_categories=["Cs"]), tricky))


def test_a_long_blank_text_kept_is_cut_not_split_into_nothing() -> None:
    # Found by the property below: "\r\r" split at 1 character gave no parts at all.
    options = CleaningOptions(
        nfc=False,
        strip_invisible=False,
        collapse_whitespace=False,
        drop_empty=False,
        long_text="split",
        max_chars=1,
    )
    result = clean_text("\r\r", options)
    assert (result.text, result.parts, result.drop) == ("\r", (), None)
    assert "truncated" in result.fixes


@PROPERTY
@given(any_text, options_st)
def test_cleaning_never_raises_and_respects_max_chars(text: str, options: CleaningOptions) -> None:
    result = clean_text(text, options)
    assert (result.text is None) == (result.drop is not None)
    if result.text is not None and len(result.text) > options.max_chars:
        assert options.long_text == "split"
        assert result.parts
        assert all(0 < len(part) <= options.max_chars for part in result.parts)
    content_key(text, None)


@PROPERTY
@given(any_text, options_st)
def test_cleaning_is_idempotent(text: str, options: CleaningOptions) -> None:
    first = clean_text(text, options)
    if first.text is None:
        return
    again = clean_text(first.text, options)
    assert again == Cleaned(first.text, (), first.parts, None)
    assert content_key(first.text, None) == content_key(text, None) or "truncated" in first.fixes


@PROPERTY
@given(any_text)
def test_default_cleaning_is_idempotent(text: str) -> None:
    first = clean_text(text)
    if first.text is not None:
        assert clean_text(first.text) == Cleaned(first.text, (), (), None)


safe_word = st.text(
    st.one_of(
        st.characters(categories=["Lu", "Ll", "Nd"], max_codepoint=0x24F),
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),
    ),
    min_size=1,
    max_size=12,
)


@PROPERTY
@given(st.lists(safe_word, min_size=1, max_size=30).map(" ".join))
def test_clean_text_is_returned_unchanged(text: str) -> None:
    assert clean_text(text) == Cleaned(text, (), (), None)
    assert content_key(text, None) == content_key(clean_text(text).text, None)


def _assert_pieces_tile(text: str, pieces: list[str], max_chars: int) -> None:
    position = 0
    for piece in pieces:
        assert 0 < len(piece) <= max_chars
        assert piece == piece.strip()
        found = text.find(piece, position)
        assert found >= 0
        assert text[position:found].strip() == ""
        position = found + len(piece)
    assert text[position:].strip() == ""


@PROPERTY
@given(any_text, st.integers(1, 30))
def test_split_pieces_tile_the_text(text: str, max_chars: int) -> None:
    pieces = split_text(text, max_chars)
    _assert_pieces_tile(text, pieces, max_chars)
    assert "".join("".join(pieces).split()) == "".join(text.split())


sentence_text = st.lists(
    st.one_of(
        safe_word,
        st.sampled_from([".", "!", "?", "\n", "\n\n", "  ", "\t", "\u3000", "word.", "end!"]),
    ),
    max_size=60,
).map(" ".join)


@PROPERTY
@given(sentence_text, st.integers(12, 60))
def test_split_keeps_words_in_order(text: str, max_chars: int) -> None:
    pieces = split_text(text, max_chars)
    _assert_pieces_tile(text, pieces, max_chars)
    assert " ".join(pieces).split() == text.split()
    if len(text.strip()) <= max_chars:
        assert pieces == ([text.strip()] if text.strip() else [])


@settings(max_examples=300, deadline=None)
@given(st.text() | st.text(alphabet=st.sampled_from("ab가 \u00a0\u200b\n\u0301.")))
def test_the_fast_path_only_skips_texts_no_rule_would_change(text: str) -> None:
    from intake.cleaning import _collapse_whitespace, _nfc, _strip_invisible, is_canonical

    if is_canonical(text):
        assert _strip_invisible(text) == text
        assert _nfc(text) == text
        assert _collapse_whitespace(text) == text
        assert clean_text(text).fixes == ()


def test_fast_path_is_taken_for_plain_text_and_not_for_odd_spaces() -> None:
    from intake.cleaning import is_canonical

    assert is_canonical("Plain text, 한국어 문장도 괜찮아요.")
    for odd in ("two  spaces", " lead", "trail ", "nb\u00a0sp", "zw\u200bsp", "a\nb", "e\u0301"):
        assert not is_canonical(odd), odd
