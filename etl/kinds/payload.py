"""What every kind's payload model is built from: strict, frozen pydantic models, and the
value types the published spec uses (UTC timestamps, counts, text without NUL).

Statuses and other enumerations are open text: the API adds values, and a new one must not
break the nightly load.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .columns import MAX_ID_LENGTH, MAX_STATUS_LENGTH


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; refusing it here keeps all three databases alike.
    if "\x00" in value:
        raise ValueError("contains a NUL character (U+0000)")
    return value


def _as_utc(value: datetime) -> datetime:
    # The spec promises UTC; a timestamp without an offset is taken as UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        # e.g. 0001-01-01T00:30:00+01:00 is before 0001-01-01 UTC, which datetime cannot hold.
        raise ValueError(
            "is out of the range of representable UTC timestamps (years 1 to 9999)"
        ) from None


Text = Annotated[str, AfterValidator(_no_nul)]
IdText = Annotated[str, Field(max_length=MAX_ID_LENGTH), AfterValidator(_no_nul)]
StatusText = Annotated[
    str, Field(min_length=1, max_length=MAX_STATUS_LENGTH), AfterValidator(_no_nul)
]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
UtcTime = Annotated[datetime, AfterValidator(_as_utc)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


def nul_in(value: Any, path: str) -> str | None:
    """The path of the first NUL in a JSON value (keys or strings), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, list):
        return next(
            (found for i, item in enumerate(value) if (found := nul_in(item, f"{path}[{i}]"))),
            None,
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return path
            if found := nul_in(item, f"{path}.{key}"):
                return found
    return None


class SpecModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def refuse_nul_in(fields: dict[str, Any]) -> None:
    """Raise ValueError naming the first field (path) of ``fields`` whose JSON holds a NUL:
    PostgreSQL cannot store one, and refusing it keeps all three databases alike."""
    for name, value in fields.items():
        if (where := nul_in(value, name)) is not None:
            raise ValueError(f"field '{where}' contains a NUL character (U+0000)")
