"""The named errors of the job.

Two families: run-level errors stop the whole run and map to an exit code in the CLI;
item-level errors (ItemError) fail one item (a batch, a workspace's listing, a dataset's
details, a batch's responses or one response), are recorded in ``etl_failures`` and the run
goes on.
"""

from __future__ import annotations

from dataclasses import dataclass


class EtlError(Exception):
    """Base class of every error this package raises on purpose.

    ``run_result`` is the SyncResult of the run it stopped, when a run had started.
    """

    run_result = None

    def for_command(self) -> str:
        """The message as the ``prolific-etl`` command says it: the same, unless the fix is
        said differently there (a flag instead of an argument)."""
        return str(self)


# --- run-level -------------------------------------------------------------------------------


class ConfigError(EtlError):
    """A setting is missing or malformed (exit code 2)."""


class MissingTokenError(ConfigError):
    """No API token was given (exit code 2); each audience is told how to give one."""

    _WHERE = (
        "no API token: set PROLIFIC_API_TOKEN (or PROLIFIC_API_TOKEN_FILE, naming a file "
        "that holds it) in the environment or in .env in the working directory"
    )

    def __init__(self) -> None:
        super().__init__(f"{self._WHERE}, or pass load_settings(api_token=...)")

    def for_command(self) -> str:
        return (
            f"{self._WHERE}, or pass --token. To try prolific-etl without a token: "
            "prolific-etl demo, or prolific-etl fake-api"
        )


class InputFileError(EtlError):
    """The ID file cannot be read or holds no valid batch ID (exit code 2).

    ``bad_lines`` carries the lines that were rejected, so that they can be shown too.
    """

    def __init__(self, message: str, bad_lines: tuple = ()) -> None:
        super().__init__(message)
        self.bad_lines = bad_lines


class TokenRejectedError(EtlError):
    """The API answered 401: the token is wrong, expired or revoked (exit code 3)."""


class ApiUnreachableError(EtlError):
    """The run cannot talk to the API at all, and no retry would change that (exit code 3):
    the TLS certificate cannot be verified, the host name does not resolve, the proxy cannot be
    reached, or batch after batch could not even connect. The message names the cause and the
    fix. Not to be confused with RetriesExhaustedError, which is one batch's failure."""


class DatabaseUnavailableError(EtlError):
    """The database cannot be reached or written to (exit code 3)."""


class SchemaVersionError(EtlError):
    """The database's schema is not the one this version writes: outdated (run ``prolific-etl
    db upgrade``), made by a newer version, or not made by prolific-etl (exit code 2)."""


class RunLockedError(EtlError):
    """Another run holds the database's run lock (exit code 4)."""


class UnknownRunError(EtlError):
    """``prolific-etl runs show`` was given a run id the run log does not hold (exit code 2)."""


class MissingSchemaError(ConfigError):
    """PostgreSQL: the search_path in DATABASE_URL names no schema that exists, so there is
    nowhere to read or create the tables (exit code 2). ``problem`` and ``fix`` are the two
    halves of the message."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}: {fix}")
        self.problem = problem
        self.fix = fix


class UnknownRelationError(ConfigError):
    """``export`` was asked for a table or view that the database does not have (exit code 2)."""


# --- item-level ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What failed, named once for the run log, the JSON logs, ``runs show``, the report and
    the CLI: its ``kind`` and its ``id``.

    ``kind`` is one of SUBJECT_KINDS: an ID file's ``line`` (``id`` its number), a ``batch``,
    one ``response``, a ``dataset``'s details, a ``workspace``'s batch listing, or the list of
    ``workspaces`` itself (no ``id``).
    """

    kind: str
    id: str | None = None

    @classmethod
    def of(cls, failure: object) -> Subject:
        """The subject of a failure (an ItemError, a run-log Failure, a row read back) from the
        ids it holds; the narrowest one names it (a response before its batch)."""
        for kind, name in (
            ("response", "response_id"),
            ("batch", "batch_id"),
            ("line", "line_number"),
            ("dataset", "dataset_id"),
            ("workspace", "workspace_id"),
        ):
            value = getattr(failure, name, None)
            if value is not None and value != "":
                return cls(kind, str(value))
        return cls("workspaces")

    @property
    def event(self) -> str:
        """The ``event`` of the JSON log line that says this subject failed."""
        return "bad_id_line" if self.kind == "line" else f"{self.kind}_failed"

    def __str__(self) -> str:
        if self.kind == "workspaces":
            return "the list of workspaces"
        return f"{self.kind} {self.id}"


SUBJECT_KINDS = ("line", "batch", "response", "dataset", "workspace", "workspaces")


class ItemError(EtlError):
    """One item could not be exported; the run records it and moves on.

    The item is a batch (``batch_id``), or, during discovery, a workspace's batch listing
    (``workspace_id``) or a dataset's details (``dataset_id``), or a batch's responses
    (``batch_id``, and ``response_id`` for one response). ``stage`` is where it failed (fetch,
    validate, load; listing, dataset and responses for the others), ``kind`` a short stable
    name for the error that BI queries can group by.
    """

    stage = "fetch"
    kind = "batch_error"
    field: str | None = None  # the payload field or the column at fault, when there is one

    def __init__(
        self,
        batch_id: str | None,
        message: str,
        *,
        http_status: int | None = None,
        api_detail: str | None = None,
        workspace_id: str | None = None,
        dataset_id: str | None = None,
        response_id: str | None = None,
        stage: str | None = None,
    ) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.message = message
        self.http_status = http_status
        self.api_detail = api_detail  # the API's own error body, when it sent the documented one
        self.workspace_id = workspace_id
        self.dataset_id = dataset_id
        self.response_id = response_id
        if stage is not None:
            self.stage = stage

    @property
    def subject(self) -> Subject:
        """What failed: ``batch <id>``, ``response <id>``, ``dataset <id>``, ``workspace <id>``."""
        return Subject.of(self)

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"


class NotFoundError(ItemError):
    """404 or 403: the item does not exist or is not visible to this token."""

    kind = "not_found"


class RequestRejectedError(ItemError):
    """The API refused the request for this item (400 or another 4xx)."""

    kind = "request_rejected"


class RetriesExhaustedError(ItemError):
    """Server errors, timeouts or dropped connections outlasted this batch's retries."""

    kind = "api_unavailable"  # the stable name predates the class's; BI queries group by it
    # What arrived of a streamed answer (a batch's responses) before it broke off on the last
    # attempt, positioned at its start; whoever catches the error reads and closes it.
    partial = None


class RateLimitedError(ItemError):
    """The API refused every request (HTTP 429) for longer than ``--max-retry-wait``.

    A 429 is never the batch's fault: this batch was simply not fetched before the run gave up
    waiting for the API to accept requests again. The next run fetches it.
    """

    kind = "rate_limited"


class ResponseTooLargeError(ItemError):
    """The API's answer for this batch was larger than the client accepts (MAX_BODY_BYTES)."""

    kind = "response_too_large"


class InvalidResponseError(ItemError):
    """A 200 whose body is not a JSON object (HTML error page, truncated body, ...)."""

    stage = "validate"
    kind = "invalid_response"


class InvalidPayloadError(ItemError):
    """The JSON does not match the spec; ``field`` names the first offending field."""

    stage = "validate"
    kind = "invalid_payload"

    def __init__(
        self, batch_id: str | None, message: str, *, field: str | None = None, **where
    ) -> None:
        super().__init__(batch_id, message, **where)
        self.field = field


class TruncatedListingError(ItemError):
    """A workspace's listing holds fewer (or more) batches than its ``meta.count`` says: it may
    be cut short. What it holds is still loaded, and nothing is marked removed from it."""

    stage = "listing"
    kind = "truncated_listing"


class TruncatedResponsesError(ItemError):
    """A batch's responses hold fewer (or more) records than their ``meta.count`` says: they
    may be cut short. What arrived is still loaded, and no response is marked removed."""

    stage = "responses"
    kind = "truncated_responses"


class DuplicateResponseError(ItemError):
    """A response id the API sent more than once: twice in one batch's answer, or in the
    answers of two batches. The first copy is kept (in its first batch: the one it is stored
    under); each other copy is recorded with this kind and not written, so that a rerun with
    nothing changed upstream writes nothing."""

    stage = "responses"
    kind = "duplicate_response"


class UnexpectedItemError(ItemError):
    """Something this package did not foresee went wrong with one batch (a bug to report)."""

    kind = "unexpected_error"


class RowsRefusedError(ItemError):
    """The database refused this item's rows, or would; nothing of it was written.

    ``field`` names the column (``table.column``) whose value is too large, when that is why.
    """

    stage = "load"
    kind = "load_error"

    def __init__(
        self, batch_id: str | None, message: str, *, field: str | None = None, **where
    ) -> None:
        super().__init__(batch_id, message, **where)
        self.field = field
