"""Every shell example in README.md and docs/*.md runs as written, against the local API.

Issue 15: a newcomer following the docs literally met commands that behaved otherwise. Each
command of each ```sh block (and each Python example that calls the library) runs in order,
in one scratch directory that stands for the checkout: `examples/` and `sql/` are there, the
settings are in its `.env` (the local API's URL and token, the SQLite default database), and
`./prolific-etl` is this installation's command. A real token (`your-token`) becomes the local
API's, its URL in the docs (`http://127.0.0.1:8765`) the local API's, and the install's paths
(`/opt/prolific-etl`, ...) the scratch directory. What cannot run here is listed in SKIPPED,
with the reason; a command expected to fail is listed in EXPECTED, with what it must say.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from etl.imitation.world import SampleWorld

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PROGRAM = Path(sys.executable).with_name("prolific-etl")
TOKEN = "fake-token"
DOCUMENTED_URL = "http://127.0.0.1:8765"

# Commands that cannot run here (matched by how they start), and why.
SKIPPED = {
    "scripts/test": "runs this test suite itself",
    "ETL_TEST_POSTGRES_URL=": "runs this test suite itself",
    "./prolific-etl fake-api": "serves until interrupted; tests/test_local_api.py starts it and "
    "runs the check and sync lines it prints",
    "sudo useradd": "creates a system user (install)",
    "sudo git clone": "clones into /opt (install)",
    "sudo chown": "changes ownership under /opt (install)",
    "sudo -u prolific-etl install -m 600 .env.example .env": "the .env of an install; here the "
    "scratch directory's .env holds the local API's settings",
    "sudo -u prolific-etl ./prolific-etl --version": "creates an install's .venv "
    "(tests/test_install.py installs from scratch)",
    "sudo cp": "installs systemd units (tests/test_deploy_docs.py checks them)",
    "sudo systemctl": "systemd",
    "systemctl": "systemd",
    "sudo install -d": "creates /var/log/prolific-etl for cron, /etc/prolific-etl for systemd",
    "sudo install -m 600 /dev/null /etc/prolific-etl/prolific-api-token": "the token file of "
    "an install, under /etc (tests/test_config.py reads token files)",
    "sudo crontab": "installs a crontab (tests/test_deploy_docs.py checks it)",
    "#!/bin/sh": "mails the report with sendmail",
    "from airflow": "needs Airflow",
    "import pandas as pd": "reads the exports it describes; tests/test_export.py "
    "(test_the_readme_recipe_reads_an_export_back) runs it on them",
}
# Commands that must fail as they do here, and what they must say (stdout and stderr).
EXPECTED = {
    # The docs' run 12 is an example's; here there are fewer, and the message says which.
    "sudo -u prolific-etl ./prolific-etl runs show 12": (
        2,
        "no run 12 recorded in sqlite:///prolific.db (its runs: 1 to ",
    ),
}
# The install's paths, and where they are here (relative to the scratch directory).
PATHS = {"/opt/prolific-etl": ".", "/srv/www": "www", "/var/lib/prolific-etl": "var-lib"}


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    language: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def examples() -> list[Example]:
    """Each command of each ```sh block, and each Python block, in the docs' order."""
    found = []
    for path in DOCS:
        doc = path.relative_to(ROOT).as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        number = 0
        while number < len(lines):
            fence = re.fullmatch(r"(\s*)```(\w*)", lines[number])
            number += 1
            if fence is None:
                continue
            indent, language = fence.groups()
            block = []
            while not lines[number].strip() == "```":
                block.append((number + 1, lines[number].removeprefix(indent)))
                number += 1
            number += 1
            if language == "python":
                found.append(Example(doc, block[0][0], language, "\n".join(t for _, t in block)))
            elif language == "sh":
                found += _commands(doc, block)
    return found


def _commands(doc: str, block: list[tuple[int, str]]) -> list[Example]:
    """The block's commands: a line, with its continuations (a trailing backslash, or a
    quote still open); a block that is a script (#!) is one."""
    if block and block[0][1].startswith("#!"):
        return [Example(doc, block[0][0], "sh", "\n".join(t for _, t in block))]
    commands, pending, start = [], "", 0
    for number, text in block:
        if not pending and (not text.strip() or text.lstrip().startswith("#")):
            continue
        start = start or number
        pending += text + "\n"
        if pending.rstrip().endswith("\\") or not _complete(pending):
            continue
        commands.append(Example(doc, start, "sh", pending.strip()))
        pending, start = "", 0
    assert not pending, f"{doc}:{start}: unfinished command"
    return commands


def _complete(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
    except ValueError:  # a quote still open
        return False
    return True


def skip_reason(example: Example) -> str | None:
    text = example.text.strip()
    return next((why for start, why in SKIPPED.items() if text.startswith(start)), None)


def as_run_here(text: str, api_url: str) -> str:
    text = text.replace("your-token", TOKEN).replace(DOCUMENTED_URL, api_url)
    text = text.replace("sudo -u prolific-etl ", "")
    for install, here in PATHS.items():
        text = text.replace(install, here)
    return text


EXAMPLES = examples()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """The scratch directory the examples run in, and the local API they talk to."""
    directory = tmp_path_factory.mktemp("checkout")
    for name in ("examples", "sql"):
        shutil.copytree(ROOT / name, directory / name)
    for path in PATHS.values():
        (directory / path).mkdir(exist_ok=True)
    wrapper = directory / "prolific-etl"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(str(PROGRAM))} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    with SampleWorld().serve(token=TOKEN) as api:
        (directory / ".env").write_text(
            f"PROLIFIC_API_TOKEN={TOKEN}\nPROLIFIC_API_URL={api.url}\n", encoding="utf-8"
        )
        yield directory, api.url


@pytest.mark.slow
# The examples follow each other (one writes the ID file the next reads): they run in one
# process, in order, when the suite runs in several (scripts/test uses --dist loadfile).
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_the_example_runs_as_documented(example, checkout):
    reason = skip_reason(example)
    if reason is not None:
        pytest.skip(reason)
    directory, api_url = checkout
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PROLIFIC_", "DATABASE_URL", "ETL_"))
    }
    environment["PATH"] = f"{PROGRAM.parent}{os.pathsep}{environment['PATH']}"
    text = as_run_here(example.text, api_url)
    if example.language == "python":
        command = [sys.executable, "-c", text]
    else:
        command = ["bash", "-c", f"set -o pipefail\n{text}"]
    ran = subprocess.run(
        command, cwd=directory, env=environment, capture_output=True, text=True, timeout=120
    )

    output = ran.stdout + ran.stderr
    code, said = next(
        (
            (code, said)
            for start, (code, said) in EXPECTED.items()
            if example.text.startswith(start)
        ),
        (0, None),
    )
    assert ran.returncode == code, f"{example.id}: {text}\n{output}"
    if said is not None:
        assert said in output, output
    if example.language == "python" and "print(result.run_id" in text:
        # The library example prints the run's numbers, and failed as a count (issue 15: the
        # README printed result.failures, a list).
        assert re.fullmatch(r"\d+ succeeded \d+ \d+ 0\n", ran.stdout), ran.stdout


def test_every_skipped_or_expected_command_is_still_in_the_docs():
    texts = [example.text.strip() for example in EXAMPLES]
    for start in (*SKIPPED, *EXPECTED):
        assert any(text.startswith(start) for text in texts), start


def test_the_docs_have_the_examples_a_newcomer_follows():
    texts = [example.text for example in EXAMPLES]

    assert "./prolific-etl demo" in texts
    assert "./prolific-etl runs --database-url sqlite:///prolific-demo.db" in texts
    assert "PROLIFIC_API_TOKEN=your-token ./prolific-etl sync --ids batch_ids.txt" in texts
    assert sum(1 for e in EXAMPLES if skip_reason(e) is None) >= 20
