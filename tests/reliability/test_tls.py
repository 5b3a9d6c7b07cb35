"""TLS: verification on by default, a private CA by argument or ``REQUESTS_CA_BUNDLE``.

A throw-away CA and server certificate are made with the ``openssl`` command line; a small
HTTPS server on 127.0.0.1 answers like RS-Server's ADGS search.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rs_auxip import AuxipClient

from rs_core.errors import ConfigurationError, RsConnectionError
from rs_core.http import HttpSettings

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

KEY = "tls-test-key"
ANSWER = json.dumps({"type": "FeatureCollection", "features": []}).encode()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem, server.pem, server.key (SAN IP:127.0.0.1), and other-ca.pem (an unrelated CA)."""
    d = tmp_path_factory.mktemp("pki")
    for name in ("ca", "other-ca"):
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN=rs-client test {name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.pem",
            cwd=d,
        )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        cwd=d,
    )
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
        "-out",
        "server.pem",
        cwd=d,
    )
    return d


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Failed handshakes are expected here."""


@pytest.fixture(scope="module")
def https_url(pki: Path) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _search(url: str, **settings: Any) -> Any:
    auxip = AuxipClient(url, KEY, "owner", http_settings=HttpSettings(timeout=10, **settings))
    return auxip.search_stations("2024-01-01", "2024-01-02")


def test_verification_is_on_by_default_and_fails_clearly(https_url: str) -> None:
    assert HttpSettings().verify is True
    started = time.monotonic()
    with pytest.raises(RsConnectionError) as raised:
        _search(https_url, retries=3, backoff_factor=1.0)
    assert time.monotonic() - started < 5, "a certificate failure is not retried"
    message = str(raised.value)
    assert "certificate verification failed" in message
    assert "verify=" in message and "REQUESTS_CA_BUNDLE" in message
    assert raised.value.__cause__ is not None and KEY not in message


def test_custom_ca_bundle_succeeds(https_url: str, pki: Path) -> None:
    assert len(_search(https_url, verify=str(pki / "ca.pem"))) == 0


def test_requests_ca_bundle_is_honoured_when_verify_is_true(
    https_url: str, pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki / "ca.pem"))
    assert len(_search(https_url)) == 0


def test_explicit_verify_wins_over_requests_ca_bundle(
    https_url: str, pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki / "other-ca.pem"))
    assert len(_search(https_url, verify=str(pki / "ca.pem"))) == 0
    assert len(_search(https_url, verify=False)) == 0
    with pytest.raises(RsConnectionError, match="certificate verification failed"):
        _search(https_url)  # verify=True: the env's (wrong) CA applies


def test_a_missing_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CA bundle"):
        AuxipClient("https://127.0.0.1:9", KEY, "owner", verify=str(tmp_path / "none.pem"))
