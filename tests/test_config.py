"""Settings precedence: flag, then environment, then .env."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from etl.cli import main
from etl.config import DEFAULT_API_URL, load_settings, normalize_database_url, redact_api_url
from etl.errors import ConfigError


@pytest.fixture
def dotenv(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        "PROLIFIC_API_TOKEN=from-dotenv\nDATABASE_URL=sqlite:///dotenv.db\n"
        "PROLIFIC_API_URL=http://dotenv.example\n"
    )
    return path


def test_flag_beats_environment_beats_dotenv(dotenv):
    environ = {"PROLIFIC_API_TOKEN": "from-env", "DATABASE_URL": "sqlite:///env.db"}
    settings = load_settings(api_token="from-flag", environ=environ, dotenv_path=dotenv)
    assert settings.api_token == "from-flag"
    assert settings.database_url == "sqlite:///env.db"
    assert settings.api_url == "http://dotenv.example"


def test_dotenv_in_the_working_directory_is_read(dotenv):
    settings = load_settings(environ={})
    assert (settings.api_token, settings.database_url) == ("from-dotenv", "sqlite:///dotenv.db")


def test_defaults():
    settings = load_settings(environ={"PROLIFIC_API_TOKEN": "t"})
    assert settings.api_url == DEFAULT_API_URL
    assert settings.database_url == "sqlite:///prolific.db"
    assert (settings.connect_timeout, settings.read_timeout) == (10.0, 30.0)


@pytest.mark.parametrize("token", [None, "", "   "])
def test_missing_token_is_a_config_error(token):
    environ = {} if token is None else {"PROLIFIC_API_TOKEN": token}
    with pytest.raises(ConfigError, match="no API token"):
        load_settings(environ=environ)


# Issue 15: the library told a Python caller to "pass --token".
def test_a_missing_token_tells_python_and_the_command_each_how_to_give_one():
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, dotenv_path=Path("no-such.env"))
    command = CliRunner().invoke(main, ["sync", "--all-workspaces"], env={})

    where = (
        "no API token: set PROLIFIC_API_TOKEN (or PROLIFIC_API_TOKEN_FILE, naming a file "
        "that holds it) in the environment or in .env in the working "
        "directory"
    )
    assert str(caught.value) == f"{where}, or pass load_settings(api_token=...)"
    assert command.exit_code == 2
    assert command.stderr == (
        f"prolific-etl: error: {where}, or pass --token. To try prolific-etl without a token: "
        "prolific-etl demo, or prolific-etl fake-api\n"
    )


def test_token_never_shows_in_repr():
    settings = load_settings(environ={"PROLIFIC_API_TOKEN": "s3cr3t-token"})
    assert "s3cr3t-token" not in repr(settings)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("mysql://root@h/db", "mysql+pymysql://root@h/db?charset=utf8mb4"),
        ("mariadb://root@h/db", "mariadb+pymysql://root@h/db?charset=utf8mb4"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_get_the_installed_driver(raw, expected):
    assert normalize_database_url(raw) == expected


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"ETL_READ_TIMEOUT": "soon"}, "ETL_READ_TIMEOUT must be a number"),
        ({"ETL_CONNECT_TIMEOUT": "0"}, "ETL_CONNECT_TIMEOUT must be .* greater than 0"),
        ({"PROLIFIC_API_URL": "api.prolific.com"}, "must start with http"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a database URL"),
        ({"DATABASE_URL": "mysql://root@h/db?charset=latin1"}, "needs utf8mb4"),
        ({"PROLIFIC_API_TOKEN": "abc\ndef"}, "line break or other character"),
        ({"PROLIFIC_API_TOKEN": "abc\u200bdef"}, "line break or other character"),
        # Issue 12, finding 10: these were internal errors, tracebacks or silent data loss.
        ({"ETL_CONNECT_TIMEOUT": "nan"}, "ETL_CONNECT_TIMEOUT must be a number of seconds"),
        ({"ETL_READ_TIMEOUT": "inf"}, "ETL_READ_TIMEOUT must be .* at most 3600, got 'inf'"),
        ({"ETL_READ_TIMEOUT": "1e300"}, "ETL_READ_TIMEOUT must be .* at most 3600, got '1e300'"),
        ({"ETL_READ_TIMEOUT": "3600.5"}, "ETL_READ_TIMEOUT must be .* at most 3600"),
        ({"PROLIFIC_API_URL": "http://[::1"}, "PROLIFIC_API_URL is not a valid URL"),
        ({"PROLIFIC_API_URL": "https://h:99999"}, "PROLIFIC_API_URL is not a valid URL"),
        ({"PROLIFIC_API_URL": "https://"}, "PROLIFIC_API_URL names no host"),
        ({"DATABASE_URL": "http://x"}, "DATABASE_URL names an unsupported database 'http'"),
        ({"DATABASE_URL": "oracle://u@h/db"}, "unsupported database 'oracle'"),
        ({"DATABASE_URL": "postgresql+nosuch://u@h/db"}, "driver 'nosuch'"),
        ({"DATABASE_URL": "sqlite://"}, "in-memory SQLite database"),
        ({"DATABASE_URL": "sqlite:///:memory:"}, "in-memory SQLite database"),
        ({"DATABASE_URL": "sqlite:///file:x?mode=memory&uri=true"}, "in-memory SQLite"),
    ],
)
def test_malformed_settings_are_config_errors(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={"PROLIFIC_API_TOKEN": "t", **environ})


# Issue 12, finding 9: credentials in PROLIFIC_API_URL were printed and stored.
@pytest.mark.parametrize(
    "raw, shown",
    [
        ("https://user:pw@api.example/v1", "https://***@api.example/v1"),
        ("https://a-token@api.example", "https://***@api.example"),
        ("http://u:p@ss@h:8080/x?q=a@b", "http://***@h:8080/x?q=a@b"),
        ("http://u:pw@[::1", "http://***@[::1"),
        ("user:pw@api.example", "***@api.example"),
        ("https://api.prolific.com", "https://api.prolific.com"),
        (
            "20 batches in a row could not reach https://u:pw@api.example (last: refused)",
            "20 batches in a row could not reach https://***@api.example (last: refused)",
        ),
        ("ftp://user:pw@api.example", "ftp://***@api.example"),
        ("cannot connect to mysql://etl:***@db/etl", "cannot connect to mysql://etl:***@db/etl"),
    ],
)
def test_redact_api_url_hides_the_user_and_password(raw, shown):
    assert redact_api_url(raw) == shown


def test_api_url_credentials_never_show_in_repr_or_config_errors():
    environ = {"PROLIFIC_API_TOKEN": "t", "PROLIFIC_API_URL": "https://user:s3cret@api.example"}
    settings = load_settings(environ=environ)
    assert settings.api_url == "https://user:s3cret@api.example"  # the client sends them
    assert "api_url='https://***@api.example'" in repr(settings)
    assert "s3cret" not in repr(settings)
    for bad in ("ftp://user:s3cret@api.example", "user:s3cret@api.example"):
        with pytest.raises(ConfigError) as raised:
            load_settings(environ={**environ, "PROLIFIC_API_URL": bad})
        assert "must start with http" in str(raised.value)
        assert "s3cret" not in str(raised.value)


def test_timeouts_up_to_an_hour_are_accepted():
    environ = {"PROLIFIC_API_TOKEN": "t", "ETL_CONNECT_TIMEOUT": "0.5", "ETL_READ_TIMEOUT": "3600"}
    settings = load_settings(environ=environ)
    assert (settings.connect_timeout, settings.read_timeout) == (0.5, 3600.0)


# Issue 23, item 12: a mistyped key was ignored, and the run wrote to the default database.
def test_an_unknown_dotenv_key_is_reported_with_the_closest_setting(tmp_path, caplog):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "PROLIFIC_API_TOKEN=t0ken-123\nDATABSE_URL=sqlite:///x.db\nCOMPOSE_PROJECT=etl\n",
        encoding="utf-8",
    )

    with caplog.at_level(logging.WARNING, logger="etl"):
        settings = load_settings(environ={}, dotenv_path=dotenv)

    assert settings.database_url == "sqlite:///prolific.db"
    assert [record.getMessage() for record in caplog.records] == [
        ".env sets DATABSE_URL, which is not a prolific-etl setting and is ignored; did you "
        "mean DATABASE_URL?",
        ".env sets COMPOSE_PROJECT, which is not a prolific-etl setting and is ignored",
    ]


# Issue 23, item 14: the token could only come from a flag, the environment or .env.
def test_the_token_is_read_from_the_file_a_setting_names(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("t0ken-from-a-file\n", encoding="utf-8")
    token_file.chmod(0o600)

    settings = load_settings(
        environ={"PROLIFIC_API_TOKEN_FILE": str(token_file)}, dotenv_path=tmp_path / "no.env"
    )

    assert settings.api_token == "t0ken-from-a-file"


def test_the_token_is_read_from_systemds_credentials_directory(tmp_path):
    (tmp_path / "prolific-api-token").write_text("t0ken-credential", encoding="utf-8")
    (tmp_path / "prolific-api-token").chmod(0o400)

    settings = load_settings(
        environ={"CREDENTIALS_DIRECTORY": str(tmp_path)}, dotenv_path=tmp_path / "no.env"
    )

    assert settings.api_token == "t0ken-credential"


def test_a_token_given_directly_wins_over_a_file_which_wins_over_credentials(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-the-file", encoding="utf-8")
    token_file.chmod(0o600)
    (tmp_path / "prolific-api-token").write_text("from-credentials", encoding="utf-8")
    (tmp_path / "prolific-api-token").chmod(0o600)
    environ = {"PROLIFIC_API_TOKEN_FILE": str(token_file), "CREDENTIALS_DIRECTORY": str(tmp_path)}
    no_dotenv = tmp_path / "no.env"

    assert load_settings(environ=environ, dotenv_path=no_dotenv).api_token == "from-the-file"
    assert (
        load_settings(
            environ={**environ, "PROLIFIC_API_TOKEN": "from-env"}, dotenv_path=no_dotenv
        ).api_token
        == "from-env"
    )
    assert (
        load_settings(api_token="from-flag", environ=environ, dotenv_path=no_dotenv).api_token
        == "from-flag"
    )
    del environ["PROLIFIC_API_TOKEN_FILE"]
    assert load_settings(environ=environ, dotenv_path=no_dotenv).api_token == "from-credentials"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_token_file_others_may_read_is_refused_naming_the_file_and_the_fix(tmp_path, mode):
    token_file = tmp_path / "token"
    token_file.write_text("t0ken", encoding="utf-8")
    token_file.chmod(mode)
    (tmp_path / "ids.txt").write_text("0b9c5c1e-8f1e-4a4e-9f3a-2d6f0c6b7a11\n", encoding="utf-8")

    result = CliRunner().invoke(
        main,
        ["sync", "--ids", str(tmp_path / "ids.txt")],
        env={"PROLIFIC_API_TOKEN_FILE": str(token_file), "DATABASE_URL": "sqlite:///x.db"},
    )

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"prolific-etl: error: the token file {token_file} can be read by its group or others "
        f"(mode {mode:o}): run `chmod 600 {token_file}`\n"
    )
    assert "t0ken" not in result.output


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read the token file {path}: No such file or directory"),
        ("  \n", "the token file {path} is empty: write the token into it"),
    ],
    ids=["missing", "empty"],
)
def test_a_token_file_that_holds_no_token_is_a_config_error(tmp_path, content, message):
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content, encoding="utf-8")
        path.chmod(0o600)

    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"PROLIFIC_API_TOKEN_FILE": str(path)}, dotenv_path=tmp_path / "e")

    assert str(caught.value) == message.format(path=path)
