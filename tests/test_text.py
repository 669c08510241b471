"""``etl.text``: outside text made storable and printable, and the token hidden in every echo."""

from __future__ import annotations

import base64
import string
import unicodedata
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.text import redact, storable

TOKEN = "Ab3-xY9_kLm2-PqR7sT"
_UNSAFE_CATEGORIES = ("Cc", "Cs", "Zl", "Zp")  # control, surrogate, line and paragraph separator


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("nul\x00", r"nul\x00"),
        ("lone \ud800 and \udfff", r"lone \ud800 and \udfff"),
        ("two\nlines\r\tand a tab", r"two\nlines\r\tand a tab"),
        ("\x1b[31mred\x07", r"\x1b[31mred\x07"),
        ("del\x7f c1\x85\x9b", r"del\x7f c1\x85\x9b"),
        ("sep\u2028par\u2029", r"sep\u2028par\u2029"),
        ("émoji 🚀 日本語 'quoted' \\backslash", "émoji 🚀 日本語 'quoted' \\backslash"),
    ],
)
def test_storable_escapes_what_a_database_or_a_terminal_cannot_take(text, shown):
    assert storable(text) == shown


@given(st.text())
def test_storable_text_encodes_as_one_line_and_escaping_twice_changes_nothing(text):
    shown = storable(text)
    shown.encode("utf-8")  # no surrogate left
    assert not [char for char in shown if unicodedata.category(char) in _UNSAFE_CATEGORIES]
    assert len(shown.splitlines()) <= 1
    assert storable(shown) == shown


@given(st.text(alphabet=st.characters(blacklist_categories=_UNSAFE_CATEGORIES)))
def test_storable_leaves_ordinary_text_alone(text):
    assert storable(text) == text


def percent_encoded(text: str, hex_format: str = "%{:02X}") -> str:
    return "".join(hex_format.format(ord(char)) for char in text)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"token {TOKEN} here", "token *** here"),
        (f"token {TOKEN.upper()} here", "token *** here"),
        (f"token {TOKEN.lower()[3:]} here", "token *** here"),
        (f"?token={urllib.parse.quote(TOKEN)}&x", "?token=***&x"),
        (f"?token={percent_encoded(TOKEN)}&x", "?token=***&x"),
        (f"?token={percent_encoded(TOKEN[:9], '%{:02x}')}", "?token=***"),
        (f"cut: {TOKEN[:8]}…", "cut: ***…"),
        (f"cut: {TOKEN[-8:]}", "cut: ***"),
        (f"too short to tell: {TOKEN[:7]}", f"too short to tell: {TOKEN[:7]}"),
        (f"{TOKEN}{TOKEN}", "******"),
        ("nothing of it: Ab3-xY9 kLm2", "nothing of it: Ab3-xY9 kLm2"),
        ("%zz is not an escape, 100%", "%zz is not an escape, 100%"),
    ],
)
def test_redact_hides_every_echo_of_the_token(text, shown):
    assert redact(text, TOKEN) == shown


def html_entities(text: str) -> str:
    """Every character as an HTML entity, decimal and hexadecimal in turn."""
    return "".join(
        f"&#{ord(char)};" if i % 2 else f"&#x{ord(char):x};" for i, char in enumerate(text)
    )


def b64(text: str, encode=base64.b64encode) -> str:
    return encode(text.encode()).decode()


JSON_START = '{"t":"'
ZERO_WIDTH = "\u200b"
TWICE_QUOTED = urllib.parse.quote(urllib.parse.quote(TOKEN, safe=""), safe="")


# Issue 23, item 6: these forms of the token reached etl_failures, stderr, exports and the report.
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"auth {b64(TOKEN)} end", "auth *** end"),
        (f"auth {b64('me:' + TOKEN)}", "auth ***"),
        (f"Basic {b64('ab:' + TOKEN).rstrip('=')}", "Basic ***"),
        (f"jwt.{b64(JSON_START + TOKEN, base64.urlsafe_b64encode)}.x", "jwt.***.x"),
        (f"hex {TOKEN.encode().hex()}!", "hex ***!"),
        (f"HEX {TOKEN[2:12].encode().hex().upper()}", "HEX ***"),
        (f"html {html_entities(TOKEN)} end", "html *** end"),
        ("named Ab3-xY9&lowbar;kLm2 end", "named *** end"),
        (f"twice ?t={TWICE_QUOTED}", "twice ?t=***"),
        (f"twice {percent_encoded(TOKEN, '%25{:02x}')}", "twice ***"),
        (f"reversed {TOKEN[::-1]} end", "reversed *** end"),
        (f"spaced {' '.join(TOKEN)} end", "spaced *** end"),
        (f"zero-width {ZERO_WIDTH.join(TOKEN)} end", "zero-width *** end"),
        (f"chunks {TOKEN[:6]} {TOKEN[6:12]}  {TOKEN[12:]} end", "chunks *** end"),
    ],
    ids=[
        "base64",
        "base64 user:token",
        "base64 unpadded, shifted",
        "url-safe base64 in a jwt",
        "hex",
        "hex part, upper case",
        "html entities",
        "named html entities",
        "double percent-encoded",
        "every character double percent-encoded",
        "reversed",
        "split by spaces",
        "split by zero-width spaces",
        "split in chunks",
    ],
)
def test_redact_hides_the_token_encoded_reversed_or_split(text, shown):
    assert redact(text, TOKEN) == shown


@pytest.mark.parametrize(
    "text",
    [
        "internationalization and 0123456789abcdef0123 and SGVsbG8gV29ybGQh",
        "a b c d e f g h i j k l m n o p",
        "Ab3-xY9 and kLm2-Pq",  # two parts of the token, each under 8 characters
        "&amp;&lt;&#65;&#x42; %2525 &unknown; done",
        "dGhpcyBpcyBhbiBvcmRpbmFyeSBiYXNlNjQgdGV4dA==",
    ],
)
def test_redact_leaves_ordinary_text_alone(text):
    assert redact(text, TOKEN) == text


def test_a_token_with_a_space_is_hidden_in_its_query_string_form():
    assert redact("key=my+secret+key&x=1", "my secret key") == "key=***&x=1"


def test_a_short_token_is_hidden_whole_and_no_token_hides_nothing():
    assert redact("a abc12 b", "abc12") == "a *** b"
    assert redact("a abc12 b", "") == "a abc12 b"


_TOKEN_CHARS = string.ascii_letters + string.digits + "-_"


def _echo(token: str, form: int) -> str:
    return [
        token,
        token.upper(),
        token.lower(),
        urllib.parse.quote(token, safe=""),
        percent_encoded(token),
        percent_encoded(token, "%{:02x}")[: 3 * 8],
    ][form]


@given(
    st.text(alphabet=_TOKEN_CHARS, min_size=8, max_size=64),
    st.text(max_size=40),
    st.integers(0, 5),
    st.text(max_size=40),
)
def test_no_8_characters_of_the_token_survive_redaction(token, before, form, after):
    shown = urllib.parse.unquote_plus(redact(before + _echo(token, form) + after, token)).lower()
    folded = token.lower()
    assert not any(folded[i : i + 8] in shown for i in range(len(folded) - 7))
