"""Mutual TLS between lanes and central, for real: a throwaway CA issues central's server
certificate and a lane's client certificate; ``egate central`` serves HTTPS with required
client certificates ([server] tls_cert, tls_key, tls_client_ca) and the lane's client
([central] ca_file, client_cert, client_key) is accepted, a client without a certificate is
refused in the TLS handshake."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError

from central.app import create_app
from central.lanes import LaneRegistration, register_lane
from gate.config import CentralConfig, CentralLink, LaneConfig, ServerConfig, load_central
from gate.outbox.client import CentralClient, CentralUnavailable

REPO = Path(__file__).resolve().parents[2]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer if issuer else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.crt, server.crt/.key (127.0.0.1), lane.crt/.key (issued by ca), rogue.crt/.key
    (self-signed, another CA)."""
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("egate test CA", ca_key, None, ca=True)
    _write(d / "ca", ca, None)
    for name, server in (("server", True), ("lane", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(d / name, _issue(name, key, (ca.subject, ca_key), server=server), key)
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    _write(d / "rogue", _issue("rogue", rogue_key, None), rogue_key)
    return d


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tls_central(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``egate central --config central.toml`` with HTTPS and required client certificates."""
    d = tmp_path_factory.mktemp("tls-central")
    port = _free_port()
    config = d / "central.toml"
    config.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
tls_cert = "{pki / "server.crt"}"
tls_key = "{pki / "server.key"}"
tls_client_ca = "{pki / "ca.crt"}"

[database]
url = "sqlite:///{d / "central.sqlite"}"

[security]
argon2_time_cost = 1
argon2_memory_kib = 8192

[lists]
signing_key_path = "{d / "lists.pem"}"

[retention]
purge_interval_minutes = 0

[logging]
level = "WARNING"
"""
    )
    cfg = load_central(config)
    central = create_app(cfg, background=False).state.central
    token = register_lane(central, LaneRegistration(lane_id="L1"), "test")
    central.db.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGATE_CENTRAL")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gate.cli", "central", "--config", str(config)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"https://127.0.0.1:{port}"
    lane_tls = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    lane_tls.load_cert_chain(str(pki / "lane.crt"), str(pki / "lane.key"))
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                raise RuntimeError(f"central exited: {err}")
            try:
                if httpx.get(url + "/health", verify=lane_tls, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("central did not start")
            time.sleep(0.2)
        yield {"url": url, "port": port, "token": token}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _poll(url: str, token: str, **tls: Any) -> Any:
    async def run() -> Any:
        client = CentralClient(url, "L1", token, timeout=5, **tls)
        try:
            return await client.poll_commands(0)
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_lane_with_its_certificate_is_accepted(pki: Path, tls_central: dict[str, Any]) -> None:
    link = CentralLink(
        url=tls_central["url"],
        token=tls_central["token"],
        ca_file=pki / "ca.crt",
        client_cert=pki / "lane.crt",
        client_key=pki / "lane.key",
    )
    commands = _poll(
        link.url,
        link.token,
        ca_file=link.ca_file,
        client_cert=link.client_cert,
        client_key=link.client_key,
    )
    assert commands == []


def _handshake_refused(pki: Path, port: int, cert: str | None) -> str:
    """Connect with (or without) a client certificate; the refusal as text ("" if none)."""
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if cert is not None:
        context.load_cert_chain(str(pki / f"{cert}.crt"), str(pki / f"{cert}.key"))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            # TLS 1.3: the server checks the client's certificate after the client's last
            # handshake message; its alert arrives with the first read
            tls.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = tls.recv(100)
            if data.startswith(b"HTTP/1.1 200"):
                return ""
            return f"HTTP answer {data!r}" if data else "closed without an answer"
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as exc:
        return str(exc) or type(exc).__name__


def test_client_without_a_certificate_is_refused_in_the_handshake(
    pki: Path, tls_central: dict[str, Any]
) -> None:
    refusal = _handshake_refused(pki, tls_central["port"], None)
    assert refusal and not refusal.startswith("HTTP"), refusal  # no HTTP exchange at all
    assert _handshake_refused(pki, tls_central["port"], "lane") == ""
    # a certificate of another CA is refused as well
    rogue = _handshake_refused(pki, tls_central["port"], "rogue")
    assert rogue and not rogue.startswith("HTTP"), rogue
    # and the lane's client says "unreachable", with the token right
    with pytest.raises(CentralUnavailable):
        _poll(tls_central["url"], tls_central["token"], ca_file=pki / "ca.crt")


def test_tls_settings_are_validated(pki: Path, tmp_path: Path) -> None:
    https = "https://central.example:8600"
    with pytest.raises(ValidationError, match="client_cert and client_key go together"):
        CentralLink(url=https, client_cert=pki / "lane.crt")
    with pytest.raises(ValidationError, match="not a readable file"):
        CentralLink(url=https, ca_file=tmp_path / "missing.pem")
    with pytest.raises(ValidationError, match="need an https:// url"):
        CentralLink(url="http://127.0.0.1:8600", ca_file=pki / "ca.crt")
    with pytest.raises(ValidationError, match="tls_cert and tls_key go together"):
        ServerConfig(tls_cert=pki / "server.crt")
    with pytest.raises(ValidationError, match="needs tls_cert"):
        ServerConfig(tls_client_ca=pki / "ca.crt")
    with pytest.raises(ValidationError, match="not a readable file"):
        ServerConfig(tls_cert=tmp_path / "nope.crt", tls_key=pki / "server.key")
    assert ServerConfig().uvicorn_tls() == {}
    mtls = ServerConfig(
        tls_cert=pki / "server.crt", tls_key=pki / "server.key", tls_client_ca=pki / "ca.crt"
    ).uvicorn_tls()
    assert mtls["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    assert mtls["ssl_ca_certs"] == str(pki / "ca.crt")
    lane = LaneConfig.model_validate(
        {
            "central": {
                "url": https,
                "ca_file": str(pki / "ca.crt"),
                "client_cert": str(pki / "lane.crt"),
                "client_key": str(pki / "lane.key"),
            }
        }
    )
    assert lane.central.client_key == pki / "lane.key"
    assert CentralConfig.model_validate({}).server.tls_client_ca is None
