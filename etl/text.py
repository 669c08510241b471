"""Text from outside (the API's error bodies, the ID file) made safe to store, print and share.

Both sides use it: the source (the client's error details) and the store (the run log), and
the CLI's output on stderr, so it sits above them and imports neither.
"""

from __future__ import annotations

import binascii
import functools
import html.entities
import re
from collections.abc import Callable, Iterator

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# What no database stores alike, or that would break a one-line message: control characters
# (C0 with NUL, DEL, C1), line and paragraph separators, and surrogates. A str holds a surrogate
# only unpaired (a JSON "\ud800" decodes to one), and UTF-8 cannot encode it.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

REDACTED = "***"
# The shortest part of the token that is hidden wherever it shows up (a shortened echo).
TOKEN_RUN = 8


def storable(text: str) -> str:
    """``text`` that every database stores and any terminal shows on one line.

    NUL, the other control characters, line separators and lone surrogates become visible
    escapes as Python writes them (``\\x00``, ``\\n``, ``\\x1b``, ``\\u2028``, ``\\ud800``);
    nothing is dropped. Backslashes are left alone: this is for showing, not for decoding.
    Applying it twice changes nothing more.
    """
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def redact(text: str, token: str) -> str:
    """``text`` with every echo of ``token``, and the user and password of any http(s) URL,
    replaced by ``***``.

    An echo is any run of at least 8 consecutive characters of the token (all of a shorter
    token), forwards or reversed, in any letter case, with any of its characters
    percent-encoded once or twice (``%2D``, ``%252d``) or written as an HTML entity (``&#45;``,
    ``&#x2d;``, ``&hyphen;``), ``+`` standing for a space, and spaces or zero-width characters
    between its characters; and a base64 or hex word that decodes to text holding such a run
    (the whole word goes). An API or a proxy may quote the token in any of these forms.
    """
    if not text:
        return text
    return redact_api_url(_without_encoded_token(_without_token(text, token), token))


def _without_token(text: str, token: str) -> str:
    if not token:
        return text
    units = _units(text)
    runs = _runs_of(_folded(token))
    shortest = min(TOKEN_RUN, len(token))
    out: list[str] = []
    start = 0
    while start < len(units):
        end, spelled = _echo_at(units, start, runs)
        if len(spelled) >= shortest:
            out.append(REDACTED)
            start = end
        else:
            out.append(units[start][1])
            start += 1
    return "".join(out)


# What may split an echo without being part of it: a space and the zero-width characters a
# rich-text editor or a chat client slips in ("+" is a space folded, see _folded).
_SEPARATORS = frozenset("+\u200b\u200c\u200d\u2060\ufeff\u00ad")
_MOST_SEPARATORS = 3


def _echo_at(units: list[tuple[str, str]], start: int, runs: frozenset[str]) -> tuple[int, str]:
    """The longest part of the token spelled from ``units[start]`` on (every prefix of a part
    is one too), skipping separators between its characters: (where it ends, what it spells)."""
    end, spelled = start, ""
    while end < len(units):
        if spelled + units[end][0] in runs:
            spelled += units[end][0]
            end += 1
            continue
        # A few separators, then a character that goes on spelling the token: skip them.
        after = end
        while after < len(units) and after - end < _MOST_SEPARATORS:
            if units[after][0] not in _SEPARATORS:
                break
            after += 1
        if not spelled or after == end or after == len(units):
            break
        if spelled + units[after][0] not in runs:
            break
        end = after
    return end, spelled


# One character written as a (possibly twice) percent-encoded byte or as an HTML entity.
_ENCODED_CHAR = re.compile(
    r"%(?:25)*([0-9A-Fa-f]{2})|&#([0-9]{1,7});|&#[xX]([0-9A-Fa-f]{1,6});|&([A-Za-z][A-Za-z0-9]{1,31};)"
)


def _units(text: str) -> list[tuple[str, str]]:
    """``text`` as (character it stands for, case-folded; as written) pairs: ``%2D`` is one."""
    units: list[tuple[str, str]] = []
    position = 0
    for match in _ENCODED_CHAR.finditer(text):
        char = _decoded_char(match)
        if char is None:
            continue  # not an escape after all (an unknown entity): plain characters
        units += [(_folded(plain), plain) for plain in text[position : match.start()]]
        units.append((_folded(char), match.group()))
        position = match.end()
    units += [(_folded(char), char) for char in text[position:]]
    return units


def _decoded_char(match: re.Match[str]) -> str | None:
    percent, decimal, hexadecimal, name = match.groups()
    if percent is not None:
        return chr(int(percent, 16))
    if name is not None:
        named = html.entities.html5.get(name)
        return named if named is not None and len(named) == 1 else None
    code = int(decimal, 10) if decimal is not None else int(hexadecimal, 16)
    return chr(code) if code <= 0x10FFFF else None


def _folded(text: str) -> str:
    # "+" is a space in a query string; a token may hold either, so both count as one.
    return text.lower().replace(" ", "+")


@functools.lru_cache(maxsize=4)
def _runs_of(folded_token: str) -> frozenset[str]:
    """Every substring of the (folded) token, and of it reversed: what a part of an echo may
    spell."""
    runs: set[str] = set()
    for spelling in (folded_token, folded_token[::-1]):
        length = len(spelling)
        runs.update(spelling[i:j] for i in range(length) for j in range(i + 1, length + 1))
    return frozenset(runs)


# Words that may be the token encoded: long enough to hold 8 of its characters.
_BASE64_WORD = re.compile(r"[A-Za-z0-9+/_-]{11,}={0,2}")
_HEX_WORD = re.compile(r"[0-9A-Fa-f]{16,}")


def _without_encoded_token(text: str, token: str) -> str:
    """``text`` with each base64 or hex word that decodes to an echo of ``token`` hidden."""
    if not token:
        return text

    could_hold = _could_hold(_folded(token))

    def hide(match: re.Match[str]) -> str:
        word = match.group()
        for decoded in _decodings(word):
            if could_hold(decoded.lower()) and _without_token(decoded, token) != decoded:
                return REDACTED
        return word

    return _BASE64_WORD.sub(hide, _HEX_WORD.sub(hide, text))


@functools.lru_cache(maxsize=4)
def _could_hold(folded_token: str) -> Callable[[str], re.Match[str] | None]:
    """A quick test that lower-cased text has enough characters of the token in a row to hold
    an echo: most words decode to bytes that do not, and skip the full search."""
    chars = re.escape("".join(sorted(set(folded_token + folded_token.replace("+", " ")))))
    return re.compile(f"[{chars}]{{{min(TOKEN_RUN, len(folded_token))},}}").search


def _decodings(word: str) -> Iterator[str]:
    """What ``word`` may stand for, as hex and as base64 (standard or URL-safe) read from each
    of its possible starts (the word may begin mid-quantum), one character per byte."""
    if _HEX_WORD.fullmatch(word):
        for skip in (0, 1):
            digits = word[skip : skip + (len(word) - skip) // 2 * 2]
            yield bytes.fromhex(digits).decode("latin-1")
    standard = word.rstrip("=").translate(_URLSAFE)
    for skip in range(4):
        chars = standard[skip : skip + (len(standard) - skip) // 4 * 4]
        try:
            yield binascii.a2b_base64(chars).decode("latin-1")
        except binascii.Error:
            continue


_URLSAFE = str.maketrans("-_", "+/")


_USERINFO = re.compile(r"(?i)^((?:[a-z][a-z0-9+.-]*:)?//)?[^/?#]*@")
_USERINFO_OF_HTTP_URLS = re.compile(r"(?i)\b(https?://)[^\s/?#]*@")


def redact_api_url(text: str) -> str:
    """The API URL ``text`` with its user and password shown as ``***``.

    For wherever the URL is printed or stored (only requests need the credentials). Takes a URL
    that does not parse or has no scheme too, and a message, in which each http(s) URL is
    redacted.
    """
    if any(character.isspace() for character in text):
        return _USERINFO_OF_HTTP_URLS.sub(r"\1***@", text)
    return _USERINFO.sub(r"\1***@", text)


def redact_url(raw: str) -> str:
    """The database URL ``raw`` with its password shown as ``***`` (``<unparseable URL>`` when
    it does not parse), for wherever it is printed or stored."""
    try:
        url: URL = make_url(raw)
        url.port  # noqa: B018 - a port that is not a number only fails when read
    except (ArgumentError, ValueError):
        return "<unparseable URL>"
    return url.render_as_string(hide_password=True)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace, line breaks included, as one space."""
    return " ".join(text.split())


def shorten(text: str, width: int, *, marker: str = "…") -> str:
    """``text`` cut to at most ``width`` characters, ending in ``marker`` when it was cut."""
    return text if len(text) <= width else text[: width - len(marker)] + marker


def duration_text(seconds: float) -> str:
    """Seconds for a person, to the largest unit worth saying: ``4.2s``, ``3m 07s``,
    ``5h 02m``, ``2d 3h``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
