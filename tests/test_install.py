"""From a fresh install: the package as a wheel installs it, not as this checkout."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from etl.store.migrate import head_revision

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_demo_runs_from_a_fresh_install_in_a_temporary_directory(tmp_path):
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    # Dependencies come from the test environment; prolific-etl itself is built (pip fetches
    # the build backend, as it does for any install) and installed as a regular package.
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site_packages, "test-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    source = tmp_path / "checkout"  # pip builds in the source tree; keep that out of the repo
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", str(source)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    workdir = tmp_path / "somewhere-else"
    workdir.mkdir()
    installed = subprocess.run(
        [python, "-c", "import etl; print(etl.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=workdir,
    ).stdout.strip()
    assert installed.startswith(str(environment)), installed

    demo = subprocess.run(
        [environment / "bin" / "prolific-etl", "demo", "--database", "demo.db", "--batches", "7"],
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=120,
    )

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
