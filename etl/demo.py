"""``prolific-etl demo``: a few nights of the real job against the local imitation, no token.

The imitation serves the sample world (``imitation.world``): workspaces of batches that move
on between nights. Each night is one real ``sync`` of every workspace plus a small ID file, its
timestamps dated the night it stands for (the first ``nights - 1`` days ago), so that the
status history, the reporting views, the example queries and the morning report all have
something to show. One batch is deleted upstream after the first night while the ID file still
lists it: from the second night on, each run records that one failure, on purpose.

A demo run is recognised by its ``etl_runs.id_source``, which starts with DEMO_SOURCE. The demo
writes only into a new file or an earlier demo's database (which it replaces), never into one
that holds other runs, nor into the database ``sync`` is set to write to.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from .config import Settings
from .errors import ConfigError, NotFoundError
from .job import SyncResult, sync
from .samples import DEFAULT_BATCHES, SAMPLE_SEED
from .source.ids import IdFile
from .store.db import connect
from .store.runlog import Failure, clock_set_back
from .store.views import VIEWS_BY_NAME

if TYPE_CHECKING:
    from .imitation.world import Night

log = logging.getLogger("etl")

DEMO_SOURCE = "prolific-etl demo"
DEFAULT_DATABASE = Path("prolific-demo.db")
DEFAULT_NIGHTS = 3


def is_demo_run(id_source: str | None) -> bool:
    """Whether a run's ``etl_runs.id_source`` says the demo made it."""
    return (id_source or "").split(";", 1)[0] == DEMO_SOURCE


@dataclass(frozen=True)
class DemoNight:
    """One night of the demo: when it stands for, what changed upstream before it, its run."""

    number: int
    at: datetime
    result: SyncResult
    changes: Night | None  # None on the first night


@dataclass
class DemoResult:
    database_path: Path
    nights: list[DemoNight] = field(default_factory=list)
    deleted_batch: str | None = None  # deleted upstream after night 1, still in the ID file
    replaced: bool = False  # an earlier demo's database was replaced

    @property
    def database_url(self) -> str:
        return sqlite_url(self.database_path)

    @property
    def last_run_id(self) -> int | None:
        return self.nights[-1].result.run_id if self.nights else None

    def planned(self, failure: Failure) -> bool:
        """Whether a failure is the demo's own: the deleted batch, not found."""
        return failure.batch_id == self.deleted_batch and failure.error_kind == NotFoundError.kind

    @property
    def unexpected_failures(self) -> list[Failure]:
        return [
            failure
            for night in self.nights
            for failure in night.result.failures
            if not self.planned(failure)
        ]


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file, as given (relative stays relative)."""
    return f"sqlite:///{path}"


def run_demo(
    database_path: Path = DEFAULT_DATABASE,
    batch_count: int = DEFAULT_BATCHES,
    nights: int = DEFAULT_NIGHTS,
    *,
    seed: int = SAMPLE_SEED,
    responses: bool = True,
    protected_url: str | None = None,
    on_night: Callable[[DemoNight], None] | None = None,
) -> DemoResult:
    """Serve the sample world on 127.0.0.1 and sync it into ``database_path`` night by night.

    ``responses`` loads the batches' responses too (as ``sync --responses``).
    ``protected_url`` is the database ``sync`` writes to, which the demo refuses to fill.
    Raises ConfigError when ``database_path`` is that database, or holds anything but an
    earlier demo (which is replaced). ``on_night`` is told each night as it ends.
    """
    if nights < 1:
        raise ConfigError("the demo needs at least one night")
    demo = DemoResult(database_path, replaced=_clear_target(database_path, protected_url))
    now = datetime.now(timezone.utc)
    from .imitation.world import SampleWorld  # only the demo serves the imitation

    world = SampleWorld(batch_count, seed=seed, start=now - timedelta(days=nights - 1))
    demo.deleted_batch = world.doomed
    ids = IdFile(DEMO_SOURCE, batch_ids=world.id_file_ids())
    token = secrets.token_urlsafe(16)
    planned = _PlannedFailures(world.doomed)
    log.addFilter(planned)
    try:
        with world.serve(token=token) as api:
            settings = Settings(
                api_token=token,
                api_url=api.url,
                database_url=sqlite_url(database_path.resolve()),
            )
            for number in range(1, nights + 1):
                days_ago = nights - number
                changes = None
                if number > 1:
                    changes = world.advance(now - timedelta(days=days_ago))
                    world.publish(api)
                with clock_set_back(timedelta(days=days_ago)):
                    result = sync(
                        settings, ids, all_workspaces=True, responses=responses, submissions=True
                    )
                night = DemoNight(number, now - timedelta(days=days_ago), result, changes)
                demo.nights.append(night)
                if on_night is not None:
                    on_night(night)
    finally:
        log.removeFilter(planned)
    return demo


class _PlannedFailures(logging.Filter):
    """Keeps the demo's planned failure (the deleted batch) out of the log: the demo says it
    once, in its own words."""

    def __init__(self, batch_id: str | None) -> None:
        super().__init__()
        self.batch_id = batch_id

    def filter(self, record: logging.LogRecord) -> bool:
        event = getattr(record, "event", None)
        if event == "batch_failed":
            return getattr(record, "batch_id", None) != self.batch_id
        if event == "removed_upstream":
            return getattr(record, "batch_ids", None) != [self.batch_id]
        return True


def _clear_target(path: Path, protected_url: str | None) -> bool:
    """Refuse a database the demo must not write into; remove an earlier demo's. Whether one
    was removed."""
    protected = _sqlite_file(protected_url)
    if protected is not None and protected.resolve() == path.resolve():
        raise ConfigError(
            f"{path} is the database `prolific-etl sync` writes to ({protected_url}); the demo "
            "would mix its made-up batches into it. Leave --database out (the demo then writes "
            f"{DEFAULT_DATABASE}) or name another file"
        )
    if not path.exists():
        return False
    verdict = _earlier_demo(path)
    if verdict is not None:
        raise ConfigError(
            f"{path} {verdict}; the demo writes only into a new file or an earlier demo's "
            f"database. Leave --database out (the demo then writes {DEFAULT_DATABASE}) or name "
            "another file"
        )
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return True


def _earlier_demo(path: Path) -> str | None:
    """None when ``path`` is empty or an earlier demo's database; else what it holds instead."""
    if path.is_dir():
        return "is a directory"
    if path.stat().st_size == 0:
        return None
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
            if not tables:
                return None
            if "etl_runs" not in tables:
                return "holds tables that prolific-etl did not make"
            sources = [s for (s,) in connection.execute("SELECT DISTINCT id_source FROM etl_runs")]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        return f"is not a SQLite database the demo can read ({exc})"
    others = [source for source in sources if not is_demo_run(source)]
    if others:
        return f"holds runs that are not the demo's (from {others[0]})"
    if not sources:
        return "holds prolific-etl's tables but no demo run"
    return None


def _sqlite_file(url: str | None) -> Path | None:
    if not url:
        return None
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


# --- three questions the views answer ------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    question: str
    view: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    more: int = 0  # rows left out

    def lines(self) -> list[str]:
        """The question, then its answer as an aligned table."""
        lines = [f"{self.question} ({self.view})"]
        if not self.rows:
            return [*lines, "  (none)"]
        columns = zip(self.header, *self.rows, strict=True)
        widths = [max(len(cell) for cell in column) for column in columns]
        for row in (self.header, *self.rows):
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            lines.append(("  " + "  ".join(cells)).rstrip())
        if self.more:
            lines.append(f"  … and {self.more} more")
        return lines


def answer_questions(database_url: str, *, limit: int = 5) -> list[Answer]:
    """Three questions a team asks each morning, answered from the reporting views."""
    processing = VIEWS_BY_NAME["v_batch_processing_time"].table
    removed = VIEWS_BY_NAME["v_batches_removed_upstream"].table
    engine = connect(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            durations = connection.execute(
                select(
                    processing.c.final_status,
                    func.count(),
                    func.avg(processing.c.seconds_processing),
                    func.max(processing.c.seconds_processing),
                )
                .where(processing.c.final_status.is_not(None))
                .group_by(processing.c.final_status)
                .order_by(processing.c.final_status.desc())
            ).all()
            still = connection.execute(
                select(processing.c.batch_name, processing.c.processing_started_at)
                .where(processing.c.finished_at.is_(None))
                .order_by(processing.c.processing_started_at, processing.c.batch_id)
            ).all()
            gone = connection.execute(
                select(
                    removed.c.name, removed.c.workspace_title, removed.c.removed_upstream_at
                ).order_by(removed.c.removed_upstream_at, removed.c.batch_id)
            ).all()
    finally:
        engine.dispose()
    return [
        Answer(
            "How long does processing take, from PROCESSING to READY or ERROR?",
            "v_batch_processing_time",
            ("outcome", "batches", "average", "longest"),
            [(status, str(n), _days(mean), _days(most)) for status, n, mean, most in durations],
        ),
        Answer(
            "Which batches are still processing, and since when?",
            "v_batch_processing_time",
            ("batch", "processing since"),
            [(name, _when(since)) for name, since in still[:limit]],
            more=max(0, len(still) - limit),
        ),
        Answer(
            "Which batches are gone from their workspace?",
            "v_batches_removed_upstream",
            ("batch", "workspace", "found gone"),
            [(name, title or "", _when(at)) for name, title, at in gone[:limit]],
            more=max(0, len(gone) - limit),
        ),
    ]


def _days(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / 3600:.1f} hours"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def describe_failures(failures: Sequence[Failure]) -> str:
    kinds: dict[str, int] = {}
    for failure in failures:
        kinds[failure.error_kind] = kinds.get(failure.error_kind, 0) + 1
    return ", ".join(f"{count} {kind}" for kind, count in kinds.items())
