"""From a fresh install: the package as a wheel installs it, not as this checkout.

One wheel, installed once with its dependencies (from the configured index, as building it
already needs setuptools from there) into a fresh environment, and run in an empty directory:
the commands, and everything a message or the README names, must be there (issue 23, item 13:
the wheel had no example queries, ID file or unit files, while the demo pointed at them).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import venv
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from etl.resources import IN_CHECKOUT
from etl.store.migrate import head_revision

from conftest import _postgres_database

REPO = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("ETL_TEST_POSTGRES_URL")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    environment: Path
    workdir: Path  # empty but for what the tests write there

    def run(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """``command`` (a shell line, as a user types it) in ``workdir``, with this install's
        prolific-etl first on PATH and none of the developer's settings."""
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PROLIFIC_", "DATABASE_URL", "ETL_", "VIRTUAL_ENV"))
        }
        environment["PATH"] = f"{self.environment / 'bin'}{os.pathsep}/usr/bin:/bin"
        return subprocess.run(
            ["bash", "-c", f"set -o pipefail\n{command}"],
            capture_output=True,
            text=True,
            cwd=self.workdir,
            env=environment,
            timeout=timeout,
        )

    def pip_install(self, *requirements: str) -> None:
        # This environment's pip installs into the new one (no pip of its own to set up).
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", self.environment / "bin" / "python"]
            + ["install", "--quiet", "--disable-pip-version-check", *requirements],
            check=True,
            capture_output=True,
            cwd=self.workdir,
            timeout=600,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    """The wheel built from a copy of this checkout, installed without extras."""
    root = tmp_path_factory.mktemp("install")
    source = root / "checkout"  # pip builds in the source tree; keep that out of the repo
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", root / "dist"]
        + [str(source)],
        check=True,
        capture_output=True,
        cwd=root,
        timeout=600,
    )
    (wheel,) = (root / "dist").glob("prolific_etl-*.whl")
    environment = root / "venv"
    venv.create(environment, with_pip=False)
    workdir = root / "somewhere-else"
    workdir.mkdir()
    result = Installed(wheel, environment, workdir)
    result.pip_install(str(wheel))
    return result


def test_the_wheel_carries_the_example_queries_id_file_and_deploy_files(installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        carried = {
            name: wheel.read(name)
            for name in wheel.namelist()
            if name.startswith("etl/resources/") and not name.endswith(".py")
        }

    expected = {
        f"etl/resources/{name}/{path.name}": path.read_bytes()
        for name, patterns in IN_CHECKOUT.items()
        for pattern in patterns
        for path in REPO.glob(pattern)
    }
    assert carried == expected
    assert len(expected) == 15 + 2 + 3  # queries; ID file and .env.example; units and crontab


@pytest.mark.slow
def test_demo_runs_from_a_fresh_install_in_a_temporary_directory(installed):
    workdir = installed.workdir
    where = installed.run("python -c 'import etl; print(etl.__file__)'")
    assert where.stdout.startswith(str(installed.environment)), where.stderr

    demo = installed.run("prolific-etl demo --database demo.db --batches 7")

    assert demo.returncode == 0, demo.stderr
    assert "Night 1 of 3 (2 days ago): run 1 succeeded" in demo.stdout
    assert "7 inserted" in demo.stdout
    assert f"The batches are in {workdir / 'demo.db'}." in demo.stdout
    with sqlite3.connect(workdir / "demo.db") as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM batches").fetchone()
        (runs,) = connection.execute("SELECT COUNT(*) FROM etl_runs").fetchone()
        (revision,) = connection.execute("SELECT version_num FROM etl_schema_version").fetchone()
    assert (count, runs) == (7 + 2, 3)  # a batch more on each later night
    assert revision == head_revision()
    # Each command the demo prints to read its database works as printed.
    printed = demo.stdout.split("Read them with", 1)[1].split("\n\n", 2)[1].splitlines()
    assert len(printed) == 5 and printed[-1].strip().startswith("prolific-etl db queries")
    for line in printed:
        if "| sqlite3" in line and shutil.which("sqlite3") is None:
            continue
        ran = installed.run(line.strip())
        assert ran.returncode == 0 and ran.stdout.strip(), f"{line}\n{ran.stderr}"
    answered = installed.run(printed[-1].strip()).stdout
    # workspace_id, batches_ready, avg_seconds, ... (the demo's nights are a day apart)
    assert re.match(r"[0-9a-f]{24}\|\d+\|\d+\.\d+\|", answered), answered


@pytest.mark.slow
def test_db_upgrade_and_report_from_a_fresh_install(installed):
    upgraded = installed.run("prolific-etl db upgrade --database-url sqlite:///fresh.db")
    reported = installed.run(
        "prolific-etl report --database-url sqlite:///fresh.db --output fresh.html"
    )

    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == (
        f"sqlite:///fresh.db: created the schema at revision {head_revision()}\n"
    )
    assert reported.returncode == 0, reported.stderr
    assert reported.stdout == "report written to fresh.html\n"
    page = (installed.workdir / "fresh.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page


def test_the_example_files_the_readme_and_docs_name_print_from_a_fresh_install(installed):
    docs = "\n".join(
        path.read_text(encoding="utf-8") for path in [REPO / "README.md", *REPO.glob("docs/*.md")]
    )
    named = set(re.findall(r"prolific-etl (examples|db queries) ([\w.-]+)", docs))
    patterns = {
        "examples": [*IN_CHECKOUT["examples"], *IN_CHECKOUT["deploy"]],
        "db queries": IN_CHECKOUT["queries"],
    }

    assert ("db queries", "time_to_ready") in named
    assert ("examples", "batch_ids.txt") in named and ("examples", "prolific-etl.timer") in named
    assert ("examples", ".env.example") in named
    for command, name in sorted(named):
        printed = installed.run(f"prolific-etl {command} {name}")
        (path,) = [
            path
            for pattern in patterns[command]
            for path in REPO.glob(pattern)
            if name in (path.name, path.stem)
        ]
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout == path.read_text(encoding="utf-8"), name
    listed = installed.run("prolific-etl examples && prolific-etl db queries")
    assert [line.split()[0] for line in listed.stdout.splitlines()] == sorted(
        path.name for pattern in patterns["examples"] for path in REPO.glob(pattern)
    ) + sorted(path.stem for path in (REPO / "sql" / "queries").glob("*.sql"))


def test_the_missing_id_file_message_names_a_command_that_writes_one(installed):
    failed = installed.run(
        "prolific-etl sync --ids missing.txt --token not-a-real-token-5f2c "
        "--api-url http://127.0.0.1:9 --database-url sqlite:///ids.db"
    )
    (command,) = re.findall(r"`(prolific-etl examples [^`]+)`", failed.stderr)
    written = installed.run(command)

    assert failed.returncode == 2
    assert command == "prolific-etl examples batch_ids.txt > batch_ids.txt"
    assert written.returncode == 0, written.stderr
    assert (installed.workdir / "batch_ids.txt").read_text(encoding="utf-8") == (
        REPO / "examples" / "batch_ids.txt"
    ).read_text(encoding="utf-8")


def test_the_check_of_a_bad_setting_names_a_command_that_prints_every_setting(installed):
    checked = installed.run(
        "ETL_READ_TIMEOUT=soon prolific-etl check --token not-a-real-token-5f2c "
        "--api-url http://127.0.0.1:9 --database-url sqlite:///check.db"
    )
    (command,) = re.findall(r"`(prolific-etl examples [^`]+)`", checked.stdout)
    printed = installed.run(command)

    assert "FAILED  configuration  ETL_READ_TIMEOUT must be a number" in checked.stdout
    assert command == "prolific-etl examples .env.example"
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == (REPO / ".env.example").read_text(encoding="utf-8")


@pytest.mark.slow
def test_postgresql_without_then_with_the_extras(installed):
    # Last in this file: it installs the extras into the shared environment.
    url = "postgresql://nobody@127.0.0.1:1/nothing"
    without = installed.run(f"prolific-etl db upgrade --database-url {shlex.quote(url)}")
    assert without.returncode == 2
    assert "install it with pip install 'prolific-etl[postgres]'" in without.stderr

    installed.pip_install(f"prolific-etl[postgres,mysql] @ {installed.wheel.as_uri()}")
    if not POSTGRES_URL:
        found = installed.run("python -c 'import psycopg, pymysql'")
        assert found.returncode == 0, found.stderr
        return
    with contextmanager(_postgres_database)(POSTGRES_URL) as scratch:
        upgraded = installed.run(f"prolific-etl db upgrade --database-url {shlex.quote(scratch)}")
        assert upgraded.returncode == 0, upgraded.stderr
        assert upgraded.stdout.endswith(f"created the schema at revision {head_revision()}\n")


@pytest.mark.slow
def test_the_first_install_prints_no_setuptools_banner(tmp_path):
    # Issue 15: scripts/bootstrap's editable install printed setuptools' "BuildBackendWarning:
    # Editable installation" banner on a newcomer's first run.
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    source = tmp_path / "checkout"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__"),
    )
    # This environment's pip (a current one, as bootstrap installs) installs into the new one.
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", environment / "bin" / "python", "install"]
        + ["--quiet", "--disable-pip-version-check", "--no-deps", "-e", str(source)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    assert installed.returncode == 0, installed.stderr
    assert "Editable installation" not in installed.stderr
    assert "BuildBackendWarning" not in installed.stderr
    imported = subprocess.run(
        [environment / "bin" / "python", "-c", "import etl.cli; print(etl.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": sysconfig.get_paths()["purelib"]},
    )
    assert imported.stdout.strip() == str(source / "etl" / "__init__.py"), imported.stderr


# Issue 23, item 13: the first run was silent for about 50 s while it installed, and a failed
# install showed only pip's raw errors.
def test_the_wrapper_says_it_is_installing_and_what_to_do_when_that_fails(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "prolific-etl", checkout / "prolific-etl")
    shutil.copy2(REPO / "scripts" / "bootstrap", checkout / "scripts" / "bootstrap")
    fake_python = tmp_path / "python3"
    fake_python.write_text("#!/bin/sh\necho 'Error: no venv module here' >&2\nexit 1\n")
    fake_python.chmod(0o755)

    completed = subprocess.run(
        [checkout / "prolific-etl", "--version"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(fake_python)},
        timeout=60,
    )

    venv_dir = checkout / ".venv"
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        f"prolific-etl: installing into {venv_dir} (the first time takes about a minute)...",
        "Error: no venv module here",
        f"prolific-etl: installing into {venv_dir} failed: {fake_python} -m venv could not "
        "create it (its output is above).",
        f"prolific-etl: check that {fake_python} is Python 3.10 or newer with venv (Debian: apt "
        "install python3-venv) and that PyPI, or your pip index, can be reached (HTTPS_PROXY "
        f"for a proxy); then run the command again. Remove {venv_dir} to start over.",
    ]
