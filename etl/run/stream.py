"""The one streaming load loop: a listing's items (or their failures) → chunks → the database.

A workspace's batch listing and a batch's responses are read the same way: item by item from
a stream the API sent, each item's rows or its ItemError gathered into chunks, each chunk
loaded as it fills. What differs (how an item is keyed, flattened, loaded, and what a cut-short
listing is called) is the ``StreamedKind`` the loop is given. The loop answers whether the
listing came whole: only then may what it no longer holds be marked removed upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence
from typing import Any, Protocol

from ..errors import InvalidResponseError, ItemError
from ..store.runlog import Failure


class Listed(Protocol):
    """A listing read as a stream (``etl.source.validate.Listing``, ``ResponseListing``)."""

    seen: int
    count: int | None

    def items(self) -> Iterable[Any]: ...

    @property
    def cut_short(self) -> bool: ...


class Seen(Container[str], Protocol):
    def add(self, key: str, /) -> None: ...


class StreamedKind(Protocol):
    """What the loop needs to know about one kind of listed item."""

    chunk_size: int
    skip_repeats: bool  # an item listed twice is loaded once

    def key(self, item: Any) -> str | None:
        """The id of the item, or of the item an ItemError is about (None: not known)."""

    def accept(self, item: Any) -> Any:
        """What goes in the chunk for ``item``: its rows, or the ItemError itself."""

    def load(self, chunk: Sequence[Any]) -> None:
        """Write a chunk (rows and ItemErrors), recording its failures."""

    def truncated(self, listing: Listed) -> ItemError:
        """The failure of a listing whose ``meta.count`` disagrees with what it held."""


def load_stream(
    listing: Listed,
    kind: StreamedKind,
    *,
    seen: Seen,
    fail: Callable[[list[Failure]], None],
    check_stop: Callable[[], None] = lambda: None,
) -> bool:
    """Load ``listing`` chunk by chunk; whether it came whole (read to its end, as long as
    its ``meta.count`` says), so that what it no longer holds may be marked removed.

    ``seen`` collects the key of every item read, failed ones included (an item that failed
    is not gone upstream). ``check_stop`` is called after each chunk and raises to end the
    run there; what was read before is loaded, the chunk being written commits whole.
    """
    chunk: list[Any] = []
    try:
        for item in listing.items():
            key = kind.key(item)
            if key is not None:
                if kind.skip_repeats and key in seen:
                    continue
                seen.add(key)
            chunk.append(kind.accept(item))
            if len(chunk) >= kind.chunk_size:
                kind.load(chunk)
                chunk = []
                check_stop()
    except InvalidResponseError as error:  # the body broke off: what came before is loaded
        kind.load(chunk)
        fail([Failure.from_item_error(error)])
        return False
    kind.load(chunk)
    if listing.cut_short:
        fail([Failure.from_item_error(kind.truncated(listing))])
        return False
    return True
