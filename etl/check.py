"""``prolific-etl check``: is this setup ready for a nightly run, and if not, what to do.

Each check reports passed, failed (with the fix) or skipped (when an earlier failure makes it
meaningless). Nothing is kept: the database check proves that a sync could write (see
store/probe.py) in a transaction it rolls back; no SQLite file is created.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from .config import (
    Settings,
    export_network_settings,
    load_database_url,
    load_settings,
)
from .errors import (
    ApiUnreachableError,
    ConfigError,
    DatabaseUnavailableError,
    EtlError,
    InputFileError,
    ItemError,
    MissingSchemaError,
    RetriesExhaustedError,
    TokenRejectedError,
)
from .source.client import WORKSPACES_PATH, ProlificClient, RetryPolicy
from .source.ids import read_id_file
from .source.validate import parse_batch
from .store.db import connect, missing_sqlite_file
from .store.migrate import schema_state
from .store.probe import prove_writable
from .text import redact, redact_api_url, redact_url, storable

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
# A batch ID nobody has: asking for it costs the API a lookup and tells 401 from the rest.
PROBE_BATCH_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def run_checks(
    *,
    api_token: str | None = None,
    api_url: str | None = None,
    database_url: str | None = None,
    ids_path: str | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
) -> list[Check]:
    """Check configuration, token, database, schema and (when given) the ID file."""
    checks: list[Check] = []
    settings: Settings | None = None
    export_network_settings()
    try:
        settings = load_settings(
            api_token=api_token,
            api_url=api_url,
            database_url=database_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        checks.append(
            Check(
                "configuration",
                PASSED,
                f"API {redact_api_url(settings.api_url)}, "
                f"database {redact_url(settings.database_url)}",
            )
        )
    except ConfigError as error:
        checks.append(
            Check(
                "configuration",
                FAILED,
                error.for_command(),
                "set it in the environment or in .env in the working directory "
                "(`prolific-etl examples .env.example` lists every setting)",
            )
        )
    checks.append(_check_token(settings))
    if settings is not None:
        checks += _check_database(settings.database_url)
    else:
        try:
            checks += _check_database(load_database_url(database_url))
        except ConfigError as error:
            checks += [
                Check("database", FAILED, str(error), "fix DATABASE_URL"),
                Check("schema", SKIPPED, "no database"),
            ]
    checks.append(_check_id_file(ids_path))
    return checks


def _check_token(settings: Settings | None) -> Check:
    name = "API token"
    if settings is None:
        return Check(name, SKIPPED, "no usable configuration")
    api = redact_api_url(settings.api_url)
    client = ProlificClient(
        settings.api_url,
        settings.api_token,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retry_policy=RetryPolicy(max_attempts=1),
    )
    with client:
        try:
            body = client.fetch_batch(PROBE_BATCH_ID)
        except TokenRejectedError:
            return Check(
                name,
                FAILED,
                f"{api} rejected the token (HTTP 401)",
                "create a new token in Prolific's workspace settings and set PROLIFIC_API_TOKEN",
            )
        except ApiUnreachableError as error:
            # A host name that does not resolve, an untrusted TLS certificate, a proxy that
            # cannot be reached: no retry helps, and the message says what to check.
            return Check(name, FAILED, _from_the_api(str(error), settings))
        except RetriesExhaustedError as error:
            return Check(
                name,
                FAILED,
                f"cannot get an answer from {api}: {_from_the_api(error.message, settings)}",
                "check PROLIFIC_API_URL, the network and any HTTPS_PROXY; try again later",
            )
        except ItemError as error:
            if error.api_detail is None:  # not the API's documented error body
                return _not_the_api(api, f"HTTP {error.http_status}")
            # A wrong path (a base URL with /api/v1 twice, say) is also a 404 in the API's
            # shape: only an endpoint that always exists tells the two apart.
            wrong_path = _not_listing_workspaces(client)
            if wrong_path is not None:
                return _not_the_api(api, wrong_path)
            return Check(
                name,
                PASSED,
                f"accepted by {api} (HTTP {error.http_status} for a made-up batch: "
                f"{_from_the_api(error.api_detail, settings)})",
            )
    try:
        parse_batch(PROBE_BATCH_ID, body)
    except ItemError:
        return _not_the_api(api, "HTTP 200 with something that is not a batch")
    return Check(name, PASSED, f"accepted by {api}")


def _not_listing_workspaces(client: ProlificClient) -> str | None:
    """None when ``GET /api/v1/workspaces/`` answers a workspace list, as Prolific's API
    does for every accepted token; otherwise what it answered instead."""
    try:
        body = client.list_workspaces()
    except ItemError as error:
        return f"HTTP {error.http_status} for {WORKSPACES_PATH}"
    except EtlError as error:
        return f"{type(error).__name__} for {WORKSPACES_PATH}"
    try:
        listing = json.loads(body)
    except ValueError:
        listing = None
    if not isinstance(listing, dict) or not isinstance(listing.get("results"), list):
        return f"HTTP 200 for {WORKSPACES_PATH} with something that is not a workspace list"
    return None


def _from_the_api(text: str, settings: Settings) -> str:
    """What the API said, fit to print: one line, no part of the token."""
    return storable(redact(text, settings.api_token))


def _not_the_api(api: str, answer: str) -> Check:
    return Check(
        "API token",
        FAILED,
        f"{api} answered {answer}, not as Prolific's API does; the token is not checked",
        "check PROLIFIC_API_URL: it is the API's base URL, such as https://api.prolific.com",
    )


def _check_database(url: str) -> list[Check]:
    where = redact_url(url)
    missing_file = missing_sqlite_file(url)
    if missing_file is not None:
        if not missing_file.parent.is_dir():
            return [
                Check(
                    "database",
                    FAILED,
                    f"{where}: the directory {missing_file.parent} does not exist",
                    "create the directory or point DATABASE_URL elsewhere",
                ),
                Check("schema", SKIPPED, "no database"),
            ]
        unwritable = _unwritable(url)
        if unwritable is not None:
            return [unwritable, Check("schema", SKIPPED, "no database")]
        return [
            Check("database", PASSED, f"{where}: the first sync creates this SQLite file"),
            Check("schema", PASSED, "created by the first sync"),
        ]
    try:
        engine = connect(url, pool_size=1)
    except DatabaseUnavailableError as error:
        return [
            Check(
                "database",
                FAILED,
                str(error),
                "check DATABASE_URL (host, port, user, password, database name) and that the "
                "server is running and reachable from here",
            ),
            Check("schema", SKIPPED, "no database"),
        ]
    except MissingSchemaError as error:
        return [
            Check("database", PASSED, f"{where}: reachable"),
            Check("schema", FAILED, error.problem, error.fix),
        ]
    try:
        state = schema_state(engine)
    except DatabaseUnavailableError as error:
        return [
            Check("database", FAILED, str(error), "point DATABASE_URL at the job's database"),
            Check("schema", SKIPPED, "cannot read it"),
        ]
    finally:
        engine.dispose()
    database = _unwritable(url) or Check("database", PASSED, f"{where}: reachable and writable")
    if state.is_empty or state.is_current:
        return [database, Check("schema", PASSED, state.describe())]
    fix = (
        "upgrade prolific-etl to the version that made this database"
        if not state.known
        else "run `prolific-etl db upgrade` (or sync with --auto-migrate)"
    )
    return [database, Check("schema", FAILED, f"the database is at {state.describe()}", fix)]


def _unwritable(url: str) -> Check | None:
    """A failed "database" check when a sync could not write there; None when it could."""
    try:
        prove_writable(url)
    except ConfigError as error:  # a SQLite file or directory this user cannot write
        return Check(
            "database",
            FAILED,
            str(error),
            "let the user that runs the job write the SQLite file and its directory (chown, "
            "chmod u+w), or point DATABASE_URL at a writable place",
        )
    except DatabaseUnavailableError as error:
        return Check(
            "database",
            FAILED,
            str(error),
            "connect as a user that may write the prolific-etl tables (GRANT SELECT, INSERT, "
            "UPDATE, DELETE on them, and CREATE on the schema for the first sync and upgrades), "
            "and not to a read-only replica",
        )
    return None


def _check_id_file(ids_path: str | None) -> Check:
    name = "ID file"
    if ids_path is None:
        return Check(name, SKIPPED, "no --ids given")
    try:
        id_file = read_id_file(ids_path)
    except InputFileError as error:
        lines = "".join(f"\n{bad}" for bad in error.bad_lines[:10])
        return Check(name, FAILED, f"{error}{lines}", "fix the path or the file's contents")
    if id_file.bad_lines:
        shown = "\n".join(str(bad) for bad in id_file.bad_lines[:10])
        more = len(id_file.bad_lines) - 10
        shown += f"\n... and {more} more" if more > 0 else ""
        return Check(
            name,
            FAILED,
            f"{len(id_file.bad_lines)} bad line(s) beside {len(id_file.batch_ids)} valid ID(s):"
            f"\n{shown}",
            "correct or delete those lines (comments start with #); a sync would record each "
            "as a failure and exit 1",
        )
    return Check(name, PASSED, f"{id_file.source}: {len(id_file.batch_ids)} batch ID(s)")


def render(checks: list[Check], echo: Callable[[str], None]) -> None:
    """Print the checks for a person: one line each, then the detail and fix of failures."""
    width = max(len(check.name) for check in checks)
    for check in checks:
        lines = check.detail.splitlines() or [""]
        echo(f"{check.status.upper():7} {check.name:{width}}  {lines[0]}")
        for line in lines[1:]:
            echo(f"{'':7} {'':{width}}    {line}")
        if check.fix and check.failed:
            echo(f"{'':7} {'':{width}}  fix: {check.fix}")
