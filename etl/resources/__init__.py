"""The files the package ships from outside ``etl/``: the example queries (``sql/queries/``), the
example ID file (``examples/``) and the systemd and cron files (``deploy/``).

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

# Each directory a wheel carries, and where it is in the checkout (setup.py's SHIPPED).
_IN_CHECKOUT = {
    "queries": Path("sql", "queries"),
    "examples": Path("examples"),
    "deploy": Path("deploy"),
}
_CHECKOUT = Path(__file__).resolve().parent.parent.parent


def directory(name: str) -> Traversable:
    """The shipped directory ``name`` (queries, examples or deploy): the wheel's copy, or in
    a checkout (an editable install) the checkout's own."""
    packaged = files(__name__) / name
    return packaged if packaged.is_dir() else _CHECKOUT / _IN_CHECKOUT[name]


def _texts(*names: str, suffix: str = "") -> dict[str, str]:
    found = {
        entry.name: entry.read_text(encoding="utf-8")
        for name in names
        for entry in directory(name).iterdir()
        if entry.is_file() and entry.name.endswith(suffix)
    }
    return dict(sorted(found.items()))


def example_queries() -> dict[str, str]:
    """The example queries by name (time_to_ready, ...), in name order: their SQL, whose first
    line is a comment saying which question it answers."""
    return {
        name.removesuffix(".sql"): sql for name, sql in _texts("queries", suffix=".sql").items()
    }


def example_files() -> dict[str, str]:
    """The example ID file and the deploy files by file name (batch_ids.txt, crontab,
    prolific-etl.service, prolific-etl.timer): their text, whose first line says what it is."""
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
