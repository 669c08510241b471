"""The shipped systemd units, crontab and docs/operations.md: consistent with each other and
with the command line, so that a renamed flag or a moved path cannot silently break a deployment.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from etl.cli import EXIT_CODES_HELP, main

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
OPERATIONS = ROOT / "docs" / "operations.md"
SHELL_OPERATORS = {"&&", "||", ";", "|", ">", ">>", "<", "&", "2>", ">&"}


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"))
    return parser


def parse_cli(args: list[str]) -> click.Context:
    """Parse ``prolific-etl ARGS`` as click would, without running it; raises click.UsageError."""
    parent = click.Context(main, info_name="prolific-etl")
    command = main.get_command(parent, args[0])
    if command is None:
        raise click.UsageError(f"no such command: {args[0]}")
    return command.make_context(args[0], args[1:], parent=parent)


def crontab_job() -> tuple[list[str], list[str]]:
    """The crontab's one job line: its five schedule fields, and its command as shell tokens."""
    jobs = [
        line
        for line in (DEPLOY / "crontab").read_text(encoding="utf-8").splitlines()
        if line.strip()
        and not line.lstrip().startswith("#")
        and not re.match(r"^[A-Z_]+=", line)  # MAILTO=, PATH=, ...
    ]
    assert len(jobs) == 1, jobs
    fields = jobs[0].split(None, 5)
    return fields[:5], list(shlex.shlex(fields[5], posix=True, punctuation_chars=True))


def wrapper_args(tokens: list[str], wrapper: str) -> list[str]:
    """The arguments after ``wrapper`` in a shell command, up to the first operator."""
    start = tokens.index(wrapper) + 1
    end = next((i for i in range(start, len(tokens)) if tokens[i] in SHELL_OPERATORS), None)
    return tokens[start:end]


def exec_start() -> list[str]:
    return shlex.split(unit("prolific-etl.service")["Service"]["ExecStart"])


def working_directory() -> str:
    return unit("prolific-etl.service")["Service"]["WorkingDirectory"]


def test_exec_start_is_the_wrapper_with_a_valid_sync_command_line():
    executable, *args = exec_start()
    assert executable == f"{working_directory()}/prolific-etl"
    context = parse_cli(args)
    assert context.command.name == "sync"
    assert Path(context.params["ids_path"]).is_absolute()
    assert context.params["ids_path"].startswith(working_directory() + "/")


def test_parse_cli_rejects_what_prolific_etl_would_reject():
    _, *args = exec_start()
    for broken in (args + ["--frobnicate"], ["sink", *args[1:]], args[:1]):
        with pytest.raises(click.UsageError):
            parse_cli(broken)


def test_working_directory_holds_the_env_file():
    service = unit("prolific-etl.service")
    assert service["Service"]["Type"] == "oneshot"
    assert Path(working_directory()).is_absolute()
    env_file = f"{working_directory()}/.env"
    assert service["Unit"]["AssertPathExists"] == env_file
    assert env_file in OPERATIONS.read_text(encoding="utf-8")
    _, tokens = crontab_job()
    assert tokens[:3] == ["cd", working_directory(), "&&"]


def test_service_stops_with_sigterm_before_sigkill():
    service = unit("prolific-etl.service")["Service"]
    assert service.get("KillSignal", "SIGTERM") == "SIGTERM"
    assert service["TimeoutStartSec"] and service["TimeoutStopSec"]


def test_crontab_runs_the_same_command_as_the_service():
    schedule, tokens = crontab_job()
    assert all(re.fullmatch(r"[0-9*/,-]+", field) for field in schedule), schedule
    executable, *args = exec_start()
    assert wrapper_args(tokens, executable) == args
    # timeout's own status (124) would hide the job's 130; --preserve-status passes it on.
    timeout = tokens.index("timeout")
    assert "--preserve-status" in tokens[timeout : tokens.index(executable)]


def test_timer_starts_the_service_at_the_crontab_time():
    timer = unit("prolific-etl.timer")
    assert timer["Timer"]["Unit"] == "prolific-etl.service"
    assert timer["Install"]["WantedBy"] == "timers.target"
    minute, hour, *every_day = crontab_job()[0]
    assert every_day == ["*", "*", "*"]
    assert timer["Timer"]["OnCalendar"] == f"*-*-* {int(hour):02d}:{int(minute):02d}:00"


def test_operations_doc_shows_the_shipped_files_as_they_are():
    doc = OPERATIONS.read_text(encoding="utf-8")
    for name in ("prolific-etl.service", "prolific-etl.timer", "crontab"):
        assert (DEPLOY / name).read_text(encoding="utf-8") in doc, name
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/operations.md)" in readme


def test_every_exit_code_has_a_troubleshooting_section_and_an_alerting_row():
    codes = set(map(int, re.findall(r"^\s+(\d+)\s{2,}\S", EXIT_CODES_HELP, re.MULTILINE)))
    assert codes == {0, 1, 2, 3, 4, 130}
    doc = OPERATIONS.read_text(encoding="utf-8")
    troubleshooting = doc.split("\n## Troubleshooting\n", 1)[1].split("\n## ", 1)[0]
    headings = re.findall(r"^### Exit (\d+)\b", troubleshooting, re.MULTILINE)
    assert sorted(map(int, headings)) == sorted(codes)  # each once, none extra
    alerting = doc.split("\n## Alerting\n", 1)[1].split("\n## ", 1)[0]
    assert set(map(int, re.findall(r"^\| (\d+) \|", alerting, re.MULTILINE))) == codes


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verifies_the_units(tmp_path):
    # verify checks that ExecStart's program exists, so point the paths at a copy of the layout.
    home = tmp_path / "prolific-etl"
    home.mkdir()
    shutil.copy2(ROOT / "prolific-etl", home / "prolific-etl")
    (home / ".env").write_text("")
    for name in ("prolific-etl.service", "prolific-etl.timer"):
        text = (DEPLOY / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace(working_directory(), str(home)))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "./prolific-etl.service", "./prolific-etl.timer"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


# Issue 23, item 13: the doc said both that requests in flight may finish (up to 40 s) and that
# a stop does not wait; Extractor.stop() does not wait for them.
def test_the_doc_says_one_thing_about_requests_in_flight_at_a_stop():
    doc = " ".join(OPERATIONS.read_text(encoding="utf-8").split())
    assert "requests in flight are not waited for" in doc
    assert "allowed to finish" not in doc
