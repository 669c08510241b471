"""JSON numbers a double cannot hold (``1e400``), carried through validation as text.

The streamed parser reads every number exactly (an int, or a Decimal); most non-integers are
doubles as before, but one beyond a double's range has no float. Such a number travels as a
stand-in string (``BIG_NUMBER`` then its digits) through validation, so that a typed field
refuses it (naming the field) while a JSON value (metadata, an answer, extra fields) keeps
it; ``dumps`` writes it back as the number it was into JSON columns: the same value, in
Decimal's spelling (``1e400`` is written ``1E+400``).

U+FDD0 is a Unicode noncharacter, reserved for a program's internal use: text from the API
has no business holding one.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

BIG_NUMBER = "\ufdd0"
_STAND_IN = re.compile(r'"(?:\ufdd0|\\ufdd0)([-+0-9.eE]+)"')


def json_number(value: Any) -> float | str:
    """``json.dumps``' ``default`` for the parser's Decimals: a double where one holds the
    value (as the parser's floats were), else the stand-in of its exact text."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    number = float(value)
    if math.isfinite(number):
        return number
    return BIG_NUMBER + str(value)


def dumps_for_validation(value: Any) -> str:
    """A parsed item as JSON text again, for its model: doubles as doubles, a number beyond
    a double as its stand-in (a string)."""
    return json.dumps(value, default=json_number)


def big_number_text(value: Any) -> str | None:
    """The exact text of a stand-in, or None for any other value."""
    if isinstance(value, str) and value.startswith(BIG_NUMBER):
        return value[len(BIG_NUMBER) :]
    return None


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps``, writing each stand-in back as the JSON number it stands for."""
    text = json.dumps(value, default=json_number, **options)
    return _STAND_IN.sub(r"\1", text) if BIG_NUMBER in text or "\\ufdd0" in text else text
