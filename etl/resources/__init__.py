"""The files the package ships from outside ``etl/``: the example queries (``sql/queries/``), the
example ID file (``examples/``), the example settings (``.env.example``) and the systemd and
cron files (``deploy/``).

The checkout keeps the one copy of each, where the docs and the tests name them; a wheel
carries them here, in ``etl/resources/<name>/`` (setup.py copies them when it builds one).
Reading them through this module finds them in both installs, so that ``prolific-etl db
queries`` and ``prolific-etl examples`` print them however the package was installed.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

# What a wheel carries, by directory here, and where it is in the checkout: glob patterns
# relative to the checkout. setup.py reads this table when it builds a wheel, so this module
# imports nothing beyond the standard library.
IN_CHECKOUT = {
    "queries": ("sql/queries/*.sql",),
    "examples": ("examples/*", ".env.example"),
    "deploy": ("deploy/*",),
}
_CHECKOUT = Path(__file__).resolve().parent.parent.parent


def files_of(name: str) -> list[Traversable]:
    """The files of the shipped directory ``name`` (queries, examples or deploy): the wheel's
    copies, or in a checkout (an editable install) the checkout's own."""
    packaged = files(__name__) / name
    if packaged.is_dir():
        found = [entry for entry in packaged.iterdir() if entry.is_file()]
    else:
        found = [
            path
            for pattern in IN_CHECKOUT[name]
            for path in _CHECKOUT.glob(pattern)
            if path.is_file()
        ]
    return sorted(found, key=lambda entry: entry.name)


def _texts(*names: str) -> dict[str, str]:
    found = {
        entry.name: entry.read_text(encoding="utf-8") for name in names for entry in files_of(name)
    }
    return dict(sorted(found.items()))


def example_queries() -> dict[str, str]:
    """The example queries by name (time_to_ready, ...), in name order: their SQL, whose first
    line is a comment saying which question it answers."""
    return {name.removesuffix(".sql"): sql for name, sql in _texts("queries").items()}


def example_files() -> dict[str, str]:
    """The example ID file, settings file and deploy files by file name (.env.example,
    batch_ids.txt, crontab, prolific-etl.service, prolific-etl.timer): their text, whose first
    line says what it is."""
    return _texts("examples", "deploy")


def first_line(text: str) -> str:
    """What a shipped file says it is: the first sentence of its opening comment."""
    comment = []
    for line in text.splitlines():
        if not line.startswith(("#", "--")):
            break
        comment.append(line.lstrip("-#").strip())
    said = " ".join(comment)
    sentence = re.match(r".+?[.?](?=\s|$)", said)
    return sentence.group() if sentence else said
