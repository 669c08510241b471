"""The local imitation as a newcomer meets it: the sample world it serves, and `prolific-etl
fake-api`, which says how to point the job at it and can be steered from the command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from etl.cli import fake_api_banner
from etl.imitation.server import (
    FakeProlificAPI,
    batch_generator,
    sample_batches,
    sample_dataset_details,
)
from etl.imitation.world import ID_FILE_BATCHES, SampleWorld, Steering

from support import read_table

PROGRAM = Path(sys.executable).with_name("prolific-etl")
HOSTILE = ("DROP TABLE", "%s", "\\", '"', "🚀", "日本語")
FORWARD = {
    ("UNINITIALISED", "PROCESSING"),
    ("PROCESSING", "READY"),
    ("PROCESSING", "ERROR"),
}


# --- the sample world --------------------------------------------------------------------------


def test_sample_batches_read_like_real_batches():
    names = [batch["name"] for batch in SampleWorld().batches]

    assert len(names) == 50
    for name in names:
        assert not any(mark in name for mark in HOSTILE), name
        assert re.fullmatch(r"[A-Z][\w ,:()&/—-]+ \d+", name), name


def test_the_tests_keep_their_awkward_sample_set():
    names = " ".join(batch["name"] for batch in sample_batches(30, seed=1))

    assert "DROP TABLE" in names and "%s" in names and "🚀" in names


def test_the_first_batches_are_the_same_whatever_the_count():
    start = datetime(2025, 3, 1, 2, 30, tzinfo=timezone.utc)  # not now: a second may tick
    assert SampleWorld(50, start=start).batches[:5] == SampleWorld(5, start=start).batches
    assert SampleWorld(50).id_file_ids()[:ID_FILE_BATCHES] == SampleWorld(5).id_file_ids()[:5]


def test_a_night_moves_statuses_forward_links_and_unlinks_adds_one_and_deletes_one():
    world = SampleWorld(30)
    before = {batch["id"]: batch for batch in world.batches}

    night = world.advance(datetime(2025, 3, 2, 2, 30, tzinfo=timezone.utc))

    after = {batch["id"]: batch for batch in world.batches}
    assert night.moved and {(old, new) for _, old, new in night.moved} <= FORWARD
    for batch_id, old, new in night.moved:
        assert (before[batch_id]["status"], after[batch_id]["status"]) == (old, new)
    unmoved = set(before) - {batch_id for batch_id, _, _ in night.moved} - set(night.deleted)
    assert all(after[b]["status"] == before[b]["status"] for b in unmoved)
    (linked_batch, linked_dataset), (unlinked_batch, unlinked_dataset) = (
        night.linked[0],
        night.unlinked[0],
    )
    assert linked_dataset in {d["id"] for d in after[linked_batch]["datasets"]}
    assert linked_dataset not in {d["id"] for d in before[linked_batch]["datasets"]}
    assert unlinked_dataset not in {d["id"] for d in after[unlinked_batch]["datasets"]}
    (added,) = night.added
    assert after[added]["status"] == "UNINITIALISED"
    assert after[added]["created_at"].startswith("2025-03-0")
    assert night.deleted == [world.doomed] and world.doomed not in after
    assert world.doomed in world.id_file_ids()
    assert world.advance().deleted == []  # deleted once


def test_a_published_night_is_what_the_imitation_serves():
    world = SampleWorld(10)
    with world.serve(token="t") as api:
        world.advance()
        world.publish(api)
        listed = [
            batch["id"]
            for workspace in world.workspaces
            for batch in api.listing(workspace["id"])["results"]
        ]
        assert sorted(listed) == sorted(batch["id"] for batch in world.batches)
        assert get(api.url, f"/api/v1/data-collection/batches/{world.doomed}", "t")[0] == 404


# --- steering a running imitation ----------------------------------------------------------------


def get(base: str, path: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_an_error_rate_of_one_fails_every_request_and_zero_none():
    world = SampleWorld(3)
    batch = world.batches[0]["id"]
    with world.serve(token="t") as api:
        steering = Steering(api, world, error_rate=1.0, error_kinds=["500"])
        api.on_request = steering.on_request
        failing = [get(api.url, f"/api/v1/data-collection/batches/{batch}", "t")[0] for _ in "abc"]
        steering.error_rate = 0.0
        passing = get(api.url, f"/api/v1/data-collection/batches/{batch}", "t")[0]

    assert failing == [500, 500, 500]
    assert passing == 200


# The banner said the job retries every injected error, but `html` answered 200, which the
# job (rightly) does not retry: now `html` is a proxy's 502 page and `html200` the 200 one.
@pytest.mark.parametrize(("kind", "status"), [("html", 502), ("html200", 200)])
def test_an_html_error_page_comes_with_the_status_its_kind_names(kind, status):
    world = SampleWorld(3)
    batch = world.batches[0]["id"]
    with world.serve(token="t") as api:
        api.on_request = Steering(api, world, error_rate=1.0, error_kinds=[kind]).on_request
        answer = get(api.url, f"/api/v1/data-collection/batches/{batch}", "t")

    assert answer == (status, b"<html><body><h1>502 Bad Gateway</h1></body></html>")


def test_nights_pass_every_progression_seconds_as_requests_arrive():
    now = [100.0]
    world = SampleWorld(20)
    with world.serve(token="t") as api:
        steering = Steering(api, world, progression=60, clock=lambda: now[0])
        api.on_request = steering.on_request
        doomed = f"/api/v1/data-collection/batches/{world.doomed}"
        before = get(api.url, doomed, "t")[0]
        now[0] += 150  # two nights and a half
        after = get(api.url, doomed, "t")[0]

    assert (before, after) == (200, 404)
    assert world.nights == 2


# --- prolific-etl fake-api ---------------------------------------------------------------------


@pytest.fixture
def fake_api_process(tmp_path):
    """Start `prolific-etl fake-api` with the given arguments; its output up to "Ctrl-C"."""
    started = []

    def start(*args: str) -> tuple[str, list[str]]:
        process = subprocess.Popen(
            [PROGRAM, "fake-api", *args],
            stdout=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "PROLIFIC_ETL_COMMAND": str(PROGRAM)},
        )
        started.append(process)
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C"):
                break
        return lines[0], lines

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
def test_fake_api_prints_its_token_and_check_and_sync_lines_that_work_as_pasted(
    fake_api_process, tmp_path
):
    url, lines = fake_api_process("--token", "s3cr3t-tok")

    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert "It accepts the token s3cr3t-tok." in lines[1]
    pasted = [line.strip() for line in lines if line.startswith("  PROLIFIC_API_URL=")]
    env = (
        f"PROLIFIC_API_URL={url} PROLIFIC_API_TOKEN=s3cr3t-tok "
        "DATABASE_URL=sqlite:///prolific-fake-api.db"
    )
    assert pasted == [f"{env} {PROGRAM} check", f"{env} {PROGRAM} sync --all-workspaces"]
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    check, synced = (
        subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, cwd=tmp_path, env=environment
        )
        for line in pasted
    )
    assert check.returncode == 0, check.stdout
    assert "ready: every check passed" in check.stdout
    assert synced.returncode == 0, synced.stderr
    database_url = f"sqlite:///{tmp_path / 'prolific-fake-api.db'}"
    world = SampleWorld()
    assert [w["workspace_id"] for w in read_table(database_url, "workspaces")] == sorted(
        w["id"] for w in world.workspaces
    )
    assert [b["batch_id"] for b in read_table(database_url, "batches")] == sorted(
        b["id"] for b in world.batches
    )
    assert not (tmp_path / "prolific.db").exists()


@pytest.mark.slow
def test_fake_api_error_rate_and_kind_from_the_command_line(fake_api_process):
    url, lines = fake_api_process("--error-rate", "1", "--error-kind", "429")
    batch = SampleWorld(1).batches[0]["id"]

    status, body = get(url, f"/api/v1/data-collection/batches/{batch}", "fake-token")

    assert "100% of requests fail (429); the job retries them." in lines
    assert status == 429 and json.loads(body)["error"]["status"] == 429


@pytest.mark.slow
def test_fake_api_status_progression_from_the_command_line(fake_api_process):
    url, lines = fake_api_process("--status-progression", "0.05")
    doomed = f"/api/v1/data-collection/batches/{SampleWorld().doomed}"

    assert any(line.startswith("Every 0.05 seconds a night passes") for line in lines)
    deadline = time.monotonic() + 10
    while get(url, doomed, "fake-token")[0] != 404:  # deleted on the first night
        assert time.monotonic() < deadline, "no night passed"
    workspaces = json.loads(get(url, "/api/v1/workspaces/", "fake-token")[1])["results"]
    assert len(workspaces) == 4


def test_any_other_uuid_is_still_a_made_up_batch():
    world = SampleWorld(2)
    other = "6b9d7c3e-1f0a-4d2b-9e8f-7a6b5c4d3e2f"
    made_up = batch_generator(seed=0)
    with FakeProlificAPI(world.batches, token="t", generate=made_up) as api:
        status, body = get(api.url, f"/api/v1/data-collection/batches/{other}", "t")

    assert status == 200 and json.loads(body) == made_up(other)


# Issue 22: the benchmark's made-up batches listed datasets whose details were all 404.
def test_the_datasets_of_a_made_up_batch_have_details_once_it_was_served():
    other = "6b9d7c3e-1f0a-4d2b-9e8f-7a6b5c4d3e2f"
    made_up = batch_generator(seed=0)
    batch = made_up(other)
    assert batch["datasets"], "pick an id whose made-up batch lists datasets"
    with FakeProlificAPI(token="t", generate=made_up) as api:
        ref = batch["datasets"][0]
        path = f"/api/v1/data-collection/datasets/{ref['id']}"
        before = get(api.url, path, "t")[0]
        api.preload([other])
        status, body = get(api.url, path, "t")

    assert (before, status) == (404, 200)
    assert json.loads(body) == sample_dataset_details(ref, batch["workspace_id"])


def test_a_made_up_batch_the_generator_declines_is_not_found():
    with FakeProlificAPI(token="t", generate=lambda batch_id: None) as api:
        path = "/api/v1/data-collection/batches/6b9d7c3e-1f0a-4d2b-9e8f-7a6b5c4d3e2f"
        status, _ = get(api.url, path, "t")

    assert status == 404


def test_the_banner_says_an_html_page_with_200_is_not_retried():
    lines = fake_api_banner(
        "http://127.0.0.1:8766", "fake-token", SampleWorld(1), error_rate=0.1,
        error_kinds=("503", "html200"),
    )  # fmt: skip

    assert (
        "10% of requests fail (503, html200); the job retries them, but not html200 "
        "(an HTML page with 200: that batch fails)."
    ) in lines
