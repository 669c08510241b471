"""Reading the batch ID file: one UUID a line, ``#`` comments, blank lines, CRLF, a BOM, ``-``."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputFileError
from ..text import shorten

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SHOWN_LINE_LENGTH = 80
_BOM = b"\xef\xbb\xbf"
# What an ID file is, for the messages about one that is missing or empty.
FORMAT = (
    "An ID file holds one batch ID (a UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e) a "
    "line, and # starts a comment: `prolific-etl examples batch_ids.txt > batch_ids.txt` "
    "writes an example to edit"
)


@dataclass(frozen=True)
class BadIdLine:
    """A line of the ID file that is not a batch ID; it is reported and never sent anywhere."""

    source: str
    line_number: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line_number}: {self.reason}: {self.text!r}"


@dataclass
class IdFile:
    """The result of reading an ID file: the distinct IDs, in file order, and the bad lines."""

    source: str
    batch_ids: list[str] = field(default_factory=list)
    bad_lines: list[BadIdLine] = field(default_factory=list)
    duplicates: int = 0

    @property
    def lines_read(self) -> int:
        return len(self.batch_ids) + len(self.bad_lines) + self.duplicates


def normalize_batch_id(raw: str) -> str | None:
    """The canonical (lower-case, trimmed) form of a batch ID, or None when it is not a UUID."""
    candidate = raw.strip().lower()
    return candidate if _UUID.fullmatch(candidate) else None


def parse_id_lines(lines: bytes | Iterable[bytes], source: str) -> IdFile:
    """Parse the raw ID file (bytes, or an iterable of byte lines) into an IdFile.

    Lines may end in LF, CRLF or CR; a BOM at the start of a line and ``#`` comments are ignored.
    """
    result = IdFile(source=source)
    seen: set[str] = set()
    for line_number, raw in enumerate(_split_lines(lines), start=1):
        raw = raw.removeprefix(_BOM).split(b"#", 1)[0]
        try:
            content = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            shown = raw.decode("utf-8", errors="replace").strip()
            result.bad_lines.append(
                BadIdLine(source, line_number, shorten(shown, _SHOWN_LINE_LENGTH), "not UTF-8 text")
            )
            continue
        if not content:
            continue
        batch_id = normalize_batch_id(content)
        if batch_id is None:
            result.bad_lines.append(
                BadIdLine(
                    source,
                    line_number,
                    shorten(content, _SHOWN_LINE_LENGTH),
                    "not a batch ID (UUID)",
                )
            )
        elif batch_id in seen:
            result.duplicates += 1
        else:
            seen.add(batch_id)
            result.batch_ids.append(batch_id)
    return result


def read_id_file(path: str) -> IdFile:
    """Read and validate every line of ``path`` (``-`` for stdin) before anything is fetched.

    Raises InputFileError when the file cannot be read or holds no valid batch ID.
    """
    if path == "-":
        result = parse_id_lines(_read_stdin(), "<stdin>")
    else:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError as exc:
            raise InputFileError(
                f"cannot read ID file {path}: it does not exist. {FORMAT}; or let sync find "
                "the batches itself with --all-workspaces"
            ) from exc
        except OSError as exc:
            raise InputFileError(f"cannot read ID file {path}: {exc.strerror or exc}") from exc
        result = parse_id_lines(data, path)
    if not result.batch_ids:
        detail = f"; {len(result.bad_lines)} bad line(s)" if result.bad_lines else ""
        raise InputFileError(
            f"{result.source} holds no valid batch ID{detail}. {FORMAT}",
            tuple(result.bad_lines),
        )
    return result


def _read_stdin() -> bytes:
    try:
        if sys.stdin is None:  # the process was started with its standard input closed
            raise OSError("it is closed")
        return sys.stdin.buffer.read()
    except OSError as exc:
        raise InputFileError(
            f"cannot read ID file from standard input: {exc.strerror or exc} "
            "(pipe the batch IDs in, or pass a file)"
        ) from None


def _split_lines(data: bytes | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(data, bytes):
        yield from data.splitlines()
    else:
        for chunk in data:  # a chunk read by line may still hold a lone \r
            yield from chunk.splitlines() or [b""]
