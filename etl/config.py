"""Settings: command-line flag, then environment, then a ``.env`` file in the working directory."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import ConfigError

DEFAULT_API_URL = "https://api.prolific.com"
DEFAULT_DATABASE_URL = "sqlite:///prolific.db"
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0

# Bare dialect names map to the drivers this package installs, so that the URL a team already
# uses for its BI tool (postgresql://..., mysql://...) works as written.
_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: what fits in a header
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know about where to read from and write to."""

    api_token: str
    api_url: str = DEFAULT_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT

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
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
) -> Settings:
    """Resolve settings from explicit values (flags), the environment and a ``.env`` file.

    Raises ConfigError when the token is missing or a value is malformed.
    """
    pick = _Sources(environ, dotenv_path).pick
    token = (pick(api_token, "PROLIFIC_API_TOKEN") or "").strip()
    if not token:
        raise ConfigError(
            "no API token: set PROLIFIC_API_TOKEN (environment or .env) or pass --token"
        )
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
        connect_timeout=_positive(
            pick(connect_timeout, "ETL_CONNECT_TIMEOUT"),
            "ETL_CONNECT_TIMEOUT",
            DEFAULT_CONNECT_TIMEOUT,
        ),
        read_timeout=_positive(
            pick(read_timeout, "ETL_READ_TIMEOUT"), "ETL_READ_TIMEOUT", DEFAULT_READ_TIMEOUT
        ),
    )


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


class _Sources:
    """Flag, then environment, then ``.env`` in the working directory."""

    def __init__(self, environ: Mapping[str, str] | None, dotenv_path: Path | None) -> None:
        self.environ = os.environ if environ is None else environ
        path = Path(".env") if dotenv_path is None else dotenv_path
        self.dotenv = {k: v for k, v in dotenv_values(path).items() if v is not None}

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
    url = url.set(drivername=drivername)
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


def redact_url(raw: str) -> str:
    try:
        url: URL = make_url(raw)
        url.port  # noqa: B018 - a port that is not a number only fails when read
    except (ArgumentError, ValueError):
        return "<unparseable URL>"
    return url.render_as_string(hide_password=True)


# The user and password of a URL: everything between "//" and the last "@" before the path
# (greedy, so that a password holding a bare "@" is hidden whole).
_USERINFO = re.compile(r"(?i)^((?:[a-z][a-z0-9+.-]*:)?//)?[^/?#]*@")
_USERINFO_OF_HTTP_URLS = re.compile(r"(?i)\b(https?://)[^\s/?#]*@")


def redact_api_url(text: str) -> str:
    """The API URL ``text`` with its user and password shown as ``***``.

    For wherever the URL is printed or stored (only requests need the credentials). Takes a URL
    that does not parse or has no scheme too, and a message, in which each http(s) URL is
    redacted.
    """
    if any(character.isspace() for character in text):
        return _USERINFO_OF_HTTP_URLS.sub(r"\1***@", text)
    return _USERINFO.sub(r"\1***@", text)


def _check_api_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ConfigError(
            f"PROLIFIC_API_URL must start with http:// or https://, got {redact_api_url(raw)!r}"
        )
    return raw.rstrip("/")


def _positive(raw: str | None, name: str, default: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw!r}")
    return value
