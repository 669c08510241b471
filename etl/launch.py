"""The ``prolific-etl`` command's entry point: it takes over SIGINT and SIGTERM before anything
heavy is imported.

Importing the CLI (pandas, SQLAlchemy, requests) takes about half a second, longer on a busy
machine; a signal in that time used to end the process at once (exit 143) with no word. Now
such a signal is remembered, and the command, once it has its own handlers, treats it as a stop
asked for at its start (``signals_before_start``).
"""

from __future__ import annotations

import signal

_early: list[int] = []
_installed = False


def _remember(signum: int, frame: object) -> None:
    _early.append(signum)


def signals_before_start() -> list[int]:
    """The signals that arrived before the command took them over, oldest first; forgotten
    once asked for."""
    received = list(_early)
    _early.clear()
    return received


def hand_over_signals(command: str | None) -> None:
    """Called as ``command`` starts: ``sync`` takes SIGINT and SIGTERM over itself (and is
    told of the early ones); any other command gets Python's usual handling back, and a signal
    that came early is raised again, as if it came now."""
    global _installed
    if not _installed or command == "sync":
        return
    _installed = False
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for signum in signals_before_start():
        signal.raise_signal(signum)


def take_signals() -> None:
    """Remember SIGINT and SIGTERM instead of dying of them, until the command takes over."""
    global _installed
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _remember)
    _installed = True


def main() -> None:
    """Run ``prolific-etl``."""
    take_signals()
    from .cli import main as command  # the heavy imports, now that a signal cannot cut them

    command(prog_name="prolific-etl")
