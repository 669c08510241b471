"""The whole run over HTTPS: a certificate nobody vouches for stops it at once, saying how to
trust it, and trusting it through REQUESTS_CA_BUNDLE (environment or .env) makes it work."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from etl.cli import main
from etl.imitation.server import FakeProlificAPI

from conftest import TOKEN
from support import content_of, expected_batch_row, read_table


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prolific-etl test server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def https_api(batches, self_signed):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    with FakeProlificAPI(batches, token=TOKEN, tls=context) as server:
        yield server


def sync_over_https(https_api, database_url: str, ids_file: Path, **environment: str):
    env = {
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": https_api.url,
        "DATABASE_URL": database_url,
        "REQUESTS_CA_BUNDLE": None,
        "CURL_CA_BUNDLE": None,
        "SSL_CERT_FILE": None,
        **environment,
    }
    return CliRunner().invoke(main, ["sync", "--ids", str(ids_file)], env=env)


def test_a_self_signed_certificate_stops_the_run_at_once_saying_how_to_trust_it(
    https_api, sqlite_url, ids_file
):
    started = time.monotonic()
    result = sync_over_https(https_api, sqlite_url, ids_file)
    assert time.monotonic() - started < 15
    assert result.exit_code == 3, result.output
    assert "the TLS certificate of 127.0.0.1 could not be verified" in result.output
    assert "set REQUESTS_CA_BUNDLE to a CA bundle" in result.output
    (run,) = read_table(sqlite_url, "etl_runs")
    assert run["status"] == "failed"
    assert "could not be verified" in run["error_message"]
    assert read_table(sqlite_url, "batches") == [] and https_api.requests == []


def test_trusting_the_certificate_through_requests_ca_bundle_loads_every_batch(
    https_api, database_url, ids_file, batches, self_signed
):
    result = sync_over_https(
        https_api, database_url, ids_file, REQUESTS_CA_BUNDLE=str(self_signed[0])
    )
    assert result.exit_code == 0, result.output
    rows = read_table(database_url, "batches")
    assert [content_of(row) for row in rows] == [
        expected_batch_row(batch) for batch in sorted(batches, key=lambda b: b["id"])
    ]


def test_the_ca_bundle_may_be_set_in_dotenv_like_every_setting(
    https_api, sqlite_url, ids_file, batches, self_signed, tmp_path
):
    (tmp_path / ".env").write_text(f"REQUESTS_CA_BUNDLE={self_signed[0]}\n", encoding="utf-8")
    result = sync_over_https(https_api, sqlite_url, ids_file)
    assert result.exit_code == 0, result.output
    assert len(read_table(sqlite_url, "batches")) == len(batches)
