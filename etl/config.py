"""Settings: command-line flag, then environment, then a ``.env`` file in the working directory."""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from .errors import ConfigError, MissingTokenError
from .text import redact_api_url, redact_url

log = logging.getLogger("etl")

DEFAULT_API_URL = "https://api.prolific.com"
DEFAULT_DATABASE_URL = "sqlite:///prolific.db"
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0
# A bound that no sane timeout reaches, and that keeps libcurl's whole-millisecond and
# whole-second timeouts far from overflowing.
MAX_TIMEOUT = 3600.0

# Bare dialect names map to the drivers this package installs, so that the URL a team already
# uses for its BI tool (postgresql://..., mysql://...) works as written.
_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: what fits in a header
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_SUPPORTED_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")
# The optional dependency (pyproject.toml) that installs each of those drivers.
_EXTRAS = {
    "postgresql+psycopg": "postgres",
    "mysql+pymysql": "mysql",
    "mariadb+pymysql": "mysql",
}


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know about where to read from and write to."""

    api_token: str
    api_url: str = DEFAULT_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    responses: bool = False  # ETL_RESPONSES: load every synced batch's responses too
    submissions: bool = False  # ETL_SUBMISSIONS: studies, submissions and costs too

    def __repr__(self) -> str:  # never show the token or a password, even in a traceback
        return (
            f"Settings(api_url={redact_api_url(self.api_url)!r}, "
            f"database_url={redact_url(self.database_url)!r}, "
            f"connect_timeout={self.connect_timeout}, read_timeout={self.read_timeout})"
        )


def load_settings(
    *,
    api_token: str | None = None,
    api_url: str | None = None,
    database_url: str | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    responses: bool | None = None,
    submissions: bool | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
) -> Settings:
    """Resolve settings from explicit values (flags), the environment and a ``.env`` file.

    Raises ConfigError when the token is missing or a value is malformed.
    """
    sources = _Sources(environ, dotenv_path)
    pick = sources.pick
    token = (pick(api_token, "PROLIFIC_API_TOKEN") or "").strip()
    if not token:
        token = _token_from_a_file(pick(None, "PROLIFIC_API_TOKEN_FILE"), sources.environ)
    if not token:
        raise MissingTokenError()
    if not _TOKEN.fullmatch(token):
        # Said without showing the token: it may be right but for a stray character.
        raise ConfigError(
            "PROLIFIC_API_TOKEN holds a space, line break or other character a token cannot "
            "have; check for a stray quote or a copy-paste artefact"
        )
    return Settings(
        api_token=token,
        api_url=_check_api_url(pick(api_url, "PROLIFIC_API_URL") or DEFAULT_API_URL),
        database_url=normalize_database_url(
            pick(database_url, "DATABASE_URL") or DEFAULT_DATABASE_URL
        ),
        connect_timeout=_timeout(
            pick(connect_timeout, "ETL_CONNECT_TIMEOUT"),
            "ETL_CONNECT_TIMEOUT",
            DEFAULT_CONNECT_TIMEOUT,
        ),
        read_timeout=_timeout(
            pick(read_timeout, "ETL_READ_TIMEOUT"), "ETL_READ_TIMEOUT", DEFAULT_READ_TIMEOUT
        ),
        responses=_switch(pick(responses, "ETL_RESPONSES"), "ETL_RESPONSES"),
        submissions=_switch(pick(submissions, "ETL_SUBMISSIONS"), "ETL_SUBMISSIONS"),
    )


# The name systemd's LoadCredential= gives the token in $CREDENTIALS_DIRECTORY.
CREDENTIAL_NAME = "prolific-api-token"


def _token_from_a_file(path: str | None, environ: Mapping[str, str]) -> str:
    """The token kept in a file, so that it is not in a crontab, a unit file or the process
    list: ``PROLIFIC_API_TOKEN_FILE``, else systemd's ``$CREDENTIALS_DIRECTORY/prolific-api-token``
    when that exists; "" when neither names a file."""
    if path is None:
        credentials = environ.get("CREDENTIALS_DIRECTORY")
        if not credentials or not (Path(credentials) / CREDENTIAL_NAME).is_file():
            return ""
        path = str(Path(credentials) / CREDENTIAL_NAME)
    return read_token_file(Path(path))


def read_token_file(path: Path) -> str:
    """The token in ``path`` (surrounding whitespace dropped). Raises ConfigError when it
    cannot be read, or when its group or others may read or write it: a token never expires
    and carries the account's every permission."""
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise ConfigError(
                f"the token file {path} can be read by its group or others (mode "
                f"{mode & 0o777:o}): run `chmod 600 {path}`"
            )
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the token file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the token file {path} is not text: it holds the token alone") from None
    if not token:
        raise ConfigError(f"the token file {path} is empty: write the token into it")
    return token


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _switch(raw: str | None, name: str) -> bool:
    """A setting that is on or off: 1/true/yes/on or 0/false/no/off, any case."""
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}")


# Read by requests from the process environment; a .env file may hold them too.
NETWORK_VARIABLES = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
)


def export_network_settings(
    *, environ: dict[str, str] | None = None, dotenv_path: Path | None = None
) -> list[str]:
    """Copy proxy and CA-bundle variables from ``.env`` into the environment, where requests
    reads them, unless the environment already sets them (it wins, as for every setting).

    The command does this before a run; a library caller sets its own environment. Returns
    the names copied.
    """
    environ = os.environ if environ is None else environ
    dotenv = _Sources(environ, dotenv_path).dotenv
    copied = [name for name in NETWORK_VARIABLES if dotenv.get(name) and name not in environ]
    for name in copied:
        environ[name] = dotenv[name]
    return copied


def load_database_url(
    database_url: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
) -> str:
    """The database URL alone, resolved like ``load_settings`` does, for commands that do not
    talk to the API (and so need no token)."""
    raw = _Sources(environ, dotenv_path).pick(database_url, "DATABASE_URL")
    return normalize_database_url(raw or DEFAULT_DATABASE_URL)


# Every name a .env file may set; anything else there is a typo or belongs to another tool.
SETTING_NAMES = (
    "PROLIFIC_API_TOKEN",
    "PROLIFIC_API_TOKEN_FILE",
    "PROLIFIC_API_URL",
    "DATABASE_URL",
    "ETL_CONNECT_TIMEOUT",
    "ETL_READ_TIMEOUT",
    "ETL_RESPONSES",
    "ETL_SUBMISSIONS",
    *NETWORK_VARIABLES,
)
_warned_unknown: set[tuple[str, str]] = set()


def unknown_settings(names: Iterable[str]) -> list[str]:
    """A sentence for each of ``names`` (the keys of a .env file) that prolific-etl does not
    read, with the setting it may have meant: a mistyped ``DATABSE_URL`` would otherwise be
    ignored, and the run write to the default database."""
    sentences = []
    for name in names:
        if name in SETTING_NAMES:
            continue
        close = difflib.get_close_matches(name.upper(), SETTING_NAMES, n=1, cutoff=0.75)
        meant = f"; did you mean {close[0]}?" if close else ""
        sentences.append(
            f".env sets {name}, which is not a prolific-etl setting and is ignored{meant}"
        )
    return sentences


class _Sources:
    """Flag, then environment, then ``.env`` in the working directory."""

    def __init__(self, environ: Mapping[str, str] | None, dotenv_path: Path | None) -> None:
        self.environ = os.environ if environ is None else environ
        path = Path(".env") if dotenv_path is None else dotenv_path
        self.dotenv = {k: v for k, v in dotenv_values(path).items() if v is not None}
        self._warn_unknown(path)

    def _warn_unknown(self, path: Path) -> None:
        # Once per file and name: a command reads its settings in several steps.
        where = str(path.resolve()) if self.dotenv else ""
        fresh = [name for name in self.dotenv if (where, name) not in _warned_unknown]
        for name in fresh:
            _warned_unknown.add((where, name))
        for sentence in unknown_settings(fresh):
            log.warning("%s", sentence, extra={"event": "unknown_setting"})

    def pick(self, flag: object, name: str) -> str | None:
        if flag is not None:
            return str(flag)
        if self.environ.get(name):
            return self.environ[name]
        return self.dotenv.get(name) or None


def normalize_database_url(raw: str) -> str:
    """Parse a database URL and fill in the driver (and utf8mb4 for MySQL) when left out."""
    try:
        url = make_url(raw)
        url.port  # noqa: B018 - a port that is not a number only fails when read
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"DATABASE_URL is not a database URL: {redact_url(raw)}") from exc
    drivername = _DEFAULT_DRIVERS.get(url.drivername, url.drivername)
    extra = _EXTRAS.get(drivername) if url.drivername in _DEFAULT_DRIVERS else None
    url = url.set(drivername=drivername)
    _check_supported(url, raw, extra)
    if url.get_backend_name() in ("mysql", "mariadb"):
        if not url.database:
            raise ConfigError(
                f"DATABASE_URL names no database: {redact_url(raw)} (add /<database> at the end)"
            )
        charset = url.query.get("charset", "utf8mb4")
        if charset != "utf8mb4":
            raise ConfigError(
                f"DATABASE_URL asks for charset={charset}; prolific-etl needs utf8mb4 to store "
                "every character a batch can hold (leave charset out, it is set for you)"
            )
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url.render_as_string(hide_password=False)


def _check_supported(url: URL, raw: str, extra: str | None = None) -> None:
    """A database and driver this package can write to, and a SQLite database that is a file.

    ``extra`` is the optional dependency that installs the driver a bare ``postgresql://`` or
    ``mysql://`` URL stands for, to name in the fix when it is missing.
    """
    where = redact_url(raw)
    if url.get_backend_name() not in _SUPPORTED_BACKENDS:
        raise ConfigError(
            f"DATABASE_URL names an unsupported database {url.get_backend_name()!r} ({where}): "
            "use sqlite:///FILE, postgresql://..., mysql://... or mariadb://..."
        )
    try:
        dialect = url.get_dialect()
        dialect.import_dbapi()
    except (NoSuchModuleError, ImportError):
        if extra is not None:
            raise ConfigError(
                f"DATABASE_URL needs the {url.get_backend_name()} driver "
                f"{url.get_driver_name()!r}, which is not installed ({where}): install it with "
                f"pip install 'prolific-etl[{extra}]'"
            ) from None
        raise ConfigError(
            f"DATABASE_URL asks for the driver {url.get_driver_name()!r}, which is not "
            f"installed ({where}): leave the driver out, as in "
            f"{url.get_backend_name()}://..., to use the one prolific-etl installs"
        ) from None
    if dialect.is_async:
        raise ConfigError(
            f"DATABASE_URL asks for the asyncio driver {url.get_driver_name()!r} ({where}): "
            f"leave the driver out, as in {url.get_backend_name()}://..."
        )
    if url.get_backend_name() == "sqlite" and _in_memory(url):
        raise ConfigError(
            "DATABASE_URL names an in-memory SQLite database, whose rows would be lost when "
            "the command ends: name a file, such as sqlite:///prolific.db"
        )
    if url.get_backend_name() == "sqlite":
        _check_sqlite_path(url)
    elif url.port is not None and not 0 < url.port < 65536:
        raise ConfigError(
            f"DATABASE_URL names port {url.port}, which no server can listen on ({where}): "
            "a port is 1 to 65535"
        )
    if url.get_backend_name() == "postgresql" and not url.database:
        # PostgreSQL would connect to the database named like the user (often "postgres",
        # the server's own) and create the schema there.
        raise ConfigError(f"DATABASE_URL names no database: {where} (add /<database> at the end)")


def _check_sqlite_path(url: URL) -> None:
    """A SQLite file that can be opened or created: not a directory, in one that exists."""
    if "uri" in url.query or not url.database:  # a file: URI is SQLite's to read
        return
    path = Path(url.database)
    if path.is_dir():
        raise ConfigError(
            f"DATABASE_URL names the directory {path}, not a SQLite file: name a file in it, "
            f"such as sqlite:///{path / 'prolific.db'}"
        )
    if not path.exists() and not path.parent.is_dir():
        raise ConfigError(
            f"DATABASE_URL names {path}, but the directory {path.parent} does not exist: "
            "create the directory or point DATABASE_URL elsewhere"
        )


def _in_memory(url: URL) -> bool:
    if url.database in (None, "", ":memory:"):
        return True
    uri = url.query.get("uri") in ("true", "1")  # sqlite:///file:...?uri=true
    return uri and (url.query.get("mode") == "memory" or url.database.startswith("file::memory:"))


# The user and password of a URL: everything between "//" and the last "@" before the path
# (greedy, so that a password holding a bare "@" is hidden whole).
def _check_api_url(raw: str) -> str:
    shown = redact_api_url(raw)
    if not raw.startswith(("http://", "https://")):
        raise ConfigError(f"PROLIFIC_API_URL must start with http:// or https://, got {shown!r}")
    try:
        parts = urllib.parse.urlsplit(raw)
        parts.port  # noqa: B018 - a port that is not a number, or too big, only fails when read
    except ValueError as exc:
        raise ConfigError(f"PROLIFIC_API_URL is not a valid URL ({exc}): {shown!r}") from None
    if not parts.hostname:
        raise ConfigError(f"PROLIFIC_API_URL names no host: {shown!r}")
    return raw.rstrip("/")


def _timeout(raw: str | None, name: str, default: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise ConfigError(
            f"{name} must be a number of seconds greater than 0 and at most {MAX_TIMEOUT:g}, "
            f"got {raw!r}"
        )
    return value
