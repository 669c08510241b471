"""The run's parts on their own, without HTTP: the streaming load loop, the ledger, and the
Subject that names a failure alike in the run log, the JSON log line and ``runs show``."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from etl.errors import (
    InvalidResponseError,
    ItemError,
    NotFoundError,
    Subject,
    TruncatedListingError,
)
from etl.job import SyncOptions, sync
from etl.output import JsonFormatter
from etl.reporting.run_history import run_details, run_details_text
from etl.run.ledger import FailedFast, Ledger
from etl.run.result import SyncResult
from etl.run.sources import Sources
from etl.run.stream import load_stream
from etl.store.db import connect
from etl.store.migrate import ensure_schema
from etl.store.runlog import Failure
from etl.store.schema import etl_failures, etl_runs

# --- the streaming load loop -----------------------------------------------------------------


@dataclass
class FakeListing:
    """A listing as the loop reads it: items, then perhaps a broken body or a wrong count."""

    held: list
    count: int | None = None
    breaks_after: int | None = None  # raise InvalidResponseError after this many items
    seen: int = 0

    def items(self):
        for index, item in enumerate(self.held):
            if self.breaks_after is not None and index == self.breaks_after:
                raise InvalidResponseError("b0", "the body broke off")
            self.seen = index + 1
            yield item
        if self.breaks_after is not None and self.breaks_after >= len(self.held):
            raise InvalidResponseError("b0", "the body broke off")

    @property
    def cut_short(self) -> bool:
        return self.count is not None and self.count != self.seen


@dataclass
class Item:
    id: str


@dataclass
class FakeKind:
    chunk_size: int = 2
    skip_repeats: bool = True  # else a repeat of a loaded item is recorded as a failure
    chunks: list[list] = field(default_factory=list)

    def key(self, item):
        return item.batch_id if isinstance(item, ItemError) else item.id

    def accept(self, item):
        return item if isinstance(item, ItemError) else f"rows of {item.id}"

    def repeated(self, item):
        return None if self.skip_repeats else NotFoundError(self.key(item), "again")

    def load(self, chunk):
        self.chunks.append(list(chunk))

    def truncated(self, listing):
        return TruncatedListingError(None, f"{listing.seen} of {listing.count}", workspace_id="w")


def test_a_whole_listing_is_loaded_chunk_by_chunk_and_says_it_was_whole():
    kind, failures, seen = FakeKind(), [], set()
    listing = FakeListing([Item("a"), Item("b"), Item("c")], count=3)
    assert load_stream(listing, kind, seen=seen, fail=failures.extend) is True
    assert kind.chunks == [["rows of a", "rows of b"], ["rows of c"]]
    assert failures == [] and seen == {"a", "b", "c"}


def test_an_item_listed_twice_is_loaded_once_and_a_failed_item_still_counts_as_seen():
    kind, seen = FakeKind(chunk_size=10), set()
    failed = NotFoundError("x", "gone")
    listing = FakeListing([Item("a"), failed, Item("a"), Item("b")])
    assert load_stream(listing, kind, seen=seen, fail=[].extend) is True
    assert kind.chunks == [["rows of a", failed, "rows of b"]]
    assert seen == {"a", "x", "b"}


def test_a_repeat_becomes_what_the_kind_says():
    kind = FakeKind(chunk_size=10, skip_repeats=False)
    load_stream(FakeListing([Item("a"), Item("a")]), kind, seen=set(), fail=[].extend)
    ((rows, again),) = kind.chunks
    assert (rows, again.batch_id, again.message) == ("rows of a", "a", "again")


# Issue #23 item 1: an invalid copy was taken as the item's, and its valid copy skipped.
def test_an_invalid_copy_does_not_keep_a_valid_copy_after_it_from_loading():
    kind, taken = FakeKind(chunk_size=10), {"z"}
    invalid = NotFoundError("a", "invalid copy")
    listing = FakeListing([invalid, Item("a"), Item("a"), Item("z")])
    assert load_stream(listing, kind, seen=set(), taken=taken, fail=[].extend) is True
    assert kind.chunks == [[invalid, "rows of a"]]
    assert taken == {"a", "z"}


def test_a_body_that_breaks_off_loads_what_came_and_is_not_whole():
    kind, failures = FakeKind(), []
    listing = FakeListing([Item("a"), Item("b"), Item("c"), Item("d")], breaks_after=3)
    assert load_stream(listing, kind, seen=set(), fail=failures.extend) is False
    assert kind.chunks == [["rows of a", "rows of b"], ["rows of c"]]
    assert [(f.error_kind, f.batch_id, f.message) for f in failures] == [
        ("invalid_response", "b0", "the body broke off")
    ]


def test_a_listing_cut_short_is_loaded_but_not_whole():
    kind, failures = FakeKind(), []
    listing = FakeListing([Item("a")], count=5)
    assert load_stream(listing, kind, seen=set(), fail=failures.extend) is False
    assert kind.chunks == [["rows of a"]]
    assert [(f.error_kind, f.workspace_id, f.message) for f in failures] == [
        ("truncated_listing", "w", "1 of 5")
    ]


def test_a_stop_after_a_chunk_ends_the_loop_there():
    class Stop(Exception):
        pass

    kind, calls = FakeKind(), []

    def check_stop():
        calls.append(len(kind.chunks))
        raise Stop

    with pytest.raises(Stop):
        load_stream(
            FakeListing([Item(c) for c in "abcde"]),
            kind,
            seen=set(),
            fail=[].extend,
            check_stop=check_stop,
        )
    assert kind.chunks == [["rows of a", "rows of b"]] and calls == [1]


# --- the ledger ------------------------------------------------------------------------------


@pytest.fixture
def engine(sqlite_url):
    engine = connect(sqlite_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


def _rows(engine, table):
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(table))]


def test_the_ledger_opens_records_and_closes_the_run_row(engine):
    told = []
    ledger = Ledger(
        engine, SyncResult(run_id=None, ids_read=3), SyncOptions(), on_progress=told.append
    )
    run_id = ledger.start(Sources(workspaces=("w1",)))
    ledger.result.fetched = 2
    ledger.fetched("b1")
    ledger.outcome("b1", "inserted")
    ledger.fail([Failure.from_item_error(NotFoundError("b2", "HTTP 404"))])
    ledger.result.inserted = 1
    ledger.finish("partial", None)

    (run,) = _rows(engine, etl_runs)
    assert (run["run_id"], run["status"], run["id_source"]) == (run_id, "partial", "workspaces w1")
    assert (run["ids_read"], run["fetched"], run["inserted"], run["failed"]) == (3, 2, 1, 1)
    assert run["finished_at"] is not None and run["error_message"] is None
    (failure,) = _rows(engine, etl_failures)
    assert (failure["run_id"], failure["batch_id"], failure["error_kind"]) == (
        run_id,
        "b2",
        "not_found",
    )
    assert [(p.batch_id, p.outcome, p.done, p.total, p.fetched, p.failed) for p in told] == [
        ("b1", "fetched", 0, 3, 1, 0),
        ("b1", "inserted", 1, 3, 1, 0),
        ("b2", "failed", 2, 3, 1, 1),
    ]


def test_the_ledger_writes_progress_in_the_callers_transaction(engine):
    from etl.store.load import LoadOutcome

    ledger = Ledger(engine, SyncResult(run_id=None, ids_read=2), SyncOptions())
    run_id = ledger.start(Sources())
    ledger.retries = lambda: 4
    ledger.result.fetched, ledger.result.inserted = 2, 1
    with engine.begin() as connection:
        ledger.record_progress(connection, LoadOutcome(inserted=["b2"], updated=["b3"]))
    (run,) = _rows(engine, etl_runs)
    assert (run["run_id"], run["status"]) == (run_id, "running")
    assert (run["fetched"], run["inserted"], run["updated"], run["retries"]) == (2, 2, 1, 4)


def test_under_fail_fast_the_first_failure_is_recorded_then_raised(engine):
    ledger = Ledger(engine, SyncResult(run_id=None), SyncOptions(fail_fast=True))
    ledger.start(Sources())
    with pytest.raises(FailedFast):
        ledger.fail([Failure.from_item_error(NotFoundError(None, "gone", dataset_id="d1"))])
    assert [f["dataset_id"] for f in _rows(engine, etl_failures)] == ["d1"]


def test_a_dry_run_ledger_keeps_its_books_without_a_database():
    ledger = Ledger(None, SyncResult(run_id=None, dry_run=True), SyncOptions(dry_run=True))
    ledger.fail([Failure.from_item_error(NotFoundError("b1", "HTTP 404"))])
    ledger.finish("partial", None)
    assert (ledger.result.status, ledger.result.failed, ledger.result.recorded) == (
        "partial",
        1,
        True,
    )


def test_the_token_is_hidden_from_recorded_failures_and_the_run_error(engine):
    token = "secret-token-0123456789"
    ledger = Ledger(engine, SyncResult(run_id=None), SyncOptions(), token=token)
    ledger.start(Sources())
    ledger.fail([Failure.from_item_error(NotFoundError("b1", f"echoed {token}"))])
    ledger.finish("failed", f"the API said {token}")
    assert [f["message"] for f in _rows(engine, etl_failures)] == ["echoed ***"]
    assert _rows(engine, etl_runs)[0]["error_message"] == "the API said ***"


# --- one Subject, one wording ----------------------------------------------------------------

SUBJECTS = [
    (NotFoundError("b1", "HTTP 404"), Subject("batch", "b1"), "batch_failed", "batch_id"),
    (
        NotFoundError(None, "HTTP 404", dataset_id="d1", stage="dataset"),
        Subject("dataset", "d1"),
        "dataset_failed",
        "dataset_id",
    ),
    (
        NotFoundError(None, "HTTP 403", workspace_id="w1", stage="listing"),
        Subject("workspace", "w1"),
        "workspace_failed",
        "workspace_id",
    ),
    (
        InvalidResponseError("b1", "field 'id'", response_id="r1", stage="responses"),
        Subject("response", "r1"),
        "response_failed",
        "response_id",
    ),
    (
        NotFoundError(None, "HTTP 500", stage="listing"),
        Subject("workspaces"),
        "workspaces_failed",
        None,
    ),
]


@pytest.mark.parametrize(("error", "subject", "event", "id_field"), SUBJECTS)
def test_a_failure_is_named_alike_in_the_run_log_the_json_line_and_runs_show(
    engine, caplog, error, subject, event, id_field
):
    # Issue 21: a dataset's failure was logged as "bad_id_line", without its dataset_id.
    ledger = Ledger(engine, SyncResult(run_id=None), SyncOptions())
    run_id = ledger.start(Sources())
    with caplog.at_level(logging.ERROR, logger="etl"):
        ledger.fail([Failure.from_item_error(error)])
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    line = json.loads(JsonFormatter().format(record))
    details = run_details(engine, run_id)
    (stored,) = details.failures

    assert error.subject == subject == ledger.result.failures[0].subject == stored.subject
    assert (line["event"], line["subject"]) == (event, str(subject))
    assert line["message"].startswith(f"{subject}: ")
    if id_field is not None:
        assert line[id_field] == subject.id == getattr(stored, id_field)
    shown = run_details_text(details, datetime.now(timezone.utc)).splitlines()
    assert shown[-2].startswith("what failed")
    assert shown[-1].startswith(f"{subject}  ")


def test_an_id_line_is_named_by_its_number_and_logged_as_a_bad_id_line():
    failure = Failure(stage="input", error_kind="bad_id_line", message="f:3: no", line_number=3)
    assert (failure.subject, str(failure.subject), failure.subject.event) == (
        Subject("line", "3"),
        "line 3",
        "bad_id_line",
    )
    assert str(failure) == "f:3: no"  # the message names the file and line already


# --- options as one object -------------------------------------------------------------------


def test_options_are_given_once_either_as_an_object_or_as_keywords(sqlite_url):
    from etl import Settings

    settings = Settings(api_token="t", api_url="http://127.0.0.1:9", database_url=sqlite_url)
    with pytest.raises(TypeError, match="not both"):
        sync(settings, workspaces=["w"], options=SyncOptions(), concurrency=2)
    assert SyncOptions(concurrency=0, chunk_size=-1) == SyncOptions(concurrency=1, chunk_size=1)
