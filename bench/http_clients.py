"""Per-request CPU of the HTTP stacks the job could use, against the local API imitation.

    .venv/bin/python bench/http_clients.py [--requests 5000]

At 0 ms latency the job is CPU-bound and most of its time is the HTTP request (BENCHMARKS.md);
this measures how much of that each stack costs on its own, one request at a time over one
keep-alive connection, next to the imitation's own CPU per request (so that it is clear the
server is not what limits the benchmark). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import urllib3

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from etl.source.client import ProlificClient  # noqa: E402
from etl.source.fake_api import generated_ids  # noqa: E402

TOKEN = "bench-token"
PATH = "/api/v1/data-collection/batches/{}"
HEADERS = {"Authorization": f"Token {TOKEN}", "Accept": "application/json", "User-Agent": "b"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of another process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_socket_client(host: str, port: int) -> Callable[[str], bytes]:
    """The floor: HTTP/1.1 by hand over a socket, no header parsing beyond Content-Length."""
    connection = socket.create_connection((host, port))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = connection.makefile("rb")
    request = "GET {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Token {}\r\n\r\n"

    def get(batch_id: str) -> bytes:
        connection.sendall(request.format(PATH.format(batch_id), host, TOKEN).encode())
        length = 0
        while (line := reader.readline()) != b"\r\n":
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return reader.read(length)

    return get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    ids = generated_ids(args.requests, seed=0)
    with tempfile.TemporaryDirectory() as scratch:
        preload = Path(scratch) / "ids.txt"
        preload.write_text("\n".join(ids) + "\n", encoding="utf-8")
        server = subprocess.Popen(
            [sys.executable, "-m", "etl", "fake-api", "--token", TOKEN, "--preload", preload],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        try:
            base = server.stdout.readline().strip()
            host, port = base.split("//", 1)[1].split(":")
            pool_manager = urllib3.PoolManager(maxsize=1)
            connection_pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=1)
            connection = http.client.HTTPConnection(host, int(port))

            def plain_http_client(batch_id: str) -> bytes:
                connection.request("GET", PATH.format(batch_id), headers=HEADERS)
                return connection.getresponse().read()

            job_client = ProlificClient(base, TOKEN)
            contenders = {
                "the job's ProlificClient (libcurl, with tenacity and error mapping)": (
                    job_client.fetch_batch
                ),
                "urllib3 PoolManager (the job's client until 2026-11-29)": lambda batch_id: (
                    pool_manager.request("GET", base + PATH.format(batch_id), headers=HEADERS).data
                ),
                "urllib3 HTTPConnectionPool": lambda batch_id: (
                    connection_pool.urlopen(
                        "GET", PATH.format(batch_id), headers=HEADERS, retries=False
                    ).data
                ),
                "http.client": plain_http_client,
                "raw socket (floor)": raw_socket_client(host, int(port)),
            }
            print("| client | requests/s | client CPU ms/request | server CPU ms/request |")
            print("|---|---|---|---|")
            for name, get in contenders.items():
                server_before, started, cpu_before = (
                    cpu_seconds(server.pid),
                    time.perf_counter(),
                    time.process_time(),
                )
                for batch_id in ids:
                    get(batch_id)
                wall = time.perf_counter() - started
                client_ms = 1000 * (time.process_time() - cpu_before) / len(ids)
                server_ms = 1000 * (cpu_seconds(server.pid) - server_before) / len(ids)
                print(f"| {name} | {len(ids) / wall:,.0f} | {client_ms:.3f} | {server_ms:.3f} |")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
