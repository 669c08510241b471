"""Reading tables back for assertions, the rows a payload should become, and schema helpers."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

from alembic import command
from sqlalchemy import create_engine, inspect, select

from etl.store.migrate import alembic_config
from etl.store.schema import metadata

BOOKKEEPING = {
    "removed_upstream_at",
    "first_seen_at",
    "last_changed_at",
    "first_seen_run_id",
    "last_changed_run_id",
    "content_hash",
}


def read_table(database_url: str, name: str) -> list[dict[str, Any]]:
    """Every row of table ``name``, ordered by primary key, as dicts (types as the schema gives).

    Only the columns the database has are read, so that a table at an older revision of the
    schema reads too.
    """
    table = metadata.tables[name]
    engine = create_engine(database_url)
    try:
        present = {column["name"] for column in inspect(engine).get_columns(name)}
        with engine.connect() as connection:
            rows = connection.execute(
                select(*[column for column in table.columns if column.name in present]).order_by(
                    *table.primary_key.columns
                )
            )
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def parse_time(value: str) -> datetime:
    """An ISO-8601 timestamp as aware UTC; one without an offset is UTC, as the spec says."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


SPEC_FIELDS = {
    "id",
    "created_at",
    "created_by",
    "datasets",
    "name",
    "status",
    "total_task_count",
    "total_instruction_count",
    "workspace_id",
    "schema_version",
    "task_details",
    "total_task_groups",
    "batch_items",
    "auto_sync_enabled",
}


def expected_batch_row(payload: dict[str, Any]) -> dict[str, Any]:
    """The ``batches`` row (without bookkeeping columns) that a payload must produce."""
    return {
        "batch_id": payload["id"].lower(),
        "name": payload["name"],
        "status": payload["status"],
        "created_at": parse_time(payload["created_at"]),
        "created_by": payload["created_by"],
        "workspace_id": payload["workspace_id"],
        "schema_version": payload["schema_version"],
        "total_task_count": payload["total_task_count"],
        "total_instruction_count": payload["total_instruction_count"],
        "total_task_groups": payload["total_task_groups"],
        "task_name": payload["task_details"]["task_name"],
        "task_introduction": payload["task_details"]["task_introduction"],
        "task_steps": payload["task_details"]["task_steps"],
        "batch_items": payload.get("batch_items"),
        "auto_sync_enabled": payload.get("auto_sync_enabled"),
        "extra_fields": {k: v for k, v in payload.items() if k not in SPEC_FIELDS} or None,
    }


def content_of(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in BOOKKEEPING}


def stored_batches(database_url: str) -> list[dict[str, Any]]:
    """The ``batches`` rows without bookkeeping columns, ordered by batch id."""
    return [content_of(row) for row in read_table(database_url, "batches")]


def expected_batches(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What stored_batches must return once these payloads are loaded."""
    return sorted((expected_batch_row(p) for p in payloads), key=lambda row: row["batch_id"])


def failure_rows(database_url: str) -> list[dict[str, Any]]:
    """``etl_failures`` in the order written, without the id and time a test cannot know."""
    return [
        {key: value for key, value in row.items() if key not in ("failure_id", "occurred_at")}
        for row in read_table(database_url, "etl_failures")
    ]


def expected_datasets(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {}
    for payload in payloads:
        for dataset in payload["datasets"]:
            by_id[dataset["id"]] = {
                "dataset_id": dataset["id"],
                "filename": dataset["filename"],
                "total_datapoint_count": dataset["total_datapoint_count"],
            }
    return [by_id[key] for key in sorted(by_id)]


def expected_links(payloads: list[dict[str, Any]]) -> list[dict[str, str]]:
    return sorted(
        ({"batch_id": p["id"], "dataset_id": d["id"]} for p in payloads for d in p["datasets"]),
        key=lambda link: (link["batch_id"], link["dataset_id"]),
    )


class TcpProxy:
    """A loopback TCP proxy to a database server that a test can cut, like a server going away.

    ``cut()`` closes every open connection and refuses new ones.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        import socket
        import threading

        self._socket_module = socket
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list = []
        self._lock = threading.Lock()
        self._cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._cut:
                    client.close()
                    continue
                upstream = self._socket_module.create_connection(self._target)
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.close()
                except OSError:
                    pass

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            self._listener.close()
            for sock in self._sockets:
                try:
                    sock.shutdown(self._socket_module.SHUT_RDWR)
                    sock.close()
                except OSError:
                    pass


def upgrade_to(database_url: str, revision: str) -> None:
    """Run the migrations up to ``revision`` ('0001', 'head') on the database."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
    engine.dispose()


class ForwardProxy:
    """A plain-HTTP forward proxy (absolute-form requests), recording what it forwards."""

    def __init__(self) -> None:
        import http.client
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        proxy = self
        self.forwarded: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - quiet
                pass

            def do_GET(self):  # noqa: N802 - http.server's naming
                target = urlsplit(self.path)
                proxy.forwarded.append(self.path)
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
                upstream.request("GET", target.path, headers=headers)
                response = upstream.getresponse()
                body = response.read()
                upstream.close()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def expected_response_row(record: dict[str, Any]) -> dict[str, Any]:
    """The ``responses`` row (without bookkeeping) that a response record must produce."""
    return {
        "response_id": record["id"],
        "batch_id": record["batch_id"],
        "task_id": record["task_id"],
        "participant_id": record["participant_id"],
        "submission_id": record.get("submission_id"),
        "correlation_id": record.get("correlation_id"),
        "instruction_id": record["response"]["instruction_id"],
        "response_type": record["response"]["type"],
        "created_at": parse_time(record["created_at"]),
        "schema_version": record.get("schema_version"),
        "no_submission": record.get("no_submission"),
        "metadata": record.get("metadata"),
        "answer": record["response"]["answer"],
    }


def expected_answer_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``response_answers`` rows of a response record, in position order."""
    import json

    def text(value):
        return value if value is None or isinstance(value, str) else json.dumps(value)

    rows = []
    for position, item in enumerate(record["response"]["answer"]):
        fields = item if isinstance(item, dict) else {"value": item}
        value = fields.get("value")
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        size = fields.get("file_size_mb")
        rows.append(
            {
                "response_id": record["id"],
                "position": position,
                "value_text": text(value),
                "value_number": None if number is None else float(number),
                "value_boolean": value if isinstance(value, bool) else None,
                "unit": text(fields.get("unit")),
                "explanation": text(fields.get("explanation")),
                "file_name": text(fields.get("file_name")),
                "file_key": text(fields.get("file_key")),
                "file_size_mb": float(size) if isinstance(size, (int, float)) else None,
                "content_type": text(fields.get("content_type")),
            }
        )
    return rows


RESPONSE_BOOKKEEPING = {
    "content_hash",
    "removed_upstream_at",
    "first_seen_at",
    "last_changed_at",
    "last_changed_run_id",
}
