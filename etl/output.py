"""What the CLI shows while a run goes: log lines on stderr (text for people, JSON lines for log
shippers) and, on a terminal, a progress bar. The library only logs events and calls back.

What each verbosity lets through on stderr (the summary line always goes to stdout):

- quiet: errors (a failed batch, a bad ID line, a fatal error); in JSON also run_finished.
- normal: warnings too; in JSON also run_started; the progress bar on a terminal.
- verbose: a line per batch and per retry, and run_started.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from tqdm import tqdm

from .job import Progress
from .text import storable

QUIET, NORMAL, VERBOSE = "quiet", "normal", "verbose"
LOG_FORMATS = ("text", "json")

_LEVELS = {QUIET: logging.ERROR, NORMAL: logging.WARNING, VERBOSE: logging.INFO}
# JSON consumers get the run's start and end whatever the level: run_finished is the summary.
_JSON_ALWAYS = {QUIET: {"run_finished"}, NORMAL: {"run_started", "run_finished"}, VERBOSE: set()}
# In text the summary line on stdout already is the run's end.
_TEXT_NEVER = {"run_finished"}
# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class TextFormatter(logging.Formatter):
    """``prolific-etl: error: …``, ``prolific-etl: warning: …``, ``prolific-etl: …``.

    A message may quote the API or the ID file: it is made storable (control characters and
    lone surrogates escaped), so that it stays one visible line whatever it holds.
    """

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.ERROR:
            prefix = "error: "
        elif record.levelno >= logging.WARNING:
            prefix = "warning: "
        else:
            prefix = ""
        return f"prolific-etl: {prefix}{storable(record.getMessage())}"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, event, message, run_id, then the record's extra fields.

    Every string is made storable, as in TextFormatter: the message reads as etl_failures
    holds it, and a lone surrogate cannot stop the line from being written.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "message"),
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", None),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(
            {
                key: storable(value) if isinstance(value, str) else value
                for key, value in entry.items()
            },
            ensure_ascii=False,
            default=lambda value: storable(str(value)),
        )


class _BarSafeHandler(logging.StreamHandler):
    """Writes through ``tqdm.write``, which lifts a visible bar off the line and redraws it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream)
            self.flush()
        except Exception:
            self.handleError(record)


def configure_logging(verbosity: str = NORMAL, log_format: str = "text") -> None:
    """Send the ``etl`` logger to stderr in ``log_format``, filtered for ``verbosity``."""
    level = _LEVELS[verbosity]
    always = _JSON_ALWAYS[verbosity] if log_format == "json" else set()
    never = set() if log_format == "json" else _TEXT_NEVER

    def shown(record: logging.LogRecord) -> bool:
        event = getattr(record, "event", None)
        return event not in never and (record.levelno >= level or event in always)

    handler = _BarSafeHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(shown)
    logger = logging.getLogger("etl")
    logger.handlers.clear()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


@contextmanager
def progress_bar(total: int, *, show: bool) -> Iterator[Callable[[Progress], None] | None]:
    """A bar on stderr fed by ``sync()``'s on_progress; yields None (no bar) unless ``show``."""
    if not show:
        yield None
        return
    bar = tqdm(total=total, unit=" batches", file=sys.stderr, dynamic_ncols=True)

    def advance(progress: Progress) -> None:
        # The bar moves as each fetch ends (its rate is the run's); the counts follow the
        # loads, a chunk or so behind.
        bar.set_postfix_str(
            f"{progress.inserted} inserted, {progress.updated} updated, "
            f"{progress.unchanged} unchanged, {progress.failed} failed",
            refresh=False,
        )
        if bar.total != progress.total:  # the listings' share is known once they are read
            bar.total = progress.total
        bar.update(progress.fetched - bar.n)

    try:
        yield advance
    except BaseException:
        bar.leave = bar.n > 0  # a run that never got going leaves no empty bar behind
        raise
    finally:
        bar.close()
