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

from ..errors import ItemError
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

    def key(self, item: Any) -> str | None:
        """The id of the item, or of the item an ItemError is about (None: not known)."""

    def accept(self, item: Any) -> Any:
        """What goes in the chunk for ``item``: its rows, or the ItemError itself."""

    def repeated(self, item: Any) -> Any | None:
        """What goes in the chunk for ``item`` (valid, or its ItemError) when a valid copy of
        it came earlier and was taken: None to leave it out, or an ItemError to record."""

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
    taken: Seen | None = None,
    check_stop: Callable[[], None] = lambda: None,
) -> bool:
    """Load ``listing`` chunk by chunk; whether it came whole (read to its end, as long as
    its ``meta.count`` says), so that what it no longer holds may be marked removed.

    ``seen`` collects the key of every item read, failed ones included (an item that failed
    is not gone upstream). ``taken`` (a fresh set unless given; a run shares one over its
    listings) collects the keys of the valid items: the first valid copy of an item is the
    one loaded, and what its later copies become is the kind's to say (``repeated``). An
    invalid copy takes nothing, so that it cannot keep a valid copy after it from loading
    (unless ``taken`` is ``seen`` itself, as for a batch's responses, where one compact set of
    200,000 ids is enough: there the first copy takes the id, valid or not).
    ``check_stop`` is called after each chunk and raises to end the run there; what was read
    before is loaded, the chunk being written commits whole.

    A body that breaks off (the listing raises an ItemError) is a failure of the listing;
    every item that came whole before the break is loaded.
    """
    taken = set() if taken is None else taken
    chunk: list[Any] = []
    try:
        for item in listing.items():
            key = kind.key(item)
            if key is not None:
                repeat = key in taken
                if taken is not seen and not (repeat or isinstance(item, ItemError)):
                    taken.add(key)
                seen.add(key)
                if repeat and (item := kind.repeated(item)) is None:
                    continue
            chunk.append(kind.accept(item))
            if len(chunk) >= kind.chunk_size:
                kind.load(chunk)
                chunk = []
                check_stop()
    except ItemError as error:  # the body broke off: what came before is loaded
        kind.load(chunk)
        fail([Failure.from_item_error(error)])
        return False
    kind.load(chunk)
    if listing.cut_short:
        fail([Failure.from_item_error(kind.truncated(listing))])
        return False
    return True
