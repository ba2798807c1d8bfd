"""Content hashes, word-boundary truncation and the card preview."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from storage.previews import (
    CARD_PREVIEW_CHARS,
    PREVIEW_MAX_CHARS,
    card_preview,
    content_hash,
    normalize_text,
    size_kb,
    stored_preview,
    truncate_at_word,
)

# Words: letters, digits, punctuation, symbols (emoji are So) and combining marks.
word_chars = st.characters(categories=["L", "N", "P", "S", "M"])
words = st.text(word_chars, min_size=1, max_size=12)
ascii_words = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)
separators = st.sampled_from([" ", "  ", "\n", "\t", " \n ", "\n\n"])


@st.composite
def texts(draw, word=words, min_words=1):
    """Words joined by runs of ordinary whitespace, no leading whitespace."""
    items = draw(st.lists(word, min_size=min_words, max_size=40))
    out = items[0]
    for item in items[1:]:
        out += draw(separators) + item
    return out


# ---- content hash ------------------------------------------------------------------


def test_content_hash_is_sha256_hex_of_the_normalized_text():
    import hashlib

    assert content_hash(" Hello \n\n world ") == hashlib.sha256(b"Hello world").hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash("x"))


@given(items=st.lists(words, min_size=1, max_size=30), data=st.data())
def test_content_hash_ignores_whitespace_layout(items, data):
    plain = " ".join(items)
    seps = [data.draw(separators) for _ in items]
    noisy = data.draw(separators) + "".join(w + s for w, s in zip(items, seps, strict=True))
    assert content_hash(noisy) == content_hash(plain)


@given(text=texts())
def test_content_hash_ignores_unicode_normal_form(text):
    nfd = unicodedata.normalize("NFD", text)
    nfc = unicodedata.normalize("NFC", text)
    assert content_hash(nfd) == content_hash(nfc) == content_hash(text)


def test_content_hash_nfc_nfd_example():
    composed = "Caf\u00e9 na\u00efve"
    decomposed = "Cafe\u0301 nai\u0308ve"
    assert composed != decomposed
    assert content_hash(composed) == content_hash(decomposed)


@given(items=st.lists(ascii_words, min_size=1, max_size=30), index=st.integers(0), new=ascii_words)
def test_content_hash_changes_when_a_word_changes(items, index, new):
    index %= len(items)
    assume(items[index] != new)
    changed = [*items]
    changed[index] = new
    assert content_hash(" ".join(items)) != content_hash(" ".join(changed))


def test_normalize_text_collapses_and_strips():
    assert normalize_text("\n  a\t\tb \u00a0 c  ") == "a b c"


# ---- truncate_at_word ---------------------------------------------------------------


def _expected_cut(text: str, limit: int) -> str:
    """The specification: the longest prefix of whole words that fits, else a hard cut."""
    if len(text) <= limit:
        return text
    ends = [i for i in range(1, limit + 1) if text[i].isspace() and text[:i].strip()]
    if not ends:
        return text[:limit]
    return text[: max(ends)].rstrip()


@given(text=texts(), limit=st.integers(1, 400))
def test_truncate_at_word_properties(text, limit):
    cut = truncate_at_word(text, limit)
    assert len(cut) <= limit
    assert text.startswith(cut)
    cut.encode("utf-8")  # never a lone surrogate
    if len(text) <= limit:
        assert cut == text
        return
    assert cut == _expected_cut(text, limit)
    boundary_exists = any(text[i].isspace() for i in range(1, limit + 1))
    if boundary_exists:
        # ends on a whole word: the next character of the original is whitespace
        assert cut and not cut[-1].isspace()
        assert text[len(cut)].isspace()


@given(
    text=texts(word=st.text(st.sampled_from("日本語漢字文章🙂👍🏽🇺🇸e\u0301a\u0308"), min_size=1)),
    limit=st.integers(1, 200),
)
def test_truncate_at_word_multibyte(text, limit):
    cut = truncate_at_word(text, limit)
    assert len(cut) <= limit
    assert text.startswith(cut)
    assert cut == _expected_cut(text, limit)
    assert cut.encode("utf-8").decode("utf-8") == cut


def test_truncate_cjk_without_spaces_is_cut_hard_at_the_limit():
    text = "日本語の文章です。" * 500
    cut = truncate_at_word(text, 3000)
    assert cut == text[:3000]
    assert len(cut) == 3000


def test_truncate_emoji_text_counts_characters_not_bytes():
    text = "🙂" * 100
    assert truncate_at_word(text, 10) == "🙂" * 10
    text = ("🙂🙂🙂 " * 10).strip()
    assert truncate_at_word(text, 10) == "🙂🙂🙂 🙂🙂🙂"


def test_truncate_keeps_combining_marks_with_their_word():
    text = "cafe\u0301 cafe\u0301 cafe\u0301"  # NFD: each word is 5 code points
    assert truncate_at_word(text, 12) == "cafe\u0301 cafe\u0301"
    assert truncate_at_word(text, 10) == "cafe\u0301"


def test_truncate_when_the_limit_falls_on_a_space():
    assert truncate_at_word("alpha beta gamma", 10) == "alpha beta"
    assert truncate_at_word("alpha beta gamma", 11) == "alpha beta"
    assert truncate_at_word("alpha beta gamma", 9) == "alpha"


def test_truncate_single_long_word_is_cut_hard():
    assert truncate_at_word("x" * 50, 10) == "x" * 10
    assert truncate_at_word(" " + "x" * 50, 10) == " " + "x" * 9


def test_truncate_never_drops_a_long_word_after_leading_spaces():
    # The docstring: "A single word longer than the limit is cut hard rather than dropped."
    cut = truncate_at_word("  " + "x" * 50, 10)
    assert cut.strip(), f"the word was dropped: {cut!r}"
    assert len(cut) <= 10


@pytest.mark.parametrize("space", ["\u3000", "\u2003"], ids=["ideographic", "em-space"])
def test_truncate_cuts_at_unicode_whitespace_boundaries(space):
    # CJK text separates phrases with U+3000; it is a word boundary like any other space.
    text = "日本語の文章です" + space + "次の文章もとても長いです"
    cut = truncate_at_word(text, 12)
    assert cut == "日本語の文章です"


# ---- stored preview -------------------------------------------------------------------


def test_stored_preview_default_limit():
    assert PREVIEW_MAX_CHARS == 51_200
    text = " ".join(f"w{i}" for i in range(20_000))
    preview = stored_preview(text)
    assert len(preview) <= PREVIEW_MAX_CHARS
    assert text[len(preview)] == " "
    assert len(preview) > PREVIEW_MAX_CHARS - 10
    short = "a few words"
    assert stored_preview(short) == short


# ---- card preview -----------------------------------------------------------------------


def _words_of_length(n: int) -> str:
    text = ("lorem ipsum dolor sit amet " * (n // 27 + 2))[:n]
    if text.endswith(" "):
        text = text[:-1] + "x"
    assert len(text) == n
    return text


def test_card_preview_shorter_than_3000_is_whole():
    text = _words_of_length(1_200)
    assert card_preview(text) == text


def test_card_preview_exactly_3000_is_whole():
    text = _words_of_length(CARD_PREVIEW_CHARS)
    assert card_preview(text) == text
    assert "truncated" not in card_preview(text)


def test_card_preview_longer_than_3000_is_cut_with_total():
    text = _words_of_length(3_001)
    preview = card_preview(text)
    head, tail = preview.split("\n\n... (truncated, ")
    assert tail == "3 KB total)"
    assert len(head) <= CARD_PREVIEW_CHARS
    assert text.startswith(head)
    assert text[len(head)] == " "


def test_card_preview_of_a_long_article():
    text = _words_of_length(67_584)
    preview = card_preview(text)
    assert preview.endswith("\n\n... (truncated, 66 KB total)")
    head = preview.split("\n\n... (truncated")[0]
    assert len(head) <= 3_000
    assert head == truncate_at_word(text, 3_000)


def test_card_preview_uses_the_full_length_when_given_a_stored_preview():
    full_length = 70_000
    stored = _words_of_length(2_000)  # the text in hand is shorter than the article
    assert card_preview(stored, full_length) == stored + "\n\n... (truncated, 68 KB total)"


def test_card_preview_multibyte():
    text = "日本語の文章です。" * 400  # 3,600 characters, no spaces
    preview = card_preview(text)
    assert preview == text[:3000] + "\n\n... (truncated, 4 KB total)"


@pytest.mark.parametrize(
    ("chars", "kb"),
    [
        (0, 0),
        (511, 0),
        (512, 1),  # 0.5 rounds up
        (1_024, 1),
        (1_536, 2),  # 1.5 rounds up (round() would give 2 as well)
        (2_560, 3),  # 2.5 rounds up (round() would give 2)
        (67_584, 66),  # exactly 66.0
        (68_095, 66),  # 66.499...
        (68_096, 67),  # 66.5 rounds up
        (68_607, 67),
    ],
)
def test_size_kb_rounds_half_up(chars, kb):
    assert size_kb(chars) == kb
